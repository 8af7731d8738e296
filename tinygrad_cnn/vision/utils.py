"""torchvision.utils' make_grid and save_image (PNG written with zlib alone)."""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from .png import write_png


def _images(tensor):
    """A list of Tensors or a Tensor (B, C, H, W) / (C, H, W) / (H, W) as a float array (B, C, H, W)."""
    if isinstance(tensor, (list, tuple)):
        batch = np.stack([backend.as_numpy(t) for t in tensor])
    else:
        batch = backend.as_numpy(tensor)
    if batch.ndim == 2:
        batch = batch[None]
    if batch.ndim == 3:
        batch = batch[None] if batch.shape[0] in (1, 3) or not isinstance(tensor, (list, tuple)) else batch[:, None]
    if batch.ndim != 4:
        raise ValueError(f"make_grid: expected images (B, C, H, W), got shape {tuple(batch.shape)}")
    if batch.shape[1] == 1:
        batch = np.repeat(batch, 3, axis=1)
    return batch.astype(np.float32) if batch.dtype.kind != "f" else batch


def _normalize(x, value_range):
    low, high = value_range if value_range is not None else (float(x.min()), float(x.max()))
    return (np.clip(x, low, high) - low) / max(high - low, 1e-5)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """The images laid out ``nrow`` to a row with ``padding`` pixels of ``pad_value`` between them, as
    one Tensor (3, H, W); ``normalize`` maps ``value_range`` (default: min and max) to [0, 1]."""
    batch = _images(tensor).copy()
    if normalize:
        if scale_each:
            batch = np.stack([_normalize(image, value_range) for image in batch])
        else:
            batch = _normalize(batch, value_range)
    if batch.shape[0] == 1:
        return Tensor(np.ascontiguousarray(batch[0]))
    n, c, h, w = batch.shape
    columns = min(nrow, n)
    rows = int(math.ceil(n / columns))
    height, width = h + padding, w + padding
    grid = np.full((c, height * rows + padding, width * columns + padding), pad_value, dtype=batch.dtype)
    for k in range(n):
        y, x = divmod(k, columns)
        grid[:, y * height + padding:(y + 1) * height, x * width + padding:(x + 1) * width] = batch[k]
    return Tensor(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """make_grid(tensor, **kwargs) written as a PNG image (values in [0, 1] become 0-255)."""
    if format is not None and str(format).lower() != "png":
        raise ValueError(f"save_image: only PNG is written (got format={format!r})")
    grid = make_grid(tensor, **kwargs).numpy()
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    write_png(fp, pixels)
