"""PyTorch's checkpoint files, read and written without torch and without running pickled code.

``torch.save`` writes a zip archive: ``<name>/data.pkl`` (a pickle of the object whose tensors are
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` calls, each storage a
persistent id ``("storage", torch.FloatStorage, key, location, numel)``), each storage's raw bytes
in ``<name>/data/<key>``, and small records (``version``, ``byteorder``, ...). Files written before
PyTorch 1.6 (the *legacy* format) are a row of pickles instead: a magic number, a protocol
version, system info, the object, the list of storage keys, then each storage's element count
(int64) and bytes. Both are read with the restricted unpickler; ``write`` produces the zip format,
which ``torch.load(weights_only=True)`` reads.
"""
import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

from .. import backend
from ..nn.parameter import Parameter
from ..tensor import Tensor
from .unpickler import PendingTensor, Storage, StorageType, restricted_loads

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
ALIGNMENT = 64  # each record's bytes start at a multiple of this, as torch writes them (for mmap)


# ---- reading --------------------------------------------------------------------------

def is_legacy(head):
    """Whether a file starting with ``head`` is a legacy torch file (a pickle of the magic number first)."""
    return head.startswith(b"\x80\x02\x8a\x0a") and int.from_bytes(head[4:14], "little") == LEGACY_MAGIC


def read_zip(archive, map_location=None):
    """The object in a torch zip checkpoint (a ``zipfile.ZipFile``), tensors as Tensors."""
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pickles:
        raise ValueError("load: the zip archive has no <name>/data.pkl; it is not a PyTorch checkpoint")
    prefix = pickles[0][:-len("data.pkl")]
    storages = {}

    def storage_for(pid):
        _, kind, key, location, numel = _storage_id(pid, 5)
        if key not in storages:
            name = f"{prefix}data/{key}"
            if name not in names:
                raise ValueError(f"load: the checkpoint names storage {key}, which it does not hold")
            storage = Storage(kind, numel)
            storage.array = _elements(archive.read(name), kind, numel, key)
            storages[key] = storage
        return storages[key]

    return materialize(restricted_loads(archive.read(pickles[0]), storage_for), map_location)


def read_legacy(f, map_location=None):
    """The object in a legacy (pre-1.6) torch checkpoint, from a binary file positioned at its start."""
    if restricted_loads(f) != LEGACY_MAGIC:
        raise ValueError("load: invalid magic number; the file is corrupt")
    protocol = restricted_loads(f)
    if protocol != LEGACY_PROTOCOL:
        raise ValueError(f"load: unsupported legacy protocol version {protocol}")
    sys_info = restricted_loads(f)
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise ValueError("load: the file was written on a big-endian machine, which is not supported")
    storages = {}

    def storage_for(pid):
        _, kind, key, location, numel, view = _storage_id(pid, 6)
        root = storages.setdefault(key, Storage(kind, numel))
        if view is None:
            return root
        view_key, offset, view_size = view
        storage = storages.setdefault(view_key, Storage(kind, view_size))
        storage.root, storage.offset = root, int(offset)
        return storage

    obj = restricted_loads(f, storage_for)
    for key in restricted_loads(f):
        if key not in storages:
            raise ValueError(f"load: the file stores bytes for storage {key}, which nothing uses")
        storage = storages[key]
        header = f.read(8)
        if len(header) != 8:
            raise ValueError("load: the file ends before its storages; it is truncated")
        numel = struct.unpack("<q", header)[0]
        storage.array = _elements(f.read(numel * storage.kind.dtype.itemsize), storage.kind, numel, key)
    return materialize(obj, map_location)


def _storage_id(pid, length):
    if len(pid) != length or not isinstance(pid[1], StorageType) or not isinstance(pid[4], int):
        raise ValueError(f"load: a storage reference {pid!r} is malformed; the file is corrupt")
    return pid


def _elements(data, kind, numel, key):
    if len(data) != numel * kind.dtype.itemsize:
        raise ValueError(f"load: storage {key} should hold {numel} {kind.name[:-7].lower()} values "
                         f"({numel * kind.dtype.itemsize} bytes) but has {len(data)} bytes; the file is truncated")
    return np.frombuffer(data, kind.dtype, count=numel)


