"""tg.save / tg.load: this library's .npz files (no pickle) and PyTorch's checkpoint files (read
without torch and without running pickled code; written so that ``torch.load`` reads them)."""
import io
import os
import zipfile

from ..atomic import atomic_write
from . import npz, pytorch

TORCH_SUFFIXES = (".pt", ".pth", ".th", ".tar", ".pkl", ".bin")


def save(obj, f, format=None, _use_new_zipfile_serialization=True):
    """Write ``obj`` (a state dict, a checkpoint dict of tensors and numbers) to ``f`` atomically.

    ``format="torch"`` (the default for names ending in .pt, .pth, .th, .tar, .pkl or .bin, and for
    file objects) writes PyTorch's zip format; ``format="npz"`` (the default otherwise) this
    library's .npz, readable with NumPy alone."""
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("save: only PyTorch's zip format is written (_use_new_zipfile_serialization=True)")
    if format is None:
        named = isinstance(f, (str, os.PathLike))
        format = "torch" if not named or os.fspath(f).lower().endswith(TORCH_SUFFIXES) else "npz"
    if format not in ("torch", "npz"):
        raise ValueError(f"save: format must be 'torch' or 'npz', got {format!r}")
    if format == "npz":
        npz.save(obj, f)
        return
    if hasattr(f, "write"):
        pytorch.write(obj, f)
        return
    with atomic_write(f) as out:
        pytorch.write(obj, out)


def load(f, map_location=None, weights_only=None, mmap=None, **pickle_load_args):
    """Read a file that ``save`` wrote, a ``torch.save`` checkpoint (zip or legacy format), a plain
    ``np.savez`` file (a dict of tensors) or an ``.npy`` array. A PyTorch file is read with an
    allowlist (tensors, storages, plain containers), whatever ``weights_only`` says: anything else in
    it is refused with an error naming it. ``map_location`` picks the tensors' device (default cpu)."""
    if hasattr(f, "read"):
        data = f.read()
    else:
        path = os.fspath(f)
        with open(path, "rb") as handle:
            data = handle.read()
    if pytorch.is_legacy(data[:14]):
        return pytorch.read_legacy(io.BytesIO(data), map_location)
    archive = _zip(data)
    if archive is not None and any(n.endswith("data.pkl") for n in archive.namelist()):
        return pytorch.read_zip(archive, map_location)
    return npz.load(io.BytesIO(data), map_location, name=_name(f))


def _zip(data):
    """The zip archive in ``data``, or None (not a zip, or a broken one: npz's reader explains)."""
    try:
        return zipfile.ZipFile(io.BytesIO(data)) if data[:4] == b"PK\x03\x04" else None
    except zipfile.BadZipFile:
        return None


def _name(f):
    return getattr(f, "name", "the file") if hasattr(f, "read") else os.fspath(f)
