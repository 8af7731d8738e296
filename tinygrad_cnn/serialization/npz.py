"""This library's own format: nested dicts of tensors and numbers as .npz files, with no pickle.

Each tensor becomes one array entry named by its path in the object, so the file reads well
with NumPy alone: ``np.load("model.npz").files`` lists ``conv1.weight, conv1.bias, ...`` for a
state dict, and ``model/conv1.weight``, ``optimizer/state/0/momentum_buffer`` for a checkpoint.
The structure (dicts, lists, numbers, strings) is stored as JSON beside the arrays. Files are
written to a temporary file in the same folder and renamed into place, so a failed save never
leaves a half-written file. ``load`` also reads a plain ``np.savez`` file of arrays (as a dict
of tensors) and refuses files holding pickled objects.
"""
import json
import os
import zipfile

from .. import backend
from ..atomic import atomic_write
from ..tensor import Tensor

_STRUCTURE = "__tinygrad_cnn_structure__"
FORMAT = "tinygrad_cnn-1"


def _encode(obj, arrays, path=()):
    """The JSON structure of ``obj``; its arrays go into ``arrays`` under their path ("model/conv1.weight")."""
    if isinstance(obj, Tensor):
        return {"__tensor__": _store(arrays, path, backend.to_numpy(obj.array))}
    if backend.is_array(obj):
        return {"__array__": _store(arrays, path, backend.to_numpy(obj))}
    if isinstance(obj, dict):
        return {"__dict__": [[_encode(k, arrays, path), _encode(v, arrays, path + (k,))] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, path + (i,)) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, path + (i,)) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item") and getattr(obj, "shape", None) == ():  # a NumPy scalar
        return obj.item()
    raise TypeError(f"save: cannot store an object of type {type(obj).__name__} (tensors, arrays, dicts, lists, "
                    "tuples, numbers, strings and None can be saved)")


def _store(arrays, path, array):
    """Put ``array`` in ``arrays`` under a readable, unique name made from its path."""
    parts = [str(p) if isinstance(p, (str, int)) and not isinstance(p, bool) else "" for p in path]
    name = "/".join(parts) if path and all(parts) else f"array{len(arrays)}"
    while name in arrays or name == _STRUCTURE:
        name += "_"
    arrays[name] = array
    return name


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
    with atomic_write(path, suffix=".npz") as f:
        np.savez(f, **arrays)


def load(file, map_location=None, name=None):
    """Read what ``save`` wrote (a plain ``np.savez`` file of arrays as a dict of tensors, a ``.npy``
    file as one tensor) from a path or binary file; ``map_location`` picks the device of the tensors
    (default cpu)."""
    np = backend.numpy_module()
    path = name or os.fspath(file)
    try:
        data = np.load(file, allow_pickle=False)
        if not hasattr(data, "files"):  # a single .npy array
            return Tensor(backend.to_device(data, map_location))
        with data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except ValueError as error:
        if "Object arrays" in str(error):  # an .npz member that is pickled Python objects
            raise ValueError(f"load: {path} holds pickled Python objects; tinygrad_cnn reads only plain arrays, "
                             "since unpickling can run arbitrary code") from None
        raise ValueError(f"load: {path} is truncated or not an .npz file (neither a zip nor an .npy array; "
                         "tinygrad_cnn never unpickles)") from None
    except (zipfile.BadZipFile, EOFError, OSError, AttributeError) as error:
        raise ValueError(f"load: {path} is truncated or not an .npz file ({error})") from None
    if _STRUCTURE not in arrays:  # a foreign file: its arrays by name
        return {name: Tensor(backend.to_device(array, map_location)) for name, array in arrays.items()}
    structure = json.loads(arrays.pop(_STRUCTURE).tobytes().decode("utf-8"))
    if structure.get("format") != FORMAT:
        raise ValueError(f"load: {path} has format {structure.get('format')!r}, expected {FORMAT!r}")
    return _decode(structure["root"], arrays, map_location)
