"""A PNG file from a uint8 array (H, W), (H, W, 3) or (H, W, 4), with zlib alone (no image library)."""
import struct
import zlib

import numpy as np

from ..atomic import atomic_write

_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # grey, RGB, RGBA


def _chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(pixels):
    pixels = np.asarray(pixels, np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, c = pixels.shape
    if c not in _COLOR_TYPES:
        raise ValueError(f"PNG: expected 1, 3 or 4 channels, got {c}")
    rows = np.concatenate([np.zeros((h, 1), np.uint8), pixels.reshape(h, w * c)], axis=1)  # filter 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPES[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + _chunk(b"IEND", b""))


def write_png(path, pixels):
    """Write ``pixels`` as a PNG file at ``path`` (atomically), or into a binary file object."""
    data = encode_png(pixels)
    if hasattr(path, "write"):
        path.write(data)
        return
    with atomic_write(path, suffix=".png") as f:
        f.write(data)
