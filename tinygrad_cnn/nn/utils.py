"""Helpers on trained modules: folding batch norm into a conv, clipping gradients."""
import math

from ..autograd import no_grad
from .modules.conv import Conv2d
from .parameter import Parameter


@no_grad()
def fuse_conv_bn(conv, bn):
    """A new Conv2d computing ``bn(conv(x))`` of an eval-mode BatchNorm2d in one convolution.

    With s = gamma / sqrt(running_var + eps):  W' = W * s (per output channel),
    b' = (b - running_mean) * s + beta.
    """
    if bn.training:
        raise ValueError("fuse_conv_bn: the batch norm must be in eval mode (call .eval()): in training it uses "
                         "batch statistics, which cannot be folded into weights")
    if bn.num_features != conv.out_channels:
        raise ValueError(f"fuse_conv_bn: batch norm has {bn.num_features} channels but the conv has "
                         f"{conv.out_channels} outputs")
    fused = Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                   conv.dilation, conv.groups, bias=True)
    scale = (bn.running_var + bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight
    bias = conv.bias if conv.bias is not None else bn.running_mean * 0.0
    shift = (bias - bn.running_mean) * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    fused.weight = Parameter(conv.weight * scale.reshape(-1, 1, 1, 1))
    fused.bias = Parameter(shift)
    return fused.to(device=conv.weight.device)


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale gradients in place so their total norm is at most ``max_norm``; returns the norm before."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(g.abs().amax().item()) for g in grads)
    else:
        total = sum(float((g.abs() ** norm_type).sum().item()) for g in grads) ** (1.0 / norm_type)
    factor = max_norm / (total + 1e-6)
    if factor < 1:
        for g in grads:
            g.mul_(factor)
    return total
