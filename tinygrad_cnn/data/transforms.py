"""Transforms on image arrays of shape (..., H, W): a whole dataset at once or one image."""
import numpy as np


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, images):
        for t in self.transforms:
            images = t(images)
        return images


class Normalize:
    """(x - mean) / std."""

    def __init__(self, mean, std):
        self.mean, self.std = float(mean), float(std)

    def __call__(self, images):
        return ((images - self.mean) / self.std).astype(np.float32)


class Pad:
    """Zero padding of ``padding`` pixels on every side."""

    def __init__(self, padding):
        self.padding = padding

    def __call__(self, images):
        widths = [(0, 0)] * (images.ndim - 2) + [(self.padding, self.padding)] * 2
        return np.pad(images, widths)


class Resize:
    """Bilinear resize to ``size`` (an int or (H, W)), as two small matrix products."""

    def __init__(self, size):
        self.size = (size, size) if isinstance(size, int) else tuple(size)

    def __call__(self, images):
        rows = _interpolation_matrix(images.shape[-2], self.size[0])
        cols = _interpolation_matrix(images.shape[-1], self.size[1])
        return (rows @ images.astype(np.float32) @ cols.T).astype(np.float32)


def _interpolation_matrix(n_in, n_out):
    """(n_out, n_in) weights of linear interpolation with aligned pixel centres (half-pixel rule)."""
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    centres = np.clip(centres, 0, n_in - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    frac = centres - low
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), low] += 1 - frac
    m[np.arange(n_out), high] += frac
    return m
