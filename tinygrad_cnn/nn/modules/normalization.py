"""GroupNorm and LayerNorm: per-sample statistics, the same in training and eval (no running averages)."""
from ... import creation
from .. import functional as F
from ..parameter import Parameter
from .module import Module


class GroupNorm(Module):
    """Normalise (N, C, ...) inputs over groups of C / num_groups channels; gamma and beta per channel."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.has_bias = bias
        self.register_parameter("weight", Parameter(creation.ones(num_channels, device=device, dtype=dtype))
                                if affine else None)
        self.register_parameter("bias", Parameter(creation.zeros(num_channels, device=device, dtype=dtype))
                                if affine and bias else None)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected an input (N, {self.num_channels}, ...), got shape "
                             f"{tuple(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.has_bias}"


class LayerNorm(Module):
    """Normalise over the last dims given by ``normalized_shape``; gamma and beta of that shape."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine, self.has_bias = shape, eps, elementwise_affine, bias
        self.register_parameter("weight", Parameter(creation.ones(*shape, device=device, dtype=dtype))
                                if elementwise_affine else None)
        self.register_parameter("bias", Parameter(creation.zeros(*shape, device=device, dtype=dtype))
                                if elementwise_affine and bias else None)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.has_bias}")
