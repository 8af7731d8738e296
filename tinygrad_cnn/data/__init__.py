"""Datasets and batching: Dataset, TensorDataset, DataLoader, the embedded digits, MNIST and CIFAR-10."""
from . import transforms
from .cifar import CIFAR10
from .dataset import DataLoader, Dataset, Subset, TensorDataset
from .digits import digits
from .download import DownloadError
from .mnist import MNIST, read_idx

__all__ = ["CIFAR10", "DataLoader", "Dataset", "DownloadError", "MNIST", "Subset", "TensorDataset", "digits",
           "read_idx", "transforms"]
