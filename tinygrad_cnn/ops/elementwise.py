"""Elementwise primitives. Binary ones broadcast; their backward sums the gradient back
to each input's shape (``unbroadcast``)."""
import math

from ..autograd import Function, computed
from ..backend import erf, is_launch_bound, module_of, scalar
from ..tensor import Tensor, where
from .reduce import unbroadcast


def _broadcast(op, a, b, out=None):
    """``op(a, b)`` for a NumPy ufunc, kept to long inner loops where one operand is small and varies
    only along the other's innermost memory axes (a per-channel scale or bias against a channels-last
    activation, a conv's bias against its (N*OH*OW, O) product): NumPy would loop C values at a time,
    about 2-3x slower. Then the large operand is seen as rows of k*C values (a view) and the small
    one repeated k times (a few hundred values), and the result reshaped back: same values, same layout.
    ``out``: the operand of the result's shape, written in place (a compiled program's in-place pass)."""
    if a.ndim == 0 or b.ndim == 0 or max(a.size, b.size) < 16 * INNER_LOOP or is_launch_bound(a) \
            or a.shape == b.shape and 0 not in a.strides and 0 not in b.strides:
        return op(a, b, out=out)
    shape = module_of(a).broadcast_shapes(a.shape, b.shape)
    a_view, b_view = module_of(a).broadcast_to(a, shape), module_of(b).broadcast_to(b, shape)
    swap = _footprint(a_view) < _footprint(b_view)
    dense, small = (b_view, a_view) if swap else (a_view, b_view)
    order = sorted(range(len(shape)), key=lambda axis: -dense.strides[axis])  # dense's memory order
    dense_m, small_m = dense.transpose(order), small.transpose(order)
    if not dense_m.flags.c_contiguous:
        return op(a, b, out=out)
    varying = [i for i, stride in enumerate(small_m.strides) if stride and small_m.shape[i] > 1]
    first = varying[0] if varying else len(shape)
    if varying != list(range(first, len(shape))):  # small also varies along an outer axis
        return op(a, b, out=out)
    run, rows = math.prod(small_m.shape[first:]), math.prod(small_m.shape[:first])
    k = next((k for k in range(1, rows + 1) if rows % k == 0 and k * run >= INNER_LOOP), rows)
    if run >= 64 or k == 1 or k * run * 8 > dense.size:  # long enough already, or no small repeat
        return op(a, b, out=out)
    block = small_m[(0,) * first].reshape(-1)  # the values small varies over, in dense's memory order
    repeated = module_of(a).tile(block, k)
    wide = dense_m.reshape(rows // k, k * run)
    into = None if out is None else out.transpose(order).reshape(wide.shape)  # out is dense (writable, not
    # its broadcast view): the same view of its memory
    result = op(repeated, wide, out=into) if swap else op(wide, repeated, out=into)
    return result.reshape(dense_m.shape).transpose(_inverse(order))


INNER_LOOP = 512  # values an inner loop should cover at least


def _footprint(x):
    """How many distinct values x holds (broadcast axes, stride 0, count once)."""
    return math.prod(size for size, stride in zip(x.shape, x.strides) if stride)


def _inverse(order):
    return sorted(range(len(order)), key=order.__getitem__)


class _Binary(Function):
    def remember_inputs(self, a, b):
        self.meta = (a.shape, a.dtype, b.shape, b.dtype)

    def to_inputs(self, ga, gb):
        """Each input's gradient reduced to its shape (None stays None: that input needs none)."""
        sa, da, sb, db = self.meta
        return (unbroadcast(ga, sa, da) if ga is not None else None,
                unbroadcast(gb, sb, db) if gb is not None else None)


class Add(_Binary):
    """y = a + b;  da = g, db = g."""

    def forward(self, a, b):
        self.remember_inputs(a, b)
        return _broadcast(module_of(a).add, a, b)

    def backward(self, g):
        return self.to_inputs(g if self.needs_grad(0) else None, g if self.needs_grad(1) else None)


class Sub(_Binary):
    """y = a - b;  da = g, db = -g."""

    def forward(self, a, b):
        self.remember_inputs(a, b)
        return _broadcast(module_of(a).subtract, a, b)

    def backward(self, g):
        sa, da, sb, db = self.meta
        gb = -unbroadcast(g, sb, db) if self.needs_grad(1) else None  # negate after reducing: smaller
        return (unbroadcast(g, sa, da) if self.needs_grad(0) else None), gb


class Mul(_Binary):
    """y = a * b;  da = g * b, db = g * a."""

    def forward(self, a, b):
        self.remember_inputs(a, b)
        self.saved = (a, b)
        return _broadcast(module_of(a).multiply, a, b)

    def backward(self, g):
        a, b = self.saved_arrays()
        ga = g * self.as_input(1, b) if self.needs_grad(0) else None
        gb = g * self.as_input(0, a) if self.needs_grad(1) else None
        return self.to_inputs(ga, gb)


class Div(_Binary):
    """y = a / b;  da = g / b, db = -g * (a / b) / b (= -g a / b^2, without b^2's underflow)."""

    def forward(self, a, b):
        self.remember_inputs(a, b)
        self.saved = (a, b)
        return _broadcast(module_of(a).divide, a, b)

    def backward(self, g):
        a, b = self.saved_arrays()
        b = self.as_input(1, b)
        ga = g / b if self.needs_grad(0) else None
        gb = -g * (self.as_input(0, a) / b) / b if self.needs_grad(1) else None  # (a/b)/b: b*b can underflow
        return self.to_inputs(ga, gb)


class Maximum(_Binary):
    """y = max(a, b) elementwise.  Rules as torch.maximum: where a == b each gets g / 2; otherwise the
    larger gets g and the smaller exactly 0 (also for an inf or NaN g), and where a NaN is involved (no
    order) both get g."""

    def forward(self, a, b):
        self.remember_inputs(a, b)
        self.saved = (a, b)
        return module_of(a).maximum(a, b)

    def backward(self, g):
        a, b = self.saved_arrays()
        self.check_version(0, a)
        self.check_version(1, b)
        shared = g * Tensor._from_array(computed(_tie_shares, a, b, g.dtype))  # halves on ties
        ga = where(~(a < b), shared, 0.0) if self.needs_grad(0) else None
        gb = where(~(a > b), shared, 0.0) if self.needs_grad(1) else None
        return self.to_inputs(ga, gb)



def _tie_shares(a, b, dtype):
    """1 where a and b differ, 1/2 where they tie (each then gets half the gradient)."""
    return (1.0 - 0.5 * (a == b)).astype(dtype, copy=False)

class Where(Function):
    """y = a where cond else b (cond is a constant mask);  da = g where cond, db = g elsewhere."""

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        self.meta = (a.shape, a.dtype, b.shape, b.dtype)
        xp = module_of(a)
        if not is_launch_bound(a) and b.ndim == 0 and a.dtype.kind == "f" and b == 0:
            # a branchless select (numpy's where is branch-bound on a random mask, ~20x slower here):
            # a's bits times the mask, as unsigned integers, are a's bits or all zeros (+0.0), exactly,
            # NaN and infinities included; stored as the mask is where it has the output's shape, so
            # that relu's backward keeps the forward's memory order also for a gradient that arrives
            # as a broadcast (from a mean)
            bits = xp.dtype(f"uint{8 * a.dtype.itemsize}")
            mask_shape = getattr(self.condition, "shape", None)  # None: a Python bool
            full_mask = mask_shape is not None and mask_shape == xp.broadcast_shapes(a.shape, mask_shape)
            out = xp.empty_like(self.condition, dtype=bits) if full_mask else None
            return xp.multiply(a.view(bits), self.condition, dtype=bits, out=out).view(a.dtype)
        return xp.where(self.condition, a, b)

    def backward(self, g):
        sa, da, sb, db = self.meta
        zero = Tensor._from_array(scalar(0, g.dtype, g.array))
        ga = gb = None
        if self.needs_grad(0):
            ga = unbroadcast(Where.apply(g, zero, condition=self.condition), sa, da)
        if self.needs_grad(1):
            gb = unbroadcast(Where.apply(zero, g, condition=self.condition), sb, db)
        return ga, gb


class Neg(Function):
    """y = -x;  dx = -g."""

    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


class Pow(Function):
    """y = x ** p for a constant p;  dx = g * p * x ** (p - 1)."""

    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, x):
        self.saved = (x,)
        return x ** self.exponent

    def backward(self, g):
        (x,) = self.saved_arrays()
        p = self.exponent
        if p == 0:  # x ** 0 = 1 everywhere: a zero gradient, also at x = 0 (where x ** -1 is inf) and for an
            # inf or NaN g, as PyTorch
            return (Tensor._from_array(module_of(g.array).zeros_like(g.array)),)
        if p == 2:
            return (g * self.as_input(0, x) * 2.0,)
        return (g * (self.as_input(0, x) ** (p - 1)) * p,)


