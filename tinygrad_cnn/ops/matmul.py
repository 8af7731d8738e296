"""Matrix product of (batched, broadcasting) matrices."""
from ..autograd import Function
from ..backend import is_launch_bound, module_of
from .reduce import unbroadcast


def _blas_friendly(a, b):
    """On the CPU, copy a transposed (non-contiguous) right operand when it is the smaller one: OpenBLAS
    was several times slower on such a view when this was written ((12544x50) @ (50x500)^T: 36 ms, 9 ms
    on a copy; today's OpenBLAS 0.3.31 runs both alike), and the copy is cheap. A transposed left
    operand stays as it is: a copy makes the product slower (a flattened batch-last image, (256, 2450)
    @ (2450, 500): 1.6 -> 2.6 ms). cuBLAS takes transposed operands as they are (no copy on a GPU)."""
    if not is_launch_bound(a) and not b.flags.c_contiguous and b.size <= a.size:
        b = module_of(b).ascontiguousarray(b)
    return a, b


LARGE = 2 ** 16  # values: from this size on an array's memory order matters (it is past the L1/L2 caches)


def _swap(x, k):
    """Whether x's gradient, a 2-d product summing k terms per value, is better made as the transpose
    of the swapped product (on the CPU): where x is large and stored column by column (a transposed
    view), so that its gradient is stored the same way and what it flows into next reads one memory
    order (a flattened batch-last image); and where the gradient is small and wide, (M, N) with M < N,
    summed over many terms (a conv's weight gradient, (O, KH*KW*C) over every output pixel): OpenBLAS
    runs the swapped, tall product 1.2-1.7x faster (a ResNet's 16 x 144 from 131072 terms: 7.2 -> 4.3 ms)."""
    if x.ndim != 2 or is_launch_bound(x) or min(x.shape) < 2:
        return False
    m, n = x.shape
    return x.flags.f_contiguous and x.size >= LARGE or m < n and k >= 16 * n


def _times(left, right, swap):
    """left @ right, computed as (right^T @ left^T)^T when ``swap``."""
    if swap:
        return (right.transpose(-1, -2) @ left.transpose(-1, -2)).transpose(-1, -2)
    return left @ right


ROWS = 4096  # rows of a tall product computed at a time (its block of output stays in cache)


def _by_row_blocks(a, b):
    """a @ b for a tall a, a block of rows at a time into one output: with a short inner dimension
    (16-64 channels) OpenBLAS runs several times below its peak on the whole matrix at once."""
    xp = module_of(a)
    out = xp.empty((a.shape[0], b.shape[1]), xp.result_type(a, b))
    for start in range(0, a.shape[0], ROWS):
        xp.matmul(a[start:start + ROWS], b, out=out[start:start + ROWS])
    return out


class MatMul(Function):
    """y = a @ b for a, b with at least 2 dims (batch dims broadcast);
    da = g @ b^T, db = a^T @ g, each summed back over broadcast batch dims.
    (1-d operands are handled by ``Tensor.matmul`` with reshapes.)"""

    kind = "matmul"

    def forward(self, a, b):
        self.saved = (a, b)
        self.meta = (a.shape, a.dtype, b.shape, b.dtype)
        if a.shape[-1] == 1:
            return a * b  # an outer product: the same exact products, where BLAS runs a one-term sum 4-6x slower
        a, b = _blas_friendly(a, b)
        if a.ndim == 2 and b.ndim == 2 and a.shape[0] >= 2 * ROWS and not is_launch_bound(a):
            return _by_row_blocks(a, b)
        return a @ b

    def backward(self, g):
        a, b = self.saved_arrays()
        sa, da, sb, db = self.meta
        ga = gb = None
        if self.needs_grad(0):
            ga = unbroadcast(_times(g, self.as_input(1, b).transpose(-1, -2), _swap(a, g.shape[-1])), sa, da)
        if self.needs_grad(1):
            gb = unbroadcast(_times(self.as_input(0, a).transpose(-1, -2), g, _swap(b, g.shape[-2])), sb, db)
        return ga, gb
