"""tg.save / tg.load: nested dicts of tensors and numbers as .npz files, with no pickle.

The structure (dicts, lists, numbers, strings) is stored as JSON beside the arrays; each
tensor becomes one array entry. Files are written to a temporary file in the same folder
and renamed into place, so a failed save never leaves a half-written file.
"""
import json
import os
import tempfile
import zipfile

from . import backend
from .tensor import Tensor

_STRUCTURE = "__tinygrad_cnn_structure__"
FORMAT = "tinygrad_cnn-1"


def _encode(obj, arrays):
    if isinstance(obj, Tensor):
        key = f"t{len(arrays)}"
        arrays[key] = backend.to_numpy(obj.array)
        return {"__tensor__": key}
    if backend.is_array(obj):
        key = f"t{len(arrays)}"
        arrays[key] = backend.to_numpy(obj)
        return {"__array__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item") and getattr(obj, "shape", None) == ():  # a NumPy scalar
        return obj.item()
    raise TypeError(f"save: cannot store an object of type {type(obj).__name__} (tensors, arrays, dicts, lists, "
                    "tuples, numbers, strings and None can be saved)")


def _decode(obj, arrays, device):
    if isinstance(obj, list):
        return [_decode(v, arrays, device) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return Tensor(backend.to_device(arrays[obj["__tensor__"]], device))
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays, device) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {_decode(k, arrays, device): _decode(v, arrays, device) for k, v in obj["__dict__"]}
    return obj


def save(obj, path):
    """Write ``obj`` (e.g. a state dict) to ``path`` atomically."""
    np = backend.numpy_module()
    arrays = {}
    structure = {"format": FORMAT, "root": _encode(obj, arrays)}
    arrays[_STRUCTURE] = np.frombuffer(json.dumps(structure).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path, map_location=None):
    """Read what ``save`` wrote; ``map_location`` picks the device of the tensors (default cpu)."""
    np = backend.numpy_module()
    path = os.fspath(path)
    try:
        data = np.load(path, allow_pickle=False)
        files = getattr(data, "files", None)  # None for a plain .npy array
        arrays = {k: data[k] for k in files} if files is not None and _STRUCTURE in files else None
        if files is not None:
            data.close()
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise ValueError(f"load: {path} is truncated or not an .npz file written by tg.save ({error})") from None
    if arrays is None:
        raise ValueError(f"load: {path} is not a tinygrad_cnn file (no structure record); was it written by tg.save?")
    structure = json.loads(arrays.pop(_STRUCTURE).tobytes().decode("utf-8"))
    if structure.get("format") != FORMAT:
        raise ValueError(f"load: {path} has format {structure.get('format')!r}, expected {FORMAT!r}")
    return _decode(structure["root"], arrays, map_location)
