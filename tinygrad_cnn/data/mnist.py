"""MNIST from the standard IDX files (gzipped or not), with a checked, atomic download."""
import gzip
import os
import urllib.request

import numpy as np

from .dataset import TensorDataset
from .download import download
from .digits import MEAN, STD

MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
FILES = {  # name: (md5, sha256)
    "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                   "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432",
                                   "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3",
                                  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c",
                                  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801


def read_idx(path, expected_magic):
    """An IDX file (gzipped when it ends in .gz) as a uint8 array, checking magic number and size."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"MNIST: cannot read {path}: {error}") from None
    name = os.path.basename(path)
    if len(data) < 8:
        raise ValueError(f"MNIST: {name} is truncated ({len(data)} bytes, not even a header)")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        kind = "image" if expected_magic == IMAGES_MAGIC else "label"
        raise ValueError(f"MNIST: {name} is not an IDX {kind} file (magic number 0x{magic:08x}, expected "
                         f"0x{expected_magic:08x})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"MNIST: {name} is truncated (its header needs {header} bytes, the file has {len(data)})")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"MNIST: {name} has {len(data)} bytes but its header ({'x'.join(map(str, shape))} "
                         f"values) says {expected}; the file is truncated or corrupt")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def _find(root, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(root, name)
        if os.path.exists(path):
            return path
    return None


def download_file(name, root, mirrors=MIRRORS, opener=urllib.request.urlopen, timeout=30):
    """Fetch one MNIST file into ``root``, trying each mirror; verified by MD5 and SHA-256, written atomically."""
    md5, sha256 = FILES[name]
    return download(name, root, mirrors, md5, sha256, "MNIST", list(FILES), opener, timeout)


def load_arrays(root, train=True, download=False):
    """The MNIST train (60,000) or test (10,000) images (N, 28, 28) and labels (N,) as uint8 arrays,
    from ``root`` (or torchvision's ``root/MNIST/raw``)."""
    prefix = "train" if train else "t10k"
    folders = [root, os.path.join(root, "MNIST", "raw")]
    paths = []
    for kind, magic in (("images-idx3-ubyte", IMAGES_MAGIC), ("labels-idx1-ubyte", LABELS_MAGIC)):
        stem = f"{prefix}-{kind}"
        path = next((p for p in (_find(folder, stem) for folder in folders) if p is not None), None)
        if path is None:
            if not download:
                raise FileNotFoundError(f"MNIST: {stem}.gz not found in {root}; pass download=True or place the "
                                        f"IDX files there by hand")
            path = download_file(stem + ".gz", root)
        paths.append((path, magic))
    images = read_idx(*paths[0])
    labels = read_idx(*paths[1])
    if len(images) != len(labels):
        raise ValueError(f"MNIST: {len(images)} images but {len(labels)} labels in {root}")
    return images, labels


def MNIST(root, train=True, download=False, normalize=True):
    """The MNIST train (60,000) or test (10,000) set from ``root`` as a TensorDataset of
    (N, 1, 28, 28) float32 images (normalised with mean 0.1307, std 0.3081) and int64 labels.
    (``tinygrad_cnn.vision.datasets.MNIST`` is torchvision's: uint8 images and a ``transform``.)"""
    images, labels = load_arrays(root, train, download)
    x = images[:, None].astype(np.float32) / 255.0
    if normalize:
        x = (x - MEAN) / STD
    return TensorDataset(x.astype(np.float32), labels.astype(np.int64))
