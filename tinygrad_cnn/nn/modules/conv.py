"""Conv2d and ConvTranspose2d."""
import math

from ... import creation
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


class Conv2d(Module):
    """2-d convolution layer; weight (out, in/groups, KH, KW), initialised as PyTorch does."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                             f"divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = F._pair(kernel_size)
        self.stride, self.dilation = F._pair(stride), F._pair(dilation)
        self.padding = padding if isinstance(padding, str) else F._pair(padding)
        self.padding_mode = padding_mode
        self.weight = Parameter(creation.empty(out_channels, in_channels // groups, *self.kernel_size,
                                               device=device, dtype=dtype))
        self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        return _conv_repr(self, [("padding", self.padding, (0, 0)), ("dilation", self.dilation, (1, 1)),
                                 ("groups", self.groups, 1)])


class ConvTranspose2d(Module):
    """2-d transposed convolution layer; weight (in, out/groups, KH, KW), initialised as PyTorch does.

    ``forward(input, output_size=None)``: an ``output_size`` picks the output_padding that reaches it.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                             f"be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = F._pair(kernel_size), F._pair(stride)
        self.padding, self.output_padding = F._pair(padding), F._pair(output_padding)
        self.dilation, self.padding_mode = F._pair(dilation), padding_mode
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= s and op >= d:
                raise ValueError(f"ConvTranspose2d: output_padding {self.output_padding} must be smaller than either "
                                 f"stride {self.stride} or dilation {self.dilation}")
        self.weight = Parameter(creation.empty(in_channels, out_channels // groups, *self.kernel_size,
                                               device=device, dtype=dtype))
        self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype)) if bias else None
        self.reset_parameters()

    reset_parameters = Conv2d.reset_parameters  # the same rule; fan-in is read from weight dim 1

    def forward(self, input, output_size=None):
        output_padding = self.output_padding if output_size is None else self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)

    def _output_padding(self, input, output_size):
        """The output_padding that gives ``output_size`` (its last two values are used), as PyTorch."""
        wanted = tuple(output_size)[-2:]
        if len(wanted) != 2:
            raise ValueError(f"ConvTranspose2d: output_size must have at least 2 values, got {output_size}")
        padding = []
        for i, (size, k, s, p, d) in enumerate(zip(wanted, self.kernel_size, self.stride, self.padding,
                                                   self.dilation)):
            smallest = (input.shape[input.ndim - 2 + i] - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= size < smallest + max(s, d):
                raise ValueError(f"ConvTranspose2d: requested an output size of {tuple(wanted)}, but valid sizes "
                                 f"range from {smallest} to {smallest + max(s, d) - 1} along dim {i} "
                                 f"(for an input of shape {tuple(input.shape)})")
            padding.append(size - smallest)
        return tuple(padding)

    def extra_repr(self):
        return _conv_repr(self, [("padding", self.padding, (0, 0)), ("output_padding", self.output_padding, (0, 0)),
                                 ("dilation", self.dilation, (1, 1)), ("groups", self.groups, 1)])


def _conv_repr(module, options):
    """PyTorch's repr of a conv layer: channels, kernel and stride, then each option not at its default."""
    s = f"{module.in_channels}, {module.out_channels}, kernel_size={module.kernel_size}, stride={module.stride}"
    for name, value, default in options:
        if value != default:
            s += f", {name}={value!r}" if isinstance(value, str) else f", {name}={value}"
    return s + (", bias=False" if module.bias is None else "")
