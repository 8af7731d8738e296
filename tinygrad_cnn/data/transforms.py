"""Transforms on NumPy image arrays: one image (C, H, W) or a batch (N, C, H, W) alike.

Use them per sample, as a dataset's ``transform`` (``CIFAR10(root, transform=...)``,
``TensorDataset(images, labels, transform=...)``), or per batch, as a DataLoader's
``batch_transform`` (one vectorised call per batch, much faster). The random ones draw
each sample's crop or flip independently, from the generator that ``tg.manual_seed`` seeds,
or from their own when given a ``seed``, so a run is reproducible either way.
"""
import numpy as np

from .. import backend
from ..nn.functional import linear_interpolation_weights


class Compose:
    """Apply the transforms in turn."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, images):
        for t in self.transforms:
            images = t(images)
        return images

    def __repr__(self):
        return "Compose(\n" + "".join(f"    {t}\n" for t in self.transforms) + ")"


class Normalize:
    """(x - mean) / std, with one number for all channels or one per channel (C values)."""

    def __init__(self, mean, std):
        self.mean, self.std = _per_channel(mean), _per_channel(std)

    def __call__(self, images):
        return ((images - self.mean) / self.std).astype(np.float32)


def _per_channel(value):
    """A number, or a sequence of C numbers shaped (C, 1, 1) to broadcast over (..., C, H, W)."""
    if np.ndim(value) == 0:
        return float(value)
    return np.asarray(value, np.float32).reshape(-1, 1, 1)


class ToTensor:
    """An (H, W, C) or (H, W) image, or an (N, H, W, C) batch, as channels-first float32 (C, H, W) /
    (N, C, H, W), uint8 scaled to [0, 1] (torchvision's ToTensor; the DataLoader makes the Tensor)."""

    def __call__(self, images):
        images = np.asarray(images)
        check_channels_last("ToTensor", images)
        scale = 1 / 255 if images.dtype == np.uint8 else 1.0
        if images.ndim == 2:
            images = images[:, :, None]
        if images.ndim not in (3, 4):
            raise ValueError(f"ToTensor: expected an (H, W), (H, W, C) or (N, H, W, C) array, got shape "
                             f"{tuple(images.shape)}")
        return np.ascontiguousarray(np.moveaxis(images, -1, -3), dtype=np.float32) * np.float32(scale)


def check_channels_last(op, image):
    """Refuse a float image that is already channels-first (C, H, W): reading it as (H, W, C) would
    transpose it silently (this library's own datasets give channels-first floats)."""
    if image.dtype.kind == "f" and image.ndim in (3, 4) and image.shape[-3] in (1, 3, 4) \
            and image.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{op}: got a float array of shape {tuple(image.shape)}, which is already channels-first (C, H, W); "
            f"{op} turns (H, W, C) images into (C, H, W). Leave it out for tg.data's datasets, whose images "
            f"are channels-first floats already, or use tinygrad_cnn.vision.datasets, which give (H, W, C) uint8 "
            f"images as torchvision does")


class _Random:
    """A transform that draws random numbers: from its own generator if seeded, else tg's global one."""

    def __init__(self, seed):
        self.generator = None if seed is None else np.random.default_rng(seed)

    def rng(self):
        return self.generator if self.generator is not None else backend.generator()


def _as_batch(images, op):
    """(images as (N, C, H, W), whether they were one (C, H, W) image)."""
    images = np.asarray(images)
    if images.ndim == 3:
        return images[None], True
    if images.ndim == 4:
        return images, False
    raise ValueError(f"{op}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {tuple(images.shape)}")


class RandomCrop(_Random):
    """Pad by ``padding`` (zeros, or ``fill``) and cut a random ``size`` window from each image."""

    def __init__(self, size, padding=None, fill=0, seed=None):
        super().__init__(seed)
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = 0 if padding is None else padding
        self.fill = fill
        if not isinstance(self.padding, int) or self.padding < 0:
            raise ValueError(f"RandomCrop: padding must be a non-negative int, got {padding!r}")

    def __call__(self, images):
        batch, single = _as_batch(images, "RandomCrop")
        p = self.padding
        if p:
            batch = np.pad(batch, [(0, 0), (0, 0), (p, p), (p, p)], constant_values=self.fill)
        n, c, h, w = batch.shape
        (th, tw) = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image size {(h, w)}")
        rng = self.rng()
        top = rng.integers(0, h - th + 1, size=n)
        left = rng.integers(0, w - tw + 1, size=n)
        rows = (top[:, None] + np.arange(th))[:, None, :, None]
        cols = (left[:, None] + np.arange(tw))[:, None, None, :]
        out = batch[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols]
        return out[0] if single else out


class RandomHorizontalFlip(_Random):
    """Mirror each image left to right with probability ``p``."""

    def __init__(self, p=0.5, seed=None):
        super().__init__(seed)
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be between 0 and 1, got {p}")
        self.p = p

    def __call__(self, images):
        batch, single = _as_batch(images, "RandomHorizontalFlip")
        flip = self.rng().random(len(batch)) < self.p
        out = np.where(flip[:, None, None, None], batch[..., ::-1], batch)
        return out[0] if single else out


class Pad:
    """Zero padding of ``padding`` pixels on every side."""

    def __init__(self, padding):
        self.padding = padding

    def __call__(self, images):
        widths = [(0, 0)] * (images.ndim - 2) + [(self.padding, self.padding)] * 2
        return np.pad(images, widths)


class Resize:
    """Bilinear resize to ``size`` (an int or (H, W)), as two small matrix products (F.interpolate's
    weights, align_corners=False)."""

    def __init__(self, size):
        self.size = (size, size) if isinstance(size, int) else tuple(size)

    def __call__(self, images):
        h, w = images.shape[-2:]
        rows = linear_interpolation_weights(h, self.size[0], h / self.size[0]).astype(np.float32)
        cols = linear_interpolation_weights(w, self.size[1], w / self.size[1]).astype(np.float32)
        return (rows @ images.astype(np.float32) @ cols.T).astype(np.float32)
