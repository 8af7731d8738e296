"""Dataset, TensorDataset, Subset and DataLoader (PyTorch's names; batches come out as Tensors)."""
import numpy as np

from .. import backend
from ..tensor import Tensor


class Dataset:
    """Anything with ``__len__`` and ``__getitem__`` returning a tuple of arrays or numbers."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
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

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        items = tuple(a[index] for a in self.arrays)
        if self.transform is not None:
            items = (self.transform(items[0]),) + items[1:]
        return items


class Subset(Dataset):
    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]


class DataLoader:
    """Batches of a dataset as tuples of Tensors.

    With ``shuffle=True`` the order of epoch e is a permutation drawn from ``seed`` and e
    alone (or from ``generator``), so the same seed gives the same batches, and a run
    resumed at epoch e sees what an uninterrupted run would (set ``loader.epoch = e``).
    ``batch_transform`` (optional) is applied to each batch's first array (the images), as
    NumPy, before it becomes a Tensor: the random transforms draw for every sample at once.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, generator=None,
                 device=None, batch_transform=None):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.batch_transform = batch_transform
        self.seed = seed if seed is not None else int(backend.generator().integers(2 ** 31))
        self.generator, self.device, self.epoch = generator, device, 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator if self.generator is not None else np.random.default_rng((self.seed, self.epoch))
        return rng.permutation(n)

    def __iter__(self):
        order = self._order()
        self.epoch += 1
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            if len(index) < self.batch_size and self.drop_last:
                return
            arrays = self._collate(index)
            if self.batch_transform is not None:
                arrays[0] = self.batch_transform(arrays[0])
            yield tuple(Tensor(backend.to_device(np.ascontiguousarray(a), self.device)) for a in arrays)

    def _collate(self, index):
        if isinstance(self.dataset, TensorDataset) and self.dataset.transform is None:
            return [a[index] for a in self.dataset.arrays]
        items = [self.dataset[int(i)] for i in index]
        return [np.stack([np.asarray(item[k]) for item in items]) for k in range(len(items[0]))]
