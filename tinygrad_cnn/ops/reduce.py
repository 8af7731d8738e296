"""Reductions: sum, mean, var, max along a dim (values and indices), amax (ties share)."""
import math
import operator

from ..autograd import Function, computed, is_grad_enabled
from ..backend import is_launch_bound, module_of, quiet_numpy
from ..tensor import Tensor, where


def unbroadcast(grad, shape, dtype):
    """Reduce a gradient that was broadcast back to ``shape`` (one sum) and ``dtype``."""
    if grad.array.shape != shape:
        lead = grad.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
        )
        grad = grad.sum(dim=axes, keepdim=True) if axes else grad
        if grad.shape != shape:
            grad = grad.reshape(shape)
    if grad.array.dtype != dtype:
        grad = grad.to(dtype)
    return grad


def _kept_shape(shape, dims):
    """The shape a reduction over ``dims`` has with keepdim=True."""
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum over dims of x;  dx = g broadcast back over the summed dims."""

    kind = "reduce"

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        return _sum(x, self.dims, self.keepdim)

    def backward(self, g):
        return (g.reshape(_kept_shape(self.in_shape, self.dims)).expand(self.in_shape),)


class Mean(Function):
    """y = sum(x) / n over dims;  dx = g / n broadcast back."""

    kind = "reduce"

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        self.count = _count(x.shape, self.dims)
        return _sum(x, self.dims, self.keepdim) / x.dtype.type(self.count)

    def backward(self, g):
        return ((g / self.count).reshape(_kept_shape(self.in_shape, self.dims)).expand(self.in_shape),)


class Var(Function):
    """y = sum((x - mean)^2) / (n - correction);  dx = g * 2 (x - mean) / (n - correction)."""

    kind = "reduce"

    def __init__(self, dims, correction, keepdim):
        self.dims, self.correction, self.keepdim = dims, correction, keepdim

    def forward(self, x):
        mean = _sum(x, self.dims, True) / x.dtype.type(_count(x.shape, self.dims))
        self.saved = (x, mean)
        self.in_shape = x.shape
        self.divisor = _count(x.shape, self.dims) - self.correction
        centered = x - mean
        centered *= centered
        return _sum(centered, self.dims, self.keepdim) / x.dtype.type(self.divisor)

    def backward(self, g):
        x, mean = self.saved_arrays()
        x = self.as_input(0, x)
        # building a graph (create_graph), the mean must be recomputed from x to be differentiated too
        mean = x.mean(dim=self.dims, keepdim=True) if is_grad_enabled() else Tensor._from_array(mean)
        centered = x - mean
        scale = 2.0 / self.divisor if self.divisor else float("nan")  # no degrees of freedom: NaN, as PyTorch
        g = g.reshape(_kept_shape(self.in_shape, self.dims)) * scale  # scale g while it is small
        return (g * centered,)


class MaxDim(Function):
    """values = max of x along ``dim``, indices = the first index that holds it.

    Tie rule (as PyTorch's ``max(dim)`` and ``max_pool2d``): the whole gradient goes to
    the one index returned, the first maximal element.
    """

    kind = "reduce"

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        xp = module_of(x)
        if x.shape[self.dim] <= 16 and not is_launch_bound(x):  # a pooling window: on the CPU a running max
            # over its slices beats argmax, which copies the axis to the end
            values, kept = _first_max(x, self.dim, xp)
        else:
            values = x.max(axis=self.dim, keepdims=True)
            kept = xp.expand_dims(x.argmax(axis=self.dim), self.dim)
        self.kept_indices, self.in_shape = kept, x.shape
        self.indices = kept if self.keepdim else kept.squeeze(self.dim)
        return values if self.keepdim else values.squeeze(self.dim)

    def backward(self, g):
        xp = module_of(self.kept_indices)
        positions = xp.arange(self.in_shape[self.dim], dtype=self.kept_indices.dtype).reshape(
            [-1 if i == self.dim else 1 for i in range(len(self.in_shape))]
        )  # of the indices' type: comparing uint8 indices with int64 positions casts (14x slower)
        chosen = computed(operator.eq, positions, self.kept_indices)  # one True per reduced row
        g = g.reshape(_kept_shape(self.in_shape, (self.dim,)))
        return (where(chosen, g, 0.0),)  # exactly 0 elsewhere, also where g is inf or NaN (as PyTorch)


class AMax(Function):
    """y = max of x over dims.  Tie rule (as PyTorch's ``amax`` and full ``max()``):
    the gradient is split evenly among all elements equal to the maximum. PyTorch's ``amax`` multiplies
    the gradient by that share (an inf gradient gives NaN off the maximum); its full ``max()`` gives exactly
    0 there, and a NaN maximum's gradient to the NaNs: ``zero_elsewhere=True``."""

    kind = "reduce"

    def __init__(self, dims, keepdim, zero_elsewhere=False):
        self.dims, self.keepdim, self.zero_elsewhere = dims, keepdim, zero_elsewhere

    def forward(self, x):
        kept = x.max(axis=self.dims, keepdims=True)
        self.saved = (x, kept)
        self.in_shape = x.shape
        return kept if self.keepdim else kept.reshape([n for i, n in enumerate(x.shape) if i not in self.dims])

    def backward(self, g):
        x, kept = self.saved_arrays()
        self.check_version(0, x)
        self.check_version(None, kept)  # the maxima are the output
        ties, share = computed(_tie_shares, x, kept, self.dims, self.zero_elsewhere, g.dtype)
        g = g.reshape(_kept_shape(self.in_shape, self.dims)) * Tensor._from_array(share)
        return (where(ties, g, 0.0) if self.zero_elsewhere else g,)


def _tie_shares(x, kept, dims, zero_elsewhere, dtype):
    """(where x holds its maximum, each such element's share of the gradient: 1 / the number of ties)."""
    ties = x == kept
    if zero_elsewhere:
        xp = module_of(x)
        ties = xp.where(xp.isnan(kept), xp.isnan(x), ties)
    with quiet_numpy():  # amax of a NaN: no element equals it, 0 / 0 = NaN, as PyTorch's
        share = ties / ties.sum(axis=dims, keepdims=True)
    return ties, share.astype(dtype, copy=False)


def _first_max(x, dim, xp):
    """(max, index of its first occurrence) along a short axis, both with the axis kept (size 1).
    Branchless: a later index k replaces the current one only where it is strictly greater, and
    since k grows, ``index = max(index, k * better)`` does that without a masked write."""
    take = [slice(None)] * x.ndim
    take[dim] = slice(0, 1)
    best = x[tuple(take)].copy(order="K")  # in x's memory order, as everything below
    index = xp.zeros_like(best, dtype=xp.uint8)
    for k in range(1, x.shape[dim]):
        take[dim] = slice(k, k + 1)
        candidate = x[tuple(take)]
        better = (candidate > best).view(xp.uint8)  # strictly greater: ties keep the first index
        xp.maximum(best, candidate, out=best)
        better *= k
        xp.maximum(index, better, out=index)
    return best, index


def _sum(x, dims, keepdim):
    """Sum over ``dims``. On the CPU a float32 sum must not add a long strided axis one element after
    another: NumPy does that, and a sum whose terms mostly cancel (the bias gradient of a batch norm
    deep in a ResNet) then keeps only a few correct digits. So float32 sums go through
    ``_blocked_sum`` (matrix products with a ones vector, 1024 terms at a time, the blocks added in
    float64) or, for layouts it does not cover, einsum accumulating in float64. CuPy's tree
    reduction does not have that problem."""
    if x.dtype.kind != "f" or x.dtype.itemsize >= 8 or is_launch_bound(x) or not dims:
        return x.sum(axis=dims, keepdims=keepdim)
    out = _blocked_sum(x, dims)
    if out is None:
        letters = "abcdefghijklmnopqrstuvwxyz"[:x.ndim]
        kept = "".join(letter for i, letter in enumerate(letters) if i not in dims)
        out = module_of(x).einsum(f"{letters}->{kept}", x, dtype=float).astype(x.dtype)
    return out.reshape(_kept_shape(x.shape, dims)) if keepdim else out


BLOCK = 1024  # terms a float32 partial sum adds before the partial sums are added in float64


def _blocked_sum(x, dims):
    """The sum over ``dims`` (the kept axes in order, as without keepdim) when, in memory order, the
    summed axes are one run of a dense array: memory is then (before, summed, after), and the sum is
    ``ones(BLOCK) @ block`` for each block of BLOCK summed rows (or ``block @ ones(BLOCK)`` where the
    summed axes are innermost; one BLAS call for them all, near memory speed), the blocks' results
    added in float64. None for any other layout."""
    if x.size == 0:
        return None
    axes = [axis for axis in range(x.ndim) if x.shape[axis] > 1]  # size-1 axes have no place in memory
    order = sorted(axes, key=lambda axis: -x.strides[axis])
    in_memory_order = x.reshape([x.shape[axis] for axis in axes]).transpose([axes.index(axis) for axis in order])
    summed = [i for i, axis in enumerate(order) if axis in dims]
    if not summed or not in_memory_order.flags.c_contiguous or summed != list(range(summed[0], summed[-1] + 1)):
        return None
    shape = in_memory_order.shape
    start, stop = summed[0], summed[-1] + 1
    before, count, after = math.prod(shape[:start]), math.prod(shape[start:stop]), math.prod(shape[stop:])
    rows = in_memory_order.reshape(before, count, after)
    blocks, rest = divmod(count, BLOCK)
    ones = module_of(x).ones(BLOCK, x.dtype)
    if after == 1:  # the summed axes are innermost: each block is a row of one matrix-vector product
        # (about 3x faster than NumPy's own pairwise sum, and as accurate)
        rows = rows.reshape(before, count)
        partial = (rows[:, :blocks * BLOCK].reshape(before, blocks, BLOCK) @ ones).sum(axis=1, dtype=float)
        if rest:
            partial += rows[:, blocks * BLOCK:].sum(axis=1)
    else:
        partial = (ones @ rows[:, :blocks * BLOCK].reshape(before, blocks, BLOCK, after)).sum(axis=1, dtype=float)
        if rest:
            partial += ones[:rest] @ rows[:, blocks * BLOCK:]
    out = partial.astype(x.dtype)
    kept = [axis for axis in order if axis not in dims]  # in memory order
    out = out.reshape([x.shape[axis] for axis in kept]).transpose(sorted(range(len(kept)), key=kept.__getitem__))
    return out.reshape([n for axis, n in enumerate(x.shape) if axis not in dims])


def _count(shape, dims):
    """How many elements a reduction over ``dims`` combines."""
    n = 1
    for d in dims:
        n *= shape[d]
    return n

