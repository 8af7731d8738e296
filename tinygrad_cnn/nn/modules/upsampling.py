"""Upsample: ``F.interpolate`` as a layer."""
from .. import functional as F
from .module import Module


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: exactly one of size or scale_factor should be given")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        factor = self.scale_factor
        factor = tuple(map(float, factor)) if isinstance(factor, (tuple, list)) else float(factor or 0)
        what = f"size={self.size}" if self.size is not None else f"scale_factor={factor}"
        return f"{what}, mode={self.mode!r}"
