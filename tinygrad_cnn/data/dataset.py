"""Datasets (PyTorch's names): Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, random_split."""
import bisect
import math

from .. import backend


class Dataset:
    """Anything with ``__len__`` and ``__getitem__`` returning one sample (a tuple of arrays or numbers)."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples (``__iter__``); with worker processes each worker iterates its own copy, and
    ``get_worker_info()`` tells the dataset which worker it is in, to split the stream as it likes."""

    def __iter__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Rows of equally long arrays (or Tensors); batches are sliced from them directly.

    ``transform`` (optional) is applied to each sample's first array (the image) when it is read.
    """

    def __init__(self, *arrays, transform=None):
        self.arrays = [backend.as_numpy(a) for a in arrays]
        if any(len(a) != len(self.arrays[0]) for a in self.arrays):
            raise ValueError(f"TensorDataset: arrays have different lengths {[len(a) for a in self.arrays]}")
        self.transform = transform

    @property
    def tensors(self):
        """The columns as Tensors (``torch.utils.data.TensorDataset.tensors``)."""
        from ..tensor import Tensor
        return tuple(Tensor(a) for a in self.arrays)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        items = tuple(a[index] for a in self.arrays)
        if self.transform is not None:
            items = (self.transform(items[0]),) + items[1:]
        return items


class Subset(Dataset):
    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, [int(i) for i in indices]

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]


class ConcatDataset(Dataset):
    """Datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping Subsets of the given lengths (or fractions summing to 1,
    the remainder dealt round-robin as PyTorch does), in a random order drawn from ``generator``."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = backend.rng_of(generator).permutation(n).tolist()
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, order[start:start + length]))
        start += length
    return subsets
