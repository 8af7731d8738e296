"""tinygrad_cnn: a reverse-mode autograd engine on NumPy (CuPy on a GPU) with a PyTorch-shaped API,
in which convolution, pooling and batch norm are composed from a handful of primitives."""
# tensor first: autograd and the primitives build on the Tensor class it defines.
from .tensor import Size, Tensor, cat, maximum, minimum, stack, where  # noqa: I001
from . import accelerator, autograd, backend, backends, cuda
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import Device as device, Generator
from .creation import (
    BoolTensor, ByteTensor, DoubleTensor, FloatTensor, IntTensor, LongTensor, arange, as_tensor, empty, empty_like,
    eye, from_numpy, full, full_like, is_tensor, linspace, manual_seed, numel, ones, ones_like, rand, rand_like,
    randint, randn, randn_like, randperm, tensor, zeros, zeros_like,
)

float32 = backend.float32
float = backend.float32
float64 = backend.float64
double = backend.float64
float16 = backend.float16
int32 = backend.int32
int64 = backend.int64
long = backend.int64
uint8 = backend.uint8
bool = backend.bool_

__version__ = "0.1.0"

from .functions import (  # noqa: E402  (torch.* functions that mirror a Tensor method)
    abs, add, all, allclose, amax, amin, any, argmax, argmin, argsort, bmm, broadcast_to, chunk, clamp, clip, div, eq,
    equal, erf, exp, flatten, flip, gather, ge, get_num_threads, gt, isfinite, isinf, isnan, le, log, log_softmax,
    logsumexp, lt, masked_fill, matmul, max, mean, min, mm, mul, ne, norm, permute, pow, relu, reshape, rsqrt,
    set_num_threads, sigmoid, sign, softmax, sort, split, sqrt, square, squeeze, std, sub, sum, t, take_along_dim,
    tanh, topk, transpose, unflatten, unsqueeze, var,
)
from . import nn, testing  # noqa: E402  (as torch.nn is there after `import torch`)
from . import data, models, optim, utils  # noqa: E402
from .serialization import load, save  # noqa: E402
from .summary import summary  # noqa: E402
from .compile import compile  # noqa: E402
