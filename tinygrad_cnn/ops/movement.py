"""Movement primitives: they move or copy elements without arithmetic, so each
backward moves the gradient back (reshape <-> reshape, getitem <-> index_add, ...)."""
from ..autograd import Function
from ..backend import device_of, module_of, scatter_add, to_device
from .reduce import unbroadcast


class Reshape(Function):
    """y = x viewed with a new shape;  dx = g reshaped back."""

    kind = "movement"
    returns_view = True

    def __init__(self, shape):
        self.to_shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.to_shape)

    def backward(self, g):
        return (g.reshape(self.in_shape),)


class Permute(Function):
    """y = x with its axes reordered (a view);  dx = g with the inverse order."""

    kind = "movement"
    returns_view = True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, g):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return (g.permute(*inverse),)


class Expand(Function):
    """y = x broadcast to ``shape`` (a view);  dx = g summed over the broadcast axes."""

    kind = "movement"
    returns_view = True

    def __init__(self, shape):
        self.to_shape = shape

    def forward(self, x):
        self.in_shape, self.in_dtype = x.shape, x.dtype
        return module_of(x).broadcast_to(x, self.to_shape)

    def backward(self, g):
        return (unbroadcast(g, self.in_shape, self.in_dtype),)


def is_basic_index(index):
    """True when ``x[index]`` uses only ints, slices, None and Ellipsis (no element is picked twice)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, slice)) or p is None or p is Ellipsis for p in parts)


class GetItem(Function):
    """y = x[index];  dx = zeros of x's shape with g added at ``index`` (index_add)."""

    kind = "movement"
    returns_view = True

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.in_shape = x.shape
        return x[self.index]

    def backward(self, g):
        return (IndexAdd.apply(g, index=self.index, shape=self.in_shape),)


class IndexAdd(Function):
    """y = zeros(shape) with x added at ``index`` (repeated indices add up);  dx = g[index].
    The adjoint of getitem."""

    kind = "movement"

    def __init__(self, index, shape):
        self.index, self.out_shape = index, shape

    def forward(self, x):
        out = module_of(x).zeros(self.out_shape, x.dtype)
        if is_basic_index(self.index):
            out[self.index] = x
        else:
            scatter_add(out, self.index, x)
        return out

    def backward(self, g):
        return (g[self.index],)


class Pad(Function):
    """y = x with ``value`` added around it (pad_width as numpy.pad);  dx = g with the border cut off."""

    kind = "movement"

    def __init__(self, pad_width, value):
        self.pad_width, self.value = pad_width, value

    def forward(self, x):
        self.inner = tuple(slice(before, before + n) for (before, _), n in zip(self.pad_width, x.shape))
        return module_of(x).pad(x, self.pad_width, mode="constant", constant_values=self.value)

    def backward(self, g):
        return (g[self.inner],)


class Cat(Function):
    """y = the inputs joined along ``dim``;  each input's gradient is its slice of g."""

    kind = "movement"

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        self.sizes = [x.shape[self.dim] for x in xs]
        return module_of(xs[0]).concatenate(xs, axis=self.dim)

    def backward(self, g):
        grads, start = [], 0
        lead = (slice(None),) * self.dim
        for i, size in enumerate(self.sizes):
            grads.append(g[lead + (slice(start, start + size),)] if self.needs_grad(i) else None)
            start += size
        return tuple(grads)


class ToDevice(Function):
    """y = x copied to another device;  dx = g copied back."""

    kind = "movement"

    def __init__(self, device):
        self.to = device

    def forward(self, x):
        self.origin = device_of(x)
        return to_device(x, self.to)

    def backward(self, g):
        return (g.to(self.origin),)
