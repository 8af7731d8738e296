"""Functions that make tensors: tg.tensor, zeros, ones, rand, arange, ... (PyTorch's names and defaults).

Each new array is made through ``autograd.computed``, so that a recorded call (``tg.compile``) makes it
again at each replay: fresh zeros that the call may then change in place, fresh random numbers.
"""
from . import autograd, backend
from .tensor import Tensor


def _drawn(draw, dtype, device, requires_grad):
    """A tensor of the random numbers ``draw()`` gives, in ``dtype`` on ``device``."""
    def make():
        array = draw()
        if dtype is not None:
            array = array.astype(backend.dtype(dtype), copy=False)
        return backend.to_device(array, device)
    return Tensor(autograd.computed(make), requires_grad=requires_grad)


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(n) for n in size)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor from data (nested lists, numbers, arrays, tensors); the data is copied."""
    if isinstance(data, Tensor):
        data = data.array
    if not backend.is_array(data):  # Python numbers and lists: Tensor makes a new array of them
        return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
    return Tensor(autograd.computed(_copied, data, dtype, device), requires_grad=requires_grad)


def _copied(array, dtype, device):
    """A copy of ``array`` in ``dtype`` on ``device``."""
    return Tensor(array.copy(), dtype=dtype, device=device).array


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares the array when it already has the right dtype and device."""
    if isinstance(data, Tensor) and (dtype is None or backend.dtype(dtype) == data.dtype) and \
            (device is None or data.device == device):
        return data
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A tensor sharing memory with a NumPy array."""
    return Tensor(array)


def _on_device(make, dtype, device, requires_grad, default=backend.float32):
    """A tensor from ``make(xp, dtype)``, built by the device's own array module."""
    dtype = backend.dtype(dtype) if dtype is not None else default
    return Tensor(autograd.computed(lambda: make(backend.array_module(device), dtype)), requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _on_device(lambda xp, dt: xp.zeros(_shape(size), dt), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _on_device(lambda xp, dt: xp.ones(_shape(size), dt), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    default = backend.to_python_array(fill_value).dtype
    return _on_device(lambda xp, dt: xp.full(_shape((size,)), fill_value, dt), dtype, device, requires_grad, default)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _on_device(lambda xp, dt: xp.eye(n, m, dtype=dt), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Integers in [start, end) give int64; any float argument gives float32, as PyTorch."""
    if end is None:
        start, end = 0, start
    default = backend.int64 if all(isinstance(v, int) for v in (start, end, step)) else backend.float32
    return _on_device(lambda xp, dt: xp.arange(start, end, step).astype(dt), dtype, device, requires_grad, default)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _on_device(lambda xp, dt: xp.linspace(start, end, steps, dtype=dt), dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform on [0, 1)."""
    return _drawn(lambda: backend.rng_of(generator).random(_shape(size), dtype=backend.float32), dtype, device,
                  requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal."""
    return _drawn(lambda: backend.rng_of(generator).standard_normal(_shape(size), dtype=backend.float32), dtype,
                  device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None, generator=None):
    if high is None:
        low, high = 0, low
    return _drawn(lambda: backend.rng_of(generator).integers(low, high, size=_shape((size,))).astype(backend.int64),
                  dtype, device, False)


def randperm(n, dtype=None, device=None, generator=None):
    return _drawn(lambda: backend.rng_of(generator).permutation(n).astype(backend.int64), dtype, device, False)


def _like(maker, x, dtype, device, requires_grad, *args):
    return maker(x.shape, *args, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    return _like(zeros, x, dtype, device, requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False):
    return _like(ones, x, dtype, device, requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad=False):
    return _like(zeros, x, dtype, device, requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False):
    return _like(rand, x, dtype, device, requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad=False):
    return _like(randn, x, dtype, device, requires_grad)


def manual_seed(seed):
    """Seed the generator behind rand, randn, dropout and parameter initialisation."""
    backend.manual_seed(seed)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(x):
    return x.numel()


def _legacy_constructor(dtype):
    def make(*args, device=None):
        """PyTorch's legacy constructor: ``FloatTensor([1, 2])`` from data, ``FloatTensor(2, 3)`` zeros of a shape."""
        if args and all(isinstance(a, int) for a in args):
            return zeros(*args, dtype=dtype, device=device)
        return tensor(args[0] if args else [], dtype=dtype, device=device)
    return make


FloatTensor = _legacy_constructor(backend.float32)
DoubleTensor = _legacy_constructor(backend.float64)
LongTensor = _legacy_constructor(backend.int64)
IntTensor = _legacy_constructor(backend.int32)
ByteTensor = _legacy_constructor(backend.uint8)
BoolTensor = _legacy_constructor(backend.bool_)
