"""The embedded handwritten digits (UCI optical digits, 1,797 8x8 images, CC BY 4.0), made LeNet-sized."""
import gzip
import os

import numpy as np

from .dataset import TensorDataset
from .transforms import Compose, Normalize, Pad, Resize

PATH = os.path.join(os.path.dirname(__file__), "digits", "digits.csv.gz")
TEST_SIZE = 360  # the fixed split: a seeded permutation, its last 360 images for testing
SPLIT_SEED = 1797
MEAN, STD = 0.1307, 0.3081  # MNIST's normalisation; the resized digits have about the same statistics

to_lenet_input = Compose([Resize(20), Pad(4), Normalize(MEAN, STD)])


def load_digits_arrays():
    """(images uint8 (1797, 8, 8) in 0..16, labels int64 (1797,))."""
    with gzip.open(PATH, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return table[:, :64].reshape(-1, 8, 8).astype(np.uint8), table[:, 64]


def digits(train=True, size=28):
    """The train (1,437 images) or test (360) split as (N, 1, size, size) float32 images and int64 labels."""
    images, labels = load_digits_arrays()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    chosen = order[:-TEST_SIZE] if train else order[-TEST_SIZE:]
    transform = to_lenet_input if size == 28 else Compose([Resize(size - 8), Pad(4), Normalize(MEAN, STD)])
    x = transform(images[chosen].astype(np.float32) / 16.0)[:, None]
    return TensorDataset(x.astype(np.float32), labels[chosen])