def materialize(obj, map_location):
    """``obj`` with every PendingTensor replaced by a Tensor (a Parameter where torch saved one)."""
    if isinstance(obj, PendingTensor):
        array = backend.to_device(obj.array(), _device(map_location))
        if obj.parameter:
            return Parameter(array, requires_grad=obj.requires_grad)
        return Tensor(array, requires_grad=obj.requires_grad and backend.is_floating(array.dtype))
    if isinstance(obj, collections.OrderedDict):
        out = collections.OrderedDict((k, materialize(v, map_location)) for k, v in obj.items())
        out.__dict__.update(obj.__dict__)
        return out
    if isinstance(obj, dict):
        return {k: materialize(v, map_location) for k, v in obj.items()}
    if isinstance(obj, list):
        return [materialize(v, map_location) for v in obj]
    if isinstance(obj, tuple):
        return tuple(materialize(v, map_location) for v in obj)
    return obj


def _device(map_location):
    """The device that ``map_location`` names ("cpu", "cuda", a device, or a dict/function: cpu)."""
    if isinstance(map_location, (str, backend.Device)):
        return map_location
    return None


# ---- writing --------------------------------------------------------------------------

class _Global:
    """A global that the pickle must name (``torch._utils._rebuild_tensor_v2``) though torch is not here.
    Pickle wants the function of a reduce to be callable; this one is only ever written, never called."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise RuntimeError(f"{self.module}.{self.name} is written into PyTorch checkpoints, not called")


REBUILD_TENSOR = _Global("torch._utils", "_rebuild_tensor_v2")
REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage",
                 np.dtype(np.int32): "IntStorage", np.dtype(np.int16): "ShortStorage",
                 np.dtype(np.int8): "CharStorage", np.dtype(np.uint8): "ByteStorage",
                 np.dtype(np.bool_): "BoolStorage"}


class _StorageRef:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _TorchPickler(pickle._Pickler):
    """Pickles tensors as torch does: a ``_rebuild_tensor_v2`` call on a storage kept outside the pickle."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file):
        super().__init__(file, protocol=2)
        self.storages = []

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            kind = _Global("torch", STORAGE_NAMES[obj.array.dtype])
            return ("storage", kind, obj.key, "cpu", int(obj.array.size))
        return None

    def reducer_override(self, obj):
        if not isinstance(obj, Tensor):
            return NotImplemented
        if isinstance(obj, Parameter):  # a parameter wraps a plain tensor of the same values
            return (REBUILD_PARAMETER, (Tensor._from_array(obj.array), obj.requires_grad, collections.OrderedDict()))
        array = backend.to_numpy(obj.array)
        if not array.flags.c_contiguous:  # (np.ascontiguousarray would make a 0-d array 1-d)
            array = array.copy()
        if array.dtype not in STORAGE_NAMES:
            raise TypeError(f"save: a tensor of dtype {array.dtype} has no PyTorch storage type")
        storage = _StorageRef(str(len(self.storages)), array)
        self.storages.append(storage)
        stride = tuple(s // array.itemsize for s in array.strides)
        return (REBUILD_TENSOR, (storage, 0, tuple(array.shape), stride, False, collections.OrderedDict()))

    def save_torch_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    dispatch[_Global] = save_torch_global


def _plain(obj):
    """``obj`` with NumPy arrays as Tensors and NumPy numbers as Python numbers; anything else is refused."""
    if isinstance(obj, np.generic):  # (np.float64 is a float too: this comes first)
        return obj.item()
    if isinstance(obj, Tensor) or obj is None or isinstance(obj, (bool, int, float, str, bytes, complex)):
        return obj
    if backend.is_array(obj):
        return Tensor(obj)
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((_plain(k), _plain(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {_plain(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return type(obj)(_plain(v) for v in obj)
    raise TypeError(f"save: cannot store an object of type {type(obj).__name__} in a PyTorch checkpoint (tensors, "
                    "arrays, dicts, lists, tuples, numbers, strings and None can be saved)")


def write(obj, f, name="archive"):
    """Write ``obj`` in torch's zip format to the binary file ``f``."""
    buffer = io.BytesIO()
    pickler = _TorchPickler(buffer)
    pickler.dump(_plain(obj))
    records = [("data.pkl", buffer.getvalue()), (".format_version", b"1"),
               (".storage_alignment", str(ALIGNMENT).encode()), ("byteorder", b"little")]
    records += [(f"data/{s.key}", s.array.tobytes()) for s in pickler.storages]
    serialization_id = f"{int.from_bytes(os.urandom(16), 'big'):040d}".encode()
    records += [("version", b"3\n"), (".data/serialization_id", serialization_id)]
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
        for record, data in records:
            info = zipfile.ZipInfo(f"{name}/{record}", date_time=(1980, 1, 1, 0, 0, 0))
            start = archive.fp.tell() + 30 + len(info.filename.encode("utf-8")) + 4  # after the padding field
            padding = -start % ALIGNMENT
            info.extra = b"FB" + struct.pack("<H", padding) + b"Z" * padding
            archive.writestr(info, data)
