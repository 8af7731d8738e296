"""CIFAR-10 from the official *binary* archive (no pickle), with a checked, atomic download.

``cifar-10-binary.tar.gz`` holds ``cifar-10-batches-bin/data_batch_1.bin`` ... ``_5.bin`` (train)
and ``test_batch.bin``: records of 3,073 bytes, one label byte (0-9) then a 32x32 image as 1,024
red, 1,024 green and 1,024 blue bytes, row by row. The members are read straight from the
archive by name (nothing is extracted), or from an already extracted ``cifar-10-batches-bin/``.
"""
import os
import tarfile
import urllib.request

import numpy as np

from .dataset import TensorDataset
from .download import download

ARCHIVE = "cifar-10-binary.tar.gz"
MIRRORS = ["https://www.cs.toronto.edu/~kriz/", "https://cave.cs.toronto.edu/kriz/"]
MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # as published on the dataset's page
SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILES = ["test_batch.bin"]
RECORD = 1 + 3 * 32 * 32
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # per channel, over the training set


def download_archive(root, mirrors=MIRRORS, opener=urllib.request.urlopen, timeout=60):
    """Fetch the binary archive into ``root``, verified by MD5 and SHA-256, written atomically."""
    return download(ARCHIVE, root, mirrors, MD5, SHA256, "CIFAR-10", [ARCHIVE], opener, timeout)


def parse_records(data, name):
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) from the bytes of one batch file."""
    if not data or len(data) % RECORD:
        raise ValueError(f"CIFAR-10: {name} has {len(data)} bytes, not a whole number of {RECORD}-byte records; "
                         f"the file is truncated or corrupt")
    records = np.frombuffer(data, np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"CIFAR-10: {name} has a label {int(labels.max())}, but the classes are 0-9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _read_members(root, names):
    """The bytes of each batch file, from the extracted folder or else from the archive."""
    folder = os.path.join(root, FOLDER)
    if all(os.path.exists(os.path.join(folder, n)) for n in names):
        out = []
        for n in names:
            with open(os.path.join(folder, n), "rb") as f:
                out.append(f.read())
        return out
    path = os.path.join(root, ARCHIVE)
    try:
        with tarfile.open(path, "r:gz") as archive:
            return [_member(archive, path, n) for n in names]
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ValueError(f"CIFAR-10: cannot read {path}: {error}") from None


def _member(archive, path, name):
    try:
        member = archive.extractfile(f"{FOLDER}/{name}")
    except KeyError:
        member = None
    if member is None:
        raise ValueError(f"CIFAR-10: {path} has no member {FOLDER}/{name}; is it the binary version?")
    return member.read()


def load_arrays(root, train=True, download=False):
    """The CIFAR-10 train (50,000) or test (10,000) images, uint8 (N, 3, 32, 32), and int64 labels."""
    names = TRAIN_FILES if train else TEST_FILES
    have_folder = all(os.path.exists(os.path.join(root, FOLDER, n)) for n in names)
    if not have_folder and not os.path.exists(os.path.join(root, ARCHIVE)):
        if not download:
            raise FileNotFoundError(f"CIFAR-10: {ARCHIVE} not found in {root}; pass download=True or place the "
                                    f"file there by hand")
        download_archive(root)
    parts = [parse_records(data, name) for data, name in zip(_read_members(root, names), names)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def CIFAR10(root, train=True, download=False, transform=None, normalize=True):
    """The CIFAR-10 train (50,000) or test (10,000) set from ``root`` as a TensorDataset of
    (N, 3, 32, 32) float32 images (scaled to [0, 1], then normalised per channel unless
    ``normalize=False``) and int64 labels; ``transform`` is applied to each image as it is read.
    (``tinygrad_cnn.vision.datasets.CIFAR10`` is torchvision's: uint8 H x W x C images, nothing normalised.)"""
    images, labels = load_arrays(root, train, download)
    images = images.astype(np.float32) / 255.0
    if normalize:
        images = (images - np.reshape(MEAN, (1, 3, 1, 1))) / np.reshape(STD, (1, 3, 1, 1))
    return TensorDataset(images.astype(np.float32), labels, transform=transform)
