"""A restricted unpickler for PyTorch checkpoint files: it rebuilds tensors, storages and plain
containers, and refuses every other global (so a file can never run code while it loads).

Pickle is a small program: a malicious checkpoint asks for ``os.system`` (or any callable) and calls
it. This reader resolves each global the program names against an allowlist of *our own*
stand-ins (``torch._utils._rebuild_tensor_v2`` becomes a function here that records a tensor to
build); anything else stops the load with an error naming the global. BUILD (setting an object's
state) is allowed on OrderedDicts and NumPy dtypes alone.
"""
import _codecs
import _compat_pickle
import collections
import io
import pickle

import numpy as np

from ..backend import Device

# torch's storage classes, by the NumPy dtype of their elements (bfloat16 is read as its bits)
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_, "UntypedStorage": np.uint8,
}
TORCH_DTYPES = {
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16, "int64": np.int64, "long": np.int64, "int32": np.int32,
    "int": np.int32, "int16": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
}


class StorageType:
    """Stands for ``torch.FloatStorage`` & co. in a persistent id: which dtype the storage's bytes hold."""

    def __init__(self, name):
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])
        self.bfloat16 = name == "BFloat16Storage"


class Storage:
    """A storage's elements (filled when its bytes are read) and, for a legacy view, its offset in a root."""

    def __init__(self, kind, numel):
        self.kind, self.numel, self.array, self.root, self.offset = kind, numel, None, None, 0

    def elements(self):
        if self.root is not None:
            return self.root.elements()[self.offset:self.offset + self.numel]
        if self.array is None:
            raise ValueError("load: a tensor's storage was never found in the file; the file is truncated or corrupt")
        return self.array


class PendingTensor:
    """A tensor to build once every storage has been read (legacy files put the bytes after the pickle)."""

    def __init__(self, storage, offset, size, stride, requires_grad, parameter=False):
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)
        self.requires_grad, self.parameter = bool(requires_grad), parameter

    def array(self):
        """The values, copied out of the storage after checking that every element lies inside it."""
        if not isinstance(self.storage, Storage):
            raise ValueError("load: a tensor's storage is not a storage; the file is corrupt")
        elements = self.storage.elements()
        if self.storage.kind.bfloat16:  # bfloat16 is the top half of a float32
            elements = (elements.astype(np.uint32) << 16).view(np.float32)
        if len(self.size) != len(self.stride) or any(d < 0 for d in self.size) or any(s < 0 for s in self.stride):
            raise ValueError(f"load: a tensor has size {self.size} and stride {self.stride}; the file is corrupt")
        if 0 in self.size:
            return np.zeros(self.size, elements.dtype)
        last = self.offset + sum((d - 1) * s for d, s in zip(self.size, self.stride))
        if self.offset < 0 or last >= len(elements):
            raise ValueError(f"load: a tensor of size {self.size} reaches element {last} of a storage of "
                             f"{len(elements)}; the file is truncated or corrupt")
        view = np.lib.stride_tricks.as_strided(elements[self.offset:], self.size,
                                               [s * elements.itemsize for s in self.stride], writeable=False)
        return np.array(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    return PendingTensor(storage, storage_offset, size, stride, requires_grad)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return PendingTensor(storage, storage_offset, size, stride, False)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if not isinstance(data, PendingTensor):
        raise ValueError("load: a parameter's data is not a tensor; the file is corrupt")
    data.parameter, data.requires_grad = True, bool(requires_grad)
    return data


def _encode(text, encoding="latin1"):
    """``_codecs.encode``, which pickle protocol 2 uses to write bytes, for text only."""
    if not isinstance(text, str):
        raise pickle.UnpicklingError("load: _codecs.encode was asked to encode something other than text")
    return _codecs.encode(text, encoding)


def _numpy_scalar(dtype, data):
    if not isinstance(dtype, np.dtype) or not isinstance(data, bytes) or dtype.hasobject:
        raise pickle.UnpicklingError("load: a NumPy scalar with an unexpected dtype or payload")
    return np.frombuffer(data, dtype, count=1)[0]


def _numpy_dtype(name, align=False, copy=False):
    dtype = np.dtype(name)
    if dtype.hasobject:
        raise pickle.UnpicklingError("load: refusing a NumPy object dtype")
    return dtype


ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): tuple,
    ("torch", "device"): Device,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("_codecs", "encode"): _encode,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
}
ALLOWED.update({("torch", name): StorageType(name) for name in STORAGE_DTYPES})
ALLOWED.update({("torch", name): np.dtype(dtype) for name, dtype in TORCH_DTYPES.items()})


class RestrictedUnpickler(pickle._Unpickler):
    """pickle's reader with every global looked up in ``ALLOWED`` and persistent ids turned into Storages
    by ``storage_for(persistent_id)``."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data, storage_for=None):
        super().__init__(io.BytesIO(data) if isinstance(data, bytes) else data)
        self.storage_for = storage_for

    def find_class(self, module, name):
        if self.proto < 3:  # protocol 2 writes Python 2's module names (__builtin__ for builtins)
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(
                f"load: refusing to unpickle the global {module}.{name}: a PyTorch checkpoint is read with an "
                f"allowlist that rebuilds only tensors, storages and plain containers (dict, OrderedDict, list, "
                f"tuple, numbers, strings), since unpickling anything else could run arbitrary code. If the file "
                f"holds a whole pickled model, save its state_dict() with PyTorch and load that instead.")
        return found

    def persistent_load(self, pid):
        if self.storage_for is None or not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            kind = pid[0] if isinstance(pid, tuple) and pid else pid
            raise pickle.UnpicklingError(f"load: refusing the persistent object {kind!r}: only storages are read")
        return self.storage_for(pid)

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, collections.OrderedDict) and isinstance(state, dict):
            for key, value in state.items():  # e.g. a state dict's _metadata
                if isinstance(key, str) and not key.startswith("__"):
                    setattr(inst, key, value)
        elif isinstance(inst, np.dtype) and isinstance(state, tuple):
            inst.__setstate__(state)
        else:
            raise pickle.UnpicklingError(f"load: refusing to set the state of a {type(inst).__name__}: only "
                                         f"OrderedDicts and NumPy dtypes are built from a checkpoint")

    dispatch[pickle.BUILD[0]] = load_build


def restricted_loads(data, storage_for=None):
    """Unpickle ``data`` (bytes or a binary file) with the allowlist."""
    return RestrictedUnpickler(data, storage_for).load()
