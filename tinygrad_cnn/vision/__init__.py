"""torchvision's place: ``import tinygrad_cnn.vision as torchvision`` serves ``torchvision.datasets``
(MNIST, CIFAR10, FakeData), ``torchvision.transforms`` and ``torchvision.utils`` (make_grid, save_image)."""
from . import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils"]
