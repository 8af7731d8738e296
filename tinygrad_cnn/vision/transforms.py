"""torchvision.transforms' names and semantics, without PIL.

A *picture* is what torchvision's datasets give before ``ToTensor``: a NumPy uint8 array (H, W) or
(H, W, C), standing where a PIL image stands in torchvision. ``ToTensor`` turns it into a float32
Tensor (C, H, W) in [0, 1]. The geometric transforms take either kind and give back the same kind;
``Normalize`` takes Tensors only, as torchvision's does. Random transforms draw from the generator
``tg.manual_seed`` seeds (in DataLoader workers, each worker's own seed).
"""
import math
import numbers

import numpy as np

from .. import backend
from ..data.transforms import Compose, check_channels_last  # noqa: F401  (Compose: torchvision's name)
from ..nn.functional import linear_interpolation_weights
from ..tensor import Tensor


class Lambda:
    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class ToTensor:
    """A picture (H, W) or (H, W, C) as a float32 Tensor (C, H, W); uint8 values scaled to [0, 1]."""

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            raise TypeError(f"ToTensor: pic should be a picture (an (H, W) or (H, W, C) array), got a Tensor of "
                            f"shape {tuple(pic.shape)}; it is a tensor already, so leave ToTensor out")
        pic = np.asarray(pic)
        if pic.ndim not in (2, 3):
            raise ValueError(f"ToTensor: pic should be 2 or 3 dimensional (H, W) or (H, W, C), got {pic.ndim} "
                             f"dimensions (shape {tuple(pic.shape)})")
        check_channels_last("ToTensor", pic)
        chw = pic[None] if pic.ndim == 2 else np.moveaxis(pic, -1, 0)
        if pic.dtype == np.uint8:
            return Tensor(np.ascontiguousarray(chw, dtype=np.float32) / np.float32(255))
        return Tensor(np.ascontiguousarray(chw))

    def __repr__(self):
        return "ToTensor()"


class PILToTensor:
    """A picture as a Tensor (C, H, W) of the same dtype, not scaled."""

    def __call__(self, pic):
        pic = np.asarray(pic)
        return Tensor(np.ascontiguousarray(pic[None] if pic.ndim == 2 else np.moveaxis(pic, -1, 0)))


class ToPILImage:
    """A Tensor (C, H, W) as a picture: uint8 (H, W, C), or (H, W) for one channel (float values times 255)."""

    def __call__(self, pic):
        chw = backend.as_numpy(pic)
        if chw.ndim == 2:
            chw = chw[None]
        if chw.dtype.kind == "f":
            chw = (chw * 255).astype(np.uint8)
        hwc = np.ascontiguousarray(np.moveaxis(chw, 0, -1))
        return hwc[:, :, 0] if hwc.shape[2] == 1 else hwc


class ConvertImageDtype:
    """A Tensor image to ``dtype``, rescaling between integer [0, max] and float [0, 1] as torchvision does."""

    def __init__(self, dtype):
        self.dtype = backend.dtype(dtype)

    def __call__(self, image):
        a = backend.as_numpy(image)
        if a.dtype.kind == "f" and self.dtype.kind in "iu":
            top = np.iinfo(self.dtype).max
            return Tensor((a * (top + 1.0 - 0.001)).astype(self.dtype))
        if a.dtype.kind in "iu" and self.dtype.kind == "f":
            return Tensor(a.astype(self.dtype) / np.iinfo(a.dtype).max)
        return Tensor(a.astype(self.dtype))


