"""Reading one batch, the same way in this process and in a worker process."""
import numpy as np

from ..tensor import Tensor
from .collate import default_collate
from .dataset import TensorDataset

_END = object()


def fetch(dataset, task, collate_fn, auto_collation):
    """One batch: the samples at ``task`` (a list of indices) collated, or one sample converted."""
    if not auto_collation:
        return collate_fn(dataset[task])
    if collate_fn is default_collate and isinstance(dataset, TensorDataset) and dataset.transform is None:
        index = np.asarray(task)  # read each column as one slice: no per-sample Python
        return [Tensor(np.ascontiguousarray(a[index])) for a in dataset.arrays]
    return collate_fn([dataset[i] for i in task])


def next_batch(it, batch_size, drop_last, collate_fn, auto_collation):
    """The next batch of a stream, or None when it is exhausted."""
    if not auto_collation:
        sample = next(it, _END)
        return None if sample is _END else collate_fn(sample)
    samples = []
    for sample in it:
        samples.append(sample)
        if len(samples) == batch_size:
            break
    if not samples or (drop_last and len(samples) < batch_size):
        return None
    return collate_fn(samples)
