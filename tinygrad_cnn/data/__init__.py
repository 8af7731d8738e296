"""Datasets and batching: PyTorch's Dataset, DataLoader and samplers, the embedded digits, MNIST and CIFAR-10."""
from . import transforms
from .cifar import CIFAR10
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .digits import digits
from .download import DownloadError
from .mnist import MNIST, read_idx
from .sampler import (
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler,
)
from .worker import get_worker_info

__all__ = ["BatchSampler", "CIFAR10", "ConcatDataset", "DataLoader", "Dataset", "DownloadError", "IterableDataset",
           "MNIST", "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "WeightedRandomSampler", "default_collate", "default_convert", "digits",
           "get_worker_info", "random_split", "read_idx", "transforms"]