class Normalize:
    """(x - mean) / std per channel, on a float Tensor (C, H, W) or (N, C, H, W)."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: img should be a Tensor (apply ToTensor first), got {type(tensor).__name__}")
        if not backend.is_floating(tensor.dtype):
            raise TypeError(f"Normalize: input tensor should be a float tensor, got {tensor.dtype}")
        a = tensor.detach().numpy()
        mean = np.asarray(self.mean, a.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, a.dtype).reshape(-1, 1, 1)
        if (std == 0).any():
            raise ValueError(f"std evaluated to zero after conversion to {a.dtype}, leading to division by zero.")
        if a.ndim < 3 or (mean.shape[0] not in (1, a.shape[-3])):
            raise ValueError(f"Normalize: expected a (C, H, W) tensor with {mean.shape[0]} channels, got shape "
                             f"{tuple(a.shape)}")
        if self.inplace:
            a -= mean
            a /= std
            return tensor
        return Tensor((a - mean) / std)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


# ---- geometry: each works on channels-first arrays and gives back the kind it was given -----------------

def _channels_first(img):
    """(array (C, H, W) or (N, C, H, W), a function that turns such an array back into img's kind)."""
    if isinstance(img, Tensor):
        return img.detach().numpy(), lambda a: Tensor(np.ascontiguousarray(a))
    a = np.asarray(img)
    if a.ndim == 2:
        return a[None], lambda out: np.ascontiguousarray(out[0])
    if a.ndim == 3:
        return np.moveaxis(a, -1, 0), lambda out: np.ascontiguousarray(np.moveaxis(out, 0, -1))
    raise ValueError(f"expected a picture (H, W) or (H, W, C) or a Tensor (C, H, W), got shape {tuple(a.shape)}")


def _size_pair(size, op):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(f"{op}: size should be an int or a sequence of 1 or 2 ints, got {size}")
    return int(size[0]), int(size[1])


def resample_matrix(n_in, n_out, antialias=True):
    """(n_out, n_in) weights of linear interpolation (half-pixel centres), widened to average every
    input pixel under an output pixel when shrinking with ``antialias`` (PIL's triangle filter)."""
    scale = n_in / n_out
    if not (antialias and scale > 1):  # plain bilinear, as F.interpolate places its samples
        return linear_interpolation_weights(n_in, n_out, scale)
    centers = (np.arange(n_out) + 0.5) * scale  # a triangle as wide as an output pixel over the input
    j = np.arange(n_in) + 0.5
    weights = np.clip(1 - np.abs(j[None, :] - centers[:, None]) / scale, 0, None)
    return weights / weights.sum(1, keepdims=True)


def resize(img, size, antialias=True):
    """``img`` resized to ``size`` = (H, W) with (antialiased) bilinear weights."""
    chw, back = _channels_first(img)
    h, w = chw.shape[-2:]
    rows = resample_matrix(h, size[0], antialias)
    cols = resample_matrix(w, size[1], antialias)
    out = rows @ chw.astype(np.float64) @ cols.T
    if chw.dtype == np.uint8:
        out = np.clip(np.round(out), 0, 255)
    return back(out.astype(chw.dtype))


class Resize:
    """Resize to ``size``: an (H, W) pair, or an int that the shorter side becomes (the aspect ratio kept)."""

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        if interpolation not in ("bilinear", "linear") and str(interpolation).lower().find("bilinear") < 0:
            raise ValueError(f"Resize: only bilinear interpolation is implemented, got {interpolation}")
        self.size, self.max_size, self.antialias = size, max_size, antialias

    def output_size(self, h, w):
        if isinstance(self.size, numbers.Number) or len(self.size) == 1:
            short = int(self.size if isinstance(self.size, numbers.Number) else self.size[0])
            small, large = (h, w) if h <= w else (w, h)
            new_small, new_large = short, int(short * large / small)
            if self.max_size is not None and new_large > self.max_size:
                new_small, new_large = int(self.max_size * new_small / new_large), self.max_size
            return (new_small, new_large) if h <= w else (new_large, new_small)
        return _size_pair(self.size, "Resize")

    def __call__(self, img):
        chw, _ = _channels_first(img)
        return resize(img, self.output_size(*chw.shape[-2:]), self.antialias)


def _crop(img, top, left, height, width):
    chw, back = _channels_first(img)
    return back(chw[..., top:top + height, left:left + width])


class CenterCrop:
    """The central ``size`` window (zero-padded first where the image is smaller)."""

    def __init__(self, size):
        self.size = _size_pair(size, "CenterCrop")

    def __call__(self, img):
        chw, back = _channels_first(img)
        th, tw = self.size
        h, w = chw.shape[-2:]
        if th > h or tw > w:
            pad = [(0, 0)] * (chw.ndim - 2) + [((th - h) // 2 if th > h else 0, (th - h + 1) // 2 if th > h else 0),
                                               ((tw - w) // 2 if tw > w else 0, (tw - w + 1) // 2 if tw > w else 0)]
            chw = np.pad(chw, pad)
            h, w = chw.shape[-2:]
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return back(chw[..., top:top + th, left:left + tw])


def _padding(padding, op):
    """(left, top, right, bottom) from an int, a pair (left/right, top/bottom) or four numbers."""
    if isinstance(padding, numbers.Number):
        return (int(padding),) * 4
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        return padding * 2
    if len(padding) == 4:
        return padding
    raise ValueError(f"{op}: padding must be an int or a 1, 2, or 4 element sequence, got {len(padding)} elements")


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def pad(img, padding, fill=0, padding_mode="constant"):
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"Padding mode should be either constant, edge, reflect or symmetric, got {padding_mode}")
    left, top, right, bottom = _padding(padding, "Pad")
    chw, back = _channels_first(img)
    widths = [(0, 0)] * (chw.ndim - 2) + [(top, bottom), (left, right)]
    extra = {"constant_values": fill} if padding_mode == "constant" else {}
    return back(np.pad(chw, widths, mode=_PAD_MODES[padding_mode], **extra))


class Pad:
    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode
        _padding(padding, "Pad")

    def __call__(self, img):
        return pad(img, self.padding, self.fill, self.padding_mode)


class RandomCrop:
    """A random ``size`` window, after optional ``padding`` (and padding up to ``size`` with ``pad_if_needed``)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _size_pair(size, "RandomCrop")
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = padding, pad_if_needed, fill, padding_mode

    def __call__(self, img):
        if self.padding is not None:
            img = pad(img, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = _channels_first(img)[0].shape[-2:]
        if self.pad_if_needed and (h < th or w < tw):
            img = pad(img, (max(tw - w, 0), max(th - h, 0)), self.fill, self.padding_mode)
            h, w = _channels_first(img)[0].shape[-2:]
        if th > h or tw > w:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        rng = backend.generator()
        top, left = int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1))
        return _crop(img, top, left, th, tw)


class RandomResizedCrop:
    """A random crop of random area (``scale``) and aspect ratio (``ratio``), resized to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation="bilinear",
                 antialias=True):
        self.size = _size_pair(size, "RandomResizedCrop")
        self.scale, self.ratio, self.antialias = scale, ratio, antialias

    def window(self, h, w):
        rng = backend.generator()
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw
        in_ratio = w / h  # fall back to a central crop
        if in_ratio < min(self.ratio):
            cw, ch = w, int(round(w / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            ch, cw = h, int(round(h * max(self.ratio)))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def __call__(self, img):
        h, w = _channels_first(img)[0].shape[-2:]
        return resize(_crop(img, *self.window(h, w)), self.size, self.antialias)


class _RandomFlip:
    """Mirror along one axis with probability ``p``."""

    axis = -1

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if backend.generator().random() >= self.p:
            return img
        chw, back = _channels_first(img)
        return back(np.flip(chw, self.axis))


class RandomHorizontalFlip(_RandomFlip):
    axis = -1


class RandomVerticalFlip(_RandomFlip):
    axis = -2


class Grayscale:
    """Luma (0.299 R + 0.587 G + 0.114 B), as 1 channel or repeated to ``num_output_channels``."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError("num_output_channels should be either 1 or 3")
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        chw, back = _channels_first(img)
        if chw.shape[-3] == 1:
            gray = chw.astype(np.float64)
        else:
            r, g, b = (chw[..., i:i + 1, :, :].astype(np.float64) for i in range(3))
            gray = 0.299 * r + 0.587 * g + 0.114 * b
        if chw.dtype == np.uint8:
            gray = np.clip(np.round(gray), 0, 255)
        out = back(np.repeat(gray.astype(chw.dtype), self.num_output_channels, axis=-3))
        if not isinstance(img, Tensor) and self.num_output_channels == 1:
            return out[..., 0]  # a one-channel picture is (H, W), as PIL's "L" mode
        return out
