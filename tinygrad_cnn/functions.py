"""The ``torch.*`` functions that mirror a Tensor method: ``tg.flatten(x, 1)`` is ``x.flatten(1)``.

Each is a one-line call of the method (``tg.where``, ``tg.cat``, ``tg.stack``, ``tg.maximum``
and ``tg.minimum`` live in tensor.py, the creation functions in creation.py).
"""
from . import backend
from .tensor import Tensor


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def abs(input):  # noqa: A001  (torch's names)
    return input.abs()


def exp(input):
    return input.exp()


def log(input):
    return input.log()


def sqrt(input):
    return input.sqrt()


def rsqrt(input):
    return input.rsqrt()


def square(input):
    return input.square()


def pow(input, exponent):  # noqa: A001
    return _tensor(input) ** exponent


def erf(input):
    return input.erf()


def sign(input):
    return input.sign()


def isnan(input):
    return input.isnan()


def isinf(input):
    return input.isinf()


def isfinite(input):
    return input.isfinite()


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def relu(input):
    return input.relu()


def clamp(input, min=None, max=None):  # noqa: A002
    return input.clamp(min, max)


clip = clamp


def sum(input, dim=None, keepdim=False, dtype=None):  # noqa: A001
    return input.sum(dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False):
    return input.mean(dim, keepdim)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return input.var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return input.std(dim, unbiased, keepdim, correction=correction)


def norm(input, p="fro", dim=None, keepdim=False):
    return input.norm(p, dim, keepdim)


def max(input, dim=None, keepdim=False):  # noqa: A001
    return input.max(dim, keepdim)


def min(input, dim=None, keepdim=False):  # noqa: A001
    return input.min(dim, keepdim)


def amax(input, dim=(), keepdim=False):
    return input.amax(dim, keepdim)


def amin(input, dim=(), keepdim=False):
    return input.amin(dim, keepdim)


def argmax(input, dim=None, keepdim=False):
    return input.argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return input.argmin(dim, keepdim)


def logsumexp(input, dim, keepdim=False):
    return input.logsumexp(dim, keepdim)


def softmax(input, dim):
    return input.softmax(dim)


def log_softmax(input, dim):
    return input.log_softmax(dim)


def matmul(input, other):
    return input.matmul(other)


mm = bmm = matmul


def reshape(input, shape):
    return input.reshape(shape)


def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


def unflatten(input, dim, sizes):
    return input.unflatten(dim, sizes)


def transpose(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def permute(input, dims):
    return input.permute(dims)


def t(input):
    return input.t()


def unsqueeze(input, dim):
    return input.unsqueeze(dim)


def squeeze(input, dim=None):
    return input.squeeze(dim)


def split(tensor, split_size_or_sections, dim=0):
    return tensor.split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    return input.chunk(chunks, dim)


def broadcast_to(input, shape):
    return input.broadcast_to(shape)


def all(input):  # noqa: A001
    return input.all()


def any(input):  # noqa: A001
    return input.any()


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of ``input`` is close to ``other`` (a Python bool, as torch.allclose)."""
    xp = input.xp
    return bool(xp.allclose(input.array, backend.to_device(_tensor(other).array, input.device), rtol, atol,
                            equal_nan))


def equal(input, other):
    """Same shape and same elements (a Python bool, as torch.equal)."""
    return input.shape == other.shape and bool((input.array == other.array).all())


def add(input, other, alpha=1):
    return _tensor(input).add(other, alpha=alpha)


def sub(input, other, alpha=1):
    return _tensor(input).sub(other, alpha=alpha)


def mul(input, other):
    return _tensor(input) * other


def div(input, other):
    return _tensor(input) / other


def eq(input, other):
    return _tensor(input) == other


def ne(input, other):
    return _tensor(input) != other


def gt(input, other):
    return _tensor(input) > other


def lt(input, other):
    return _tensor(input) < other


def ge(input, other):
    return _tensor(input) >= other


def le(input, other):
    return _tensor(input) <= other


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    return input.topk(k, dim, largest, sorted)


def sort(input, dim=-1, descending=False, stable=False):
    return input.sort(dim, descending, stable)


def argsort(input, dim=-1, descending=False, stable=False):
    return input.argsort(dim, descending, stable)


def gather(input, dim, index):
    return input.gather(dim, index)


def take_along_dim(input, indices, dim):
    return input.gather(dim, indices)


def masked_fill(input, mask, value):
    return input.masked_fill(mask, value)


def flip(input, dims):
    return input.flip(dims)


def get_num_threads():
    """The BLAS threads NumPy's matrix products use (needs threadpoolctl; else the number of CPUs)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        import os
        return os.cpu_count()
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return counts[0] if counts else 1


def set_num_threads(n):
    """Limit NumPy's BLAS to ``n`` threads (needs threadpoolctl; without it, this changes nothing)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(n, user_api="blas")