class Exp(Function):
    """y = e^x;  dx = g * y."""

    def forward(self, x):
        y = module_of(x).exp(x)
        self.saved = (y,)
        return y

    def backward(self, g):
        (y,) = self.saved_arrays()
        return (g * self.as_output(y),)


class Log(Function):
    """y = ln x;  dx = g / x."""

    def forward(self, x):
        self.saved = (x,)
        return module_of(x).log(x)

    def backward(self, g):
        (x,) = self.saved_arrays()
        return (g / self.as_input(0, x),)


class Sqrt(Function):
    """y = sqrt(x);  dx = g / (2 y)."""

    def forward(self, x):
        y = module_of(x).sqrt(x)
        self.saved = (y,)
        return y

    def backward(self, g):
        (y,) = self.saved_arrays()
        return (g / (self.as_output(y) * 2.0),)


class Abs(Function):
    """y = |x|;  dx = g * sign(x) (0 at x = 0, as PyTorch)."""

    def forward(self, x):
        self.saved = (x,)
        return module_of(x).abs(x)

    def backward(self, g):
        (x,) = self.saved_arrays()
        self.check_version(0, x)
        return (g * Tensor._from_array(computed(module_of(x).sign, x)),)


class Tanh(Function):
    """y = tanh x;  dx = g * (1 - y^2)."""

    def forward(self, x):
        y = module_of(x).tanh(x)
        self.saved = (y,)
        return y

    def backward(self, g):
        (y,) = self.saved_arrays()
        y = self.as_output(y)
        return (g * (1.0 - y * y),)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows;  dx = g * y (1 - y)."""

    def forward(self, x):
        y = module_of(x).tanh(x * 0.5)
        y += 1
        y *= 0.5
        self.saved = (y,)
        return y

    def backward(self, g):
        (y,) = self.saved_arrays()
        y = self.as_output(y)
        return (g * y * (1.0 - y),)


class Erf(Function):
    """y = erf(x);  dx = g * 2/sqrt(pi) * e^(-x^2)."""

    def forward(self, x):
        self.saved = (x,)
        return erf(x)

    def backward(self, g):
        (x,) = self.saved_arrays()
        x = self.as_input(0, x)
        return (g * (-(x * x)).exp() * (2.0 / math.sqrt(math.pi)),)


class Cast(Function):
    """y = x converted to ``dtype``;  dx = g converted back."""

    kind = "movement"

    def __init__(self, dtype):
        self.dtype_to = dtype

    def forward(self, x):
        self.dtype_from = x.dtype
        return x.astype(self.dtype_to)

    def backward(self, g):
        return (g.to(self.dtype_from),)
