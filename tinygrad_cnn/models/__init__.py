"""Ready-made models."""
from .lenet import LeNet5
from .resnet import BasicBlock, ResNet, resnet8, resnet14, resnet20

__all__ = ["BasicBlock", "LeNet5", "ResNet", "resnet8", "resnet14", "resnet20"]
