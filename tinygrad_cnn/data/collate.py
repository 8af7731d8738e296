"""default_collate: a list of samples into one batch, as PyTorch's (arrays and numbers become Tensors)."""
import collections.abc

import numpy as np

from .. import backend
from ..tensor import Tensor, stack


def default_collate(batch):
    """Stack each field of the samples: Tensors and arrays into one Tensor, ints into int64, floats into
    float64, bools into bool; strings stay a list; dicts, named tuples and sequences are collated field
    by field (a tuple sample gives a list of fields, as in PyTorch)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch)
    if isinstance(elem, np.ndarray) and elem.dtype.kind not in "OSUV":
        return Tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        return Tensor(np.array(batch))
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)) or elem is None:
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


def default_convert(data):
    """Without batching (``batch_size=None``): arrays become Tensors, containers are converted field by field."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OSUV":
        return Tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data


def move_to(data, device):
    """Every Tensor in a collated batch on ``device``."""
    if isinstance(data, Tensor):
        return Tensor(backend.to_device(data.array, device)) if data.device != backend.as_device(device) else data
    if isinstance(data, dict):
        return {k: move_to(v, device) for k, v in data.items()}
    if isinstance(data, list):
        return [move_to(v, device) for v in data]
    if isinstance(data, tuple):
        return type(data)(*(move_to(v, device) for v in data)) if hasattr(data, "_fields") else \
            tuple(move_to(v, device) for v in data)
    return data
