"""Datasets and batching: Dataset, TensorDataset, DataLoader, the embedded digits and MNIST."""
from . import transforms
from .dataset import DataLoader, Dataset, Subset, TensorDataset
from .digits import digits
from .mnist import MNIST, DownloadError, read_idx

__all__ = ["DataLoader", "Dataset", "DownloadError", "MNIST", "Subset", "TensorDataset", "digits", "read_idx",
           "transforms"]
