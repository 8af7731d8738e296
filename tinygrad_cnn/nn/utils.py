"""Helpers on trained modules: folding batch norm into a conv, clipping gradients."""
import math

from .. import autograd, backend, creation
from ..autograd import no_grad
from ..backend import module_of
from ..tensor import Tensor
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


def _with_grads(parameters):
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(array, norm_type):
    """The norm of all elements (as torch.linalg.vector_norm), in float64."""
    xp = module_of(array)
    a = xp.abs(array.astype("float64"))
    if norm_type == math.inf:
        return float(a.max()) if a.size else 0.0
    if norm_type == -math.inf:
        return float(a.min()) if a.size else math.inf
    if norm_type == 0:
        return float((a != 0).sum())
    return float((a ** norm_type).sum()) ** (1.0 / norm_type)


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients in place so that their total norm (the norm of the per-tensor norms) is at
    most ``max_norm``; returns the total norm before clipping as a 0-d tensor, as PyTorch.

    ``parameters``: a tensor or an iterable of them; ``norm_type``: a number, ``inf`` or ``"inf"``.
    """
    grads = _with_grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return creation.tensor(0.0)
    # computed as arrays, told to a recording (tg.compile) so that a replay computes them again
    total, coefficient = (Tensor._from_array(a) for a in autograd.computed(
        _total_norm_and_coefficient, max_norm, norm_type, *[g.array for g in grads]))
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    for g in grads:
        g.mul_(coefficient)
    return total


def _total_norm_and_coefficient(max_norm, norm_type, *arrays):
    """The norm of the arrays' norms (computed in float64) and the factor that scales them to at most
    ``max_norm``, min(max_norm / (total + 1e-6), 1), each as a 0-d array of the arrays' dtype."""
    norms = [_vector_norm(a, norm_type) for a in arrays]
    total = _vector_norm(backend.numpy_module().asarray(norms), norm_type)
    coefficient = min(max_norm / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    xp, dtype = module_of(arrays[0]), arrays[0].dtype
    return xp.asarray(total, dtype), xp.asarray(coefficient, dtype)


@no_grad()
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for g in _with_grads(parameters):
        g.clamp_(-clip_value, clip_value)
