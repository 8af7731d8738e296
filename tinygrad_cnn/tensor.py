"""Tensor: an array of the device's array module, its gradient, and the Function that made it.

Every operation here is either a primitive (``ops``) or a few lines composed of them.
"""
import builtins
import math
import operator
import weakref

from . import backend
from .backend import Device


def _normalize_dims(dim, ndim, op="sum"):
    """``dim`` (None, int or sequence, negatives allowed) as a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = [_normalize_dim(d, ndim, op) for d in dims]
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {dims} appears multiple times in the list of dims")
    return tuple(sorted(out)) if ndim else ()


def _normalize_dim(dim, ndim, op):
    """One ``dim`` (negatives allowed) as an axis index; a 0-d tensor accepts 0 and -1."""
    if not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dims "
                         f"(expected to be in range of [{-size}, {size - 1}])")
    return dim % ndim if ndim else 0


class Size(tuple):
    """A tensor's shape: a tuple that prints as PyTorch's does, ``torch.Size([2, 3])``."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n


class Tensor:
    """An n-dimensional array that remembers how it was computed, for reverse-mode autodiff."""

    __slots__ = ("array", "grad", "creator", "_requires_grad", "_version_cell", "__weakref__")
    __array_priority__ = 1000  # numpy scalars and arrays defer to Tensor's reflected operators

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        if isinstance(data, Tensor):
            data = data.array
        if backend.is_array(data):
            array = data if dtype is None else data.astype(backend.dtype(dtype), copy=False)
            array = backend.to_device(array, device if device is not None else backend.device_of(array))
        else:  # Python numbers and lists: straight to the dtype asked for (no float32 detour), else PyTorch's
            array = autograd.computed(_from_python, data, dtype, device)  # (made again at each replay)
        self.array = array
        self.grad = None
        self.creator = None
        self._requires_grad = False
        self._version_cell = [0]
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _from_array(cls, array):
        """Wrap an array as a constant tensor (no checks, no copy)."""
        t = object.__new__(cls)
        t.array, t.grad, t.creator, t._requires_grad, t._version_cell = array, None, None, False, [0]
        return t

    @classmethod
    def _from_function(cls, array, creator):
        """Wrap an array computed by ``creator`` (a Function) as a graph node."""
        t = object.__new__(cls)
        t.array, t.grad, t.creator, t._requires_grad, t._version_cell = array, None, creator, True, [0]
        return t

    # ---- attributes -------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value and not backend.is_floating(self.array.dtype):
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients (got {self.dtype})")
        if not value and self.creator is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        self._requires_grad = bool(value)

    @property
    def data(self):
        """A tensor sharing this one's array, outside the graph (as ``torch.Tensor.data``)."""
        return self.detach()

    @property
    def _version(self):
        """How many in-place operations changed this tensor (or a view of its memory): a primitive that
        saved it for its backward remembers the number and refuses to run once it has changed."""
        return self._version_cell[0]

    @data.setter
    def data(self, value):
        self.array = value.array if isinstance(value, Tensor) else value

    @property
    def shape(self):
        return Size(self.array.shape)

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        return backend.device_of(self.array)

    @property
    def is_cuda(self):
        return self.device == "cuda"

    @property
    def is_cpu(self):
        return self.device == "cpu"

    is_mps = is_xpu = False  # no such devices here; programs that ask get PyTorch's answer on a CPU

    @property
    def xp(self):
        """The array module (numpy or cupy) that holds this tensor."""
        return backend.module_of(self.array)

    @property
    def is_leaf(self):
        return self.creator is None

    @property
    def grad_fn(self):
        return self.creator

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim=None):
        return Size(self.array.shape) if dim is None else self.array.shape[dim]

    def dim(self):
        return self.ndim

    def numel(self):
        return self.array.size

    def element_size(self):
        return self.array.itemsize

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        """PyTorch's format: ``tensor([[1.5000, 2.0000]], dtype=torch.float64, grad_fn=<MulBackward0>)``."""
        np = backend.numpy_module()
        values = backend.to_numpy(self.array)
        floatmode = "maxprec_equal"  # integers, and floats that are all whole numbers: "1., 2."
        if values.dtype.kind == "f":
            sizes = np.abs(values[np.isfinite(values) & (values != 0)]).astype(np.float64)
            whole = bool(np.all(sizes == np.round(sizes)))
            scientific = sizes.size and (sizes.max() >= 1e8 or sizes.min() < 1e-4 or sizes.max() / sizes.min() > 1e3)
            if scientific or not whole:  # PyTorch's four decimals: "1.5000", "1.0000e+09"
                floatmode = "fixed"
        width = 5 if values.dtype == np.bool_ and not values.all() else 4  # "True" pads only beside "False"
        body = np.array2string(values, separator=", ", prefix="tensor(", precision=4, floatmode=floatmode,
                               formatter={"bool": lambda v: str(v).rjust(width)})
        extras = []
        if self.device == "cuda":
            extras.append("device='cuda:0'")
        if self.dtype not in (backend.float32, backend.int64, backend.bool_):
            extras.append(f"dtype=torch.{self.dtype}")
        if self.creator is not None:
            extras.append(f"grad_fn=<{self.creator.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ---- conversion -----------------------------------------------------------------
    def numpy(self, force=False):
        """The NumPy array (shared, not copied) of a CPU tensor, as ``torch.Tensor.numpy``."""
        if self.device == "cuda" and not force:
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
                            "tensor to host memory first.")
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        _read_into_python("numpy()")
        return backend.to_numpy(self.array)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        _read_into_python("item()")
        return backend.to_numpy(self.array).reshape(()).item()

    def tolist(self):
        _read_into_python("tolist()")
        return backend.to_numpy(self.array).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if backend.is_floating(self.dtype):
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.numel()} values is ambiguous")
        return bool(self.item())

    def detach(self):
        """The same array (and version counter), cut from the graph."""
        t = Tensor._from_array(self.array)
        t._version_cell = self._version_cell
        return t

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (for inspection)."""
        if self.creator is None:
            return
        self.creator.retained = weakref.ref(self)

    def clone(self):
        return self + 0 if self.requires_grad else Tensor._from_array(autograd.computed(_copy, self.array))

    def contiguous(self):
        return self

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other)``; differentiable
        (``non_blocking`` and ``memory_format`` are accepted and change nothing here)."""
        if len(args) == 1 and isinstance(args[0], Tensor):
            args = (args[0].device, args[0].dtype)
        for a in args:
            if isinstance(a, (str, Device)):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and backend.dtype(dtype) != self.dtype:
            out = ops.Cast.apply(out, dtype=backend.dtype(dtype))
        if device is not None and backend.as_device(device) != self.device:
            out = ops.ToDevice.apply(out, device=backend.as_device(device))
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def half(self):
        """float16, computed as NumPy computes float16."""
        return self.to(backend.float16)

    def long(self):
        return self.to(backend.int64)

    def int(self):
        return self.to(backend.int32)

    def bool(self):
        return self.to(backend.bool_)

    def type_as(self, other):
        return self.to(other.dtype)

    def type(self, dtype=None):
        """With a dtype: ``to(dtype)``; without: PyTorch's type name, e.g. ``torch.FloatTensor``."""
        if dtype is not None:
            return self.to(dtype)
        names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                 "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
        prefix = "torch.cuda." if self.device == "cuda" else "torch."
        return f"{prefix}{names.get(str(self.dtype), str(self.dtype))}Tensor"

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A tensor of ``data`` with this one's dtype and device unless told otherwise."""
        return Tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        xp, shape, dtype = self.xp, _shape_args((size,)), backend.dtype(dtype) if dtype is not None else self.dtype
        array = autograd.computed(lambda: xp.full(shape, fill_value, dtype=dtype))  # (made again at each replay)
        return Tensor(array, device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(_shape_args(size), 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(_shape_args(size), 1, dtype, device, requires_grad)

    new_empty = new_zeros

    # ---- autograd -------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (PyTorch's semantics)."""
        if retain_graph is None:
            retain_graph = create_graph
        autograd.run_backward([self], [autograd._initial_grad(self, gradient)], retain_graph, create_graph)

    # ---- in-place operations ---------------------------------------------------------
    def _check_inplace(self, op):
        if not autograd.is_grad_enabled():
            return
        if self.creator is None and self._requires_grad:
            raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation.")
        if self._is_view_of_a_leaf_that_requires_grad():
            raise RuntimeError(f"{op}: a view of a leaf Variable that requires grad is being used in an in-place "
                               "operation.")

    def _is_view_of_a_leaf_that_requires_grad(self):
        """Whether this tensor was made by view primitives (reshape, permute, slicing) from such a leaf, and
        still shares its memory."""
        fn = self.creator
        while fn is not None and fn.returns_view:
            parent = fn.parents[0]
            if isinstance(parent, Tensor):
                return autograd._same_memory(self.array, parent.array)
            fn = parent
        return False

    def _operand(self, other):
        array = other.array if isinstance(other, Tensor) else other
        return backend.to_device(array, self.device) if backend.is_array(array) else array

    def _apply_inplace(self, op, compute):
        """Run the in-place operation ``op``, whose new value ``compute(t)`` gives out of place from t.

        Outside the graph (grad mode off, or nothing involved requires grad) the new value is
        written into this tensor's array, so views of it see it. Inside the graph the operation
        is recorded as PyTorch records it: this tensor becomes the result, its creator the op's
        last primitive, so gradients flow through the op to this tensor's history and to the
        operands. Either way the version goes up: a primitive that saved this tensor for its
        backward then refuses to run, as in PyTorch, instead of using the changed values.
        """
        self._check_inplace(op)
        before = Tensor._from_array(self.array)  # the value before, with a version of its own
        before.creator, before._requires_grad = self.creator, self._requires_grad
        result = compute(before)
        if result.shape != self.shape:
            raise RuntimeError(f"{op}: output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(result.shape)}")
        if result.dtype != self.dtype:
            if result.dtype.kind == "f" and self.dtype.kind != "f":
                raise RuntimeError(f"{op}: result type {result.dtype} can't be cast to the desired output type "
                                   f"{self.dtype}")
            result = result.to(self.dtype)
        if result.creator is None:
            self.array[...] = result.array
            if autograd._tape is not None:  # (a recording writes it again at each replay)
                autograd._tape.write(self, result.array)
        else:
            self.array, self.creator, self._requires_grad = result.array, result.creator, True
        self._version_cell[0] += 1
        return self

    def _replaced_by(self, value):
        """``compute`` for ops that overwrite every element: the old value passes no gradient on."""
        return lambda t: where(True, Tensor._from_array(backend.to_device(value, t.device)), t)

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        array = self.xp.full(self.shape, self._operand(value), self.dtype)
        return self._apply_inplace("fill_", self._replaced_by(array))

    def copy_(self, src):
        """Copy ``src`` (broadcast to this tensor's shape) into this tensor; differentiable in ``src``."""
        src = src if isinstance(src, Tensor) else Tensor(src, device=self.device)
        return self._apply_inplace("copy_", lambda t: where(True, src.to(self.dtype).expand(*self.shape), t))

    def add_(self, other, alpha=1):
        return self._apply_inplace("add_", lambda t: t + (other * alpha if alpha != 1 else other))

    def sub_(self, other, alpha=1):
        return self._apply_inplace("sub_", lambda t: t - (other * alpha if alpha != 1 else other))

    def mul_(self, other):
        return self._apply_inplace("mul_", lambda t: t * other)

    def div_(self, other):
        return self._apply_inplace("div_", lambda t: t / other)

    def clamp_(self, min=None, max=None):
        return self._apply_inplace("clamp_", lambda t: t.clamp(min, max))

    clip_ = clamp_

    def relu_(self):
        return self._apply_inplace("relu_", lambda t: t.relu())

    def masked_fill_(self, mask, value):
        return self._apply_inplace("masked_fill_", lambda t: t.masked_fill(mask, value))

    def addcmul_(self, tensor1, tensor2, value=1):
        """self += value * tensor1 * tensor2 (as hand-written optimizers use it)."""
        return self.add_(tensor1 * tensor2 * value)

    def addcdiv_(self, tensor1, tensor2, value=1):
        return self.add_(tensor1 / tensor2 * value)

    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        """``self[index[i][j]][j] = src[i][j]`` along ``dim`` (for dim 0; likewise for any dim), in place."""
        if reduce is not None:
            raise NotImplementedError("scatter_: reduce= is not supported; use index_add-style code instead")
        d = _normalize_dim(dim, self.ndim, "scatter_")
        idx = index.array if isinstance(index, Tensor) else backend.to_python_array(index)
        fill = value if src is None else (src[tuple(slice(0, n) for n in idx.shape)] if isinstance(src, Tensor)
                                          else src)
        self[self._along(d, idx)] = fill
        return self

    def _along(self, dim, idx):
        """The index that picks ``self[..., idx[i, j, ...], ...]`` at dim ``dim`` and position (i, j, ...)
        elsewhere: gather's and scatter's (broadcasting aranges for the other dims)."""
        grid = [self.xp.arange(n).reshape((1,) * i + (n,) + (1,) * (idx.ndim - i - 1)) for i, n in enumerate(idx.shape)]
        grid[dim] = backend.to_device(idx, self.device)
        return tuple(grid)

    def scatter(self, dim, index, src=None, value=None):
        return self.clone().scatter_(dim, index, src, value)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def uniform_(self, a=0.0, b=1.0):
        values = backend.generator().uniform(a, b, self.shape).astype(self.dtype)
        return self._apply_inplace("uniform_", self._replaced_by(values))

    def normal_(self, mean=0.0, std=1.0):
        values = backend.generator().normal(mean, std, self.shape).astype(self.dtype)
        return self._apply_inplace("normal_", self._replaced_by(values))

    # ---- arithmetic -----------------------------------------------------------------
    def _constant_like(self, value):
        """A Python number or array as a constant tensor of a matching dtype (PyTorch's promotion)."""
        if isinstance(value, Tensor):
            if value.array.__class__ is not self.array.__class__ and value.device != self.device:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                                   f"devices, {self.device} and {value.device}!")
            return value
        dtype = self.array.dtype
        if isinstance(value, float):
            if dtype.kind != "f":
                dtype = backend.float32
        elif isinstance(value, builtins.bool):
            pass
        elif isinstance(value, int):
            if dtype == backend.bool_:
                dtype = backend.int64
        else:
            return Tensor(value, device=self.device)
        return Tensor._from_array(backend.scalar(value, dtype, self.array))

    def _operands(self, other):
        """(self, other) in one dtype, ready for a binary primitive, by PyTorch's type promotion where NumPy's
        differs: the highest category (bool < integer < float) wins; within it, tensors with dims decide
        before 0-d ones, and 0-d ones before Python numbers (an integer tensor and a Python float give
        float32; int64 and float32 tensors give float32, not float64)."""
        constant = self._constant_like(other)
        if isinstance(other, float) and self.array.dtype.kind != "f":
            return self.float(), constant
        a, b = self.array.dtype, constant.array.dtype
        if a == b:
            return self, constant
        top = max(_category(a), _category(b))
        deciding = [t for t in (self, constant) if _category(t.array.dtype) == top]
        with_dims = [t for t in deciding if t.ndim]
        dtype = backend.result_type(*[t.array.dtype for t in (with_dims or deciding)])
        return (self if a == dtype else self.to(dtype)), (constant if b == dtype else constant.to(dtype))

    def __add__(self, other):
        return ops.Add.apply(*self._operands(other))

    def __radd__(self, other):
        a, b = self._operands(other)
        return ops.Add.apply(b, a)

    def __sub__(self, other):
        return ops.Sub.apply(*self._operands(other))

    def __rsub__(self, other):
        a, b = self._operands(other)
        return ops.Sub.apply(b, a)

    def __mul__(self, other):
        return ops.Mul.apply(*self._operands(other))

    def __rmul__(self, other):
        a, b = self._operands(other)
        return ops.Mul.apply(b, a)

    def __truediv__(self, other):
        if self.array.dtype.kind != "f" and not (isinstance(other, Tensor) and other.array.dtype.kind == "f"):
            return self.float() / other
        return ops.Div.apply(*self._operands(other))

    def __rtruediv__(self, other):
        return self._constant_like(other) / (self if self.array.dtype.kind == "f" else self.float())

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            return (self.log() * exponent).exp()
        return ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base):
        return (self * math.log(base)).exp()

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        return self._constant_like(other).matmul(self)

    def __abs__(self):
        return self.abs()

    # comparisons give boolean tensors outside the graph
    def _compare(self, other, op):
        other = other.array if isinstance(other, Tensor) else other
        return Tensor._from_array(autograd.computed(op, self.array, other))

    def __eq__(self, other):
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._compare(other, lambda a, b: a != b)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    def __invert__(self):
        return Tensor._from_array(autograd.computed(operator.invert, self.array))

    def __and__(self, other):
        return self._compare(other, lambda a, b: a & b)

    def __or__(self, other):
        return self._compare(other, lambda a, b: a | b)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def add(self, other, alpha=1):
        return self + other * alpha if alpha != 1 else self + other

    def sub(self, other, alpha=1):
        return self - other * alpha if alpha != 1 else self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def pow(self, exponent):
        return self ** exponent

    def matmul(self, other):
        """Matrix product with ``torch.matmul``'s rules for 1-d and batched operands."""
        other = self._constant_like(other)
        if self.ndim == 0 or other.ndim == 0:
            raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {tuple(self.shape)} "
                               f"and {tuple(other.shape)}")
        if self.dtype != other.dtype:  # PyTorch refuses too, rather than computing silently in float64
            raise RuntimeError(f"matmul: expected both operands to have the same dtype, but got {self.dtype} and "
                               f"{other.dtype}; convert one with .float() or .double()")
        a = self.reshape(1, -1) if self.ndim == 1 else self
        b = other.reshape(-1, 1) if other.ndim == 1 else other
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {tuple(self.shape)} and {tuple(other.shape)} do not align "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        try:
            out = ops.MatMul.apply(a, b)
        except ValueError as error:
            raise ValueError(f"matmul: batch dims of {tuple(self.shape)} and {tuple(other.shape)} do not "
                             "broadcast") from error
        if self.ndim == 1:
            out = out.squeeze(-2)
        if other.ndim == 1:
            out = out.squeeze(-1)
        return out

    def mm(self, other):
        return self.matmul(other)

    def bmm(self, other):
        return self.matmul(other)

    # ---- elementwise math -----------------------------------------------------------
    def exp(self):
        return ops.Exp.apply(self._float_input())

    def log(self):
        return ops.Log.apply(self._float_input())

    def sqrt(self):
        return ops.Sqrt.apply(self._float_input())

    def rsqrt(self):
        return self._float_input() ** -0.5

    def abs(self):
        return ops.Abs.apply(self)

    def tanh(self):
        return ops.Tanh.apply(self._float_input())

    def sigmoid(self):
        return ops.Sigmoid.apply(self._float_input())

    def erf(self):
        return ops.Erf.apply(self._float_input())

    def square(self):
        return self * self

    def relu(self):
        """max(x, 0), as ``where(not x <= 0, x, 0)``: as in PyTorch, the gradient at exactly 0 is 0
        and a NaN passes through (``x > 0`` would turn it into 0). Drawn as the composite "relu"."""
        with autograd.scope("relu"):
            return where(~(self <= 0), self, 0.0)

    def maximum(self, other):
        return ops.Maximum.apply(*self._operands(other))

    def minimum(self, other):
        a, b = self._operands(other)
        if a.array.dtype.kind != "f":  # no gradient, and negating a bool or unsigned integer keeps no order
            return Tensor._from_array(autograd.computed(backend.module_of(a.array).minimum, a.array, b.array))
        return -ops.Maximum.apply(-a, -b)

    def clamp(self, min=None, max=None):
        """Limit to [min, max], as PyTorch: a NaN stays NaN (with no gradient), and the gradient passes
        where min <= x <= max. Tensor limits get the gradient where they are the result."""
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self
            if min is not None:
                out = where(~(out < min), out, min)
            if max is not None:
                out = where(~(out > max), out, max)
            return out
        if min is None and max is None:
            raise RuntimeError("clamp: at least one of min or max must not be None")
        inside, limited = autograd.computed(_clamped, self.array, min, max)
        return where(inside, self, Tensor._from_array(limited))

    clip = clamp

    def sign(self):
        return Tensor._from_array(autograd.computed(self.xp.sign, self.array))

    def isnan(self):
        return Tensor._from_array(autograd.computed(self.xp.isnan, self.array))

    def isinf(self):
        return Tensor._from_array(autograd.computed(self.xp.isinf, self.array))

    def isfinite(self):
        return Tensor._from_array(autograd.computed(self.xp.isfinite, self.array))

    def _float_input(self):
        return self if backend.is_floating(self.dtype) else self.float()

    # ---- reductions -----------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None):
        out = ops.Sum.apply(self, dims=_normalize_dims(dim, self.ndim, "sum"), keepdim=keepdim)
        return out.to(dtype) if dtype is not None else out

    def mean(self, dim=None, keepdim=False):
        if not backend.is_floating(self.dtype):
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                               f"point or complex dtype. Got: {self.dtype}")
        return ops.Mean.apply(self, dims=_normalize_dims(dim, self.ndim, "mean"), keepdim=keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Variance with Bessel's correction by default (``unbiased=True`` / ``correction=1``), as PyTorch."""
        if correction is None:
            correction = 0 if unbiased is False else 1
        return ops.Var.apply(self, dims=_normalize_dims(dim, self.ndim, "var"), correction=correction,
                             keepdim=keepdim)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """sqrt(var); where the variance is 0 (a constant input) the gradient is 0, as in PyTorch."""
        return _sqrt_zero_safe(self.var(dim, unbiased, keepdim, correction=correction))

    def norm(self, p="fro", dim=None, keepdim=False):
        """The vector p-norm over ``dim`` (all elements by default): 2 ("fro"), any number, inf or -inf.
        At a zero vector the gradient is 0, as in PyTorch."""
        if p in ("fro", 2, 2.0, None):
            return _sqrt_zero_safe((self * self).sum(dim, keepdim))
        if p in (math.inf, "inf"):
            return self.abs().amax(() if dim is None else dim, keepdim)
        if p in (-math.inf, "-inf"):
            return self.abs().amin(() if dim is None else dim, keepdim)
        if p == 1:
            return self.abs().sum(dim, keepdim)
        total = (self.abs() ** p).sum(dim, keepdim)
        nonzero = autograd.computed(_nonzero, total.array)
        return where(nonzero, where(nonzero, total, 1.0) ** (1.0 / p), 0.0)

    def amax(self, dim=(), keepdim=False):
        """Max over ``dim`` (all dims when empty); ties share the gradient evenly."""
        dims = _normalize_dims(None if dim == () else dim, self.ndim, "amax")
        return ops.AMax.apply(self, dims=dims, keepdim=keepdim)

    def amin(self, dim=(), keepdim=False):
        return -(-self).amax(dim, keepdim)

    def max(self, dim=None, keepdim=False):
        """``max()`` is the largest element (ties share the gradient); ``max(dim)`` returns
        ``(values, indices)`` and sends each gradient to the first maximal index only."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:  # PyTorch's full max(): exactly 0 off the maximum
            every_dim = _normalize_dims(None, self.ndim, "max")
            return ops.AMax.apply(self, dims=every_dim, keepdim=False, zero_elsewhere=True)
        d = _normalize_dim(dim, self.ndim, "max")
        if self.ndim and self.shape[d] == 0:
            raise IndexError(f"max(): Expected reduction dim {dim} to have non-zero size.")
        x = self if self.ndim else self.reshape(1)
        primitive = ops.MaxDim(dim=d, keepdim=keepdim or not self.ndim)
        values, indices = primitive(x), primitive.indices
        if not self.ndim:
            values, indices = values.reshape(()), indices.reshape(())
        if indices.dtype != backend.int64:
            indices = autograd.computed(lambda a: a.astype(backend.int64), indices)
        return MaxResult(values, Tensor._from_array(indices))

    def min(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return -(-self).max()
        values, indices = (-self).max(dim, keepdim)
        return MaxResult(-values, indices)

    def argmax(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor._from_array(autograd.computed(
                lambda a: backend.module_of(a).asarray(a.argmax()).astype(backend.int64), self.array))
        d = _normalize_dim(dim, self.ndim, "argmax")
        return Tensor._from_array(autograd.computed(
            lambda a: _argmax_array(a, d, keepdim).astype(backend.int64), self.array))

    def argmin(self, dim=None, keepdim=False):
        return (-self).argmax(dim, keepdim)

    def gather(self, dim, index):
        """``out[i][j] = self[index[i][j]][j]`` for dim 0 (and likewise along any ``dim``), as torch.gather:
        an indexing of ``self``, so the gradient flows back to the gathered places."""
        d = _normalize_dim(dim, self.ndim, "gather")
        idx = index.array if isinstance(index, Tensor) else backend.to_python_array(index)
        if idx.ndim != self.ndim:
            raise RuntimeError(f"gather: index has {idx.ndim} dimensions but input has {self.ndim}; they must "
                               f"have the same number of dimensions")
        return self[self._along(d, idx)]

    def take_along_dim(self, indices, dim):
        return self.gather(dim, indices)

    def _order(self, dim, descending, k=None):
        """The int64 indices that sort ``self`` along ``dim`` (stably; NaN counts as the largest, as in
        PyTorch), the first ``k`` of them if given."""
        return Tensor._from_array(autograd.computed(_sorting_indices, self.array, dim, descending, k))

    def sort(self, dim=-1, descending=False, stable=False):
        """``(values, indices)`` sorted along ``dim`` (always stable here: ties keep their order)."""
        d = _normalize_dim(dim, self.ndim, "sort")
        order = self._order(d, descending)
        return MaxResult(self.gather(d, order), order)

    def argsort(self, dim=-1, descending=False, stable=False):
        d = _normalize_dim(dim, self.ndim, "argsort")
        return self._order(d, descending)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``, largest first."""
        d = _normalize_dim(dim, self.ndim, "topk")
        if not 0 <= k <= self.shape[d]:
            raise RuntimeError(f"topk: selected index k ({k}) out of range for dimension {d} of size {self.shape[d]}")
        order = self._order(d, largest, k)
        return MaxResult(self.gather(d, order), order)

    def logsumexp(self, dim, keepdim=False):
        m = self.detach().amax(dim, keepdim=True)
        m = where(m.abs() == float("inf"), 0.0, m)  # all -inf rows stay -inf
        out = (self - m).exp().sum(dim, keepdim=True).log() + m
        return out if keepdim else out.squeeze(dim)

    def softmax(self, dim):
        if self.numel() == 0:  # nothing to normalise (and no maximum to shift by)
            return self * 1.0
        e = (self - self.detach().amax(dim, keepdim=True)).exp()
        return e / e.sum(dim, keepdim=True)

    def log_softmax(self, dim):
        if self.numel() == 0:
            return self * 1.0
        shifted = self - self.detach().amax(dim, keepdim=True)
        return shifted - shifted.exp().sum(dim, keepdim=True).log()

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` is True, this tensor elsewhere (the gradient flows where it is False)."""
        return where(mask, value, self)

    def all(self):
        return Tensor._from_array(autograd.computed(lambda a: backend.module_of(a).asarray(a.all()), self.array))

    def any(self):
        return Tensor._from_array(autograd.computed(lambda a: backend.module_of(a).asarray(a.any()), self.array))

    # ---- movement -------------------------------------------------------------------
    def reshape(self, *shape):
        shape = _shape_args(shape)
        if shape == self.array.shape:
            return self
        size, unknown = self.array.size, shape.count(-1)
        known = math.prod(n for n in shape if n != -1)
        if unknown > 1 or (unknown == 0 and known != size) or (unknown == 1 and (known == 0 or size % known)):
            raise RuntimeError(f"reshape: shape {list(shape)} is invalid for input of size {size} "
                               f"(shape {tuple(self.shape)})")
        return ops.Reshape.apply(self, shape=shape)

    def view(self, *shape):
        return self.reshape(*shape)

    def view_as(self, other):
        return self.reshape(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flip(self, *dims):
        """The elements in reverse order along each of ``dims``."""
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        index = [slice(None)] * self.ndim
        for d in dims:
            index[_normalize_dim(d, self.ndim, "flip")] = slice(None, None, -1)
        return self[tuple(index)]

    def repeat(self, *sizes):
        """Tile the tensor ``sizes[i]`` times along each dim (leading sizes add new dims), as torch.repeat."""
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                               "of tensor")
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
        spread = self.reshape(*[n for d in shape for n in (1, d)])  # a size-1 axis before each dim
        tiled = spread.expand(*[n for r, d in zip(sizes, shape) for n in (r, d)])
        return tiled.reshape(*[r * d for r, d in zip(sizes, shape)])

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _normalize_dim(start_dim, self.ndim, "flatten"), _normalize_dim(end_dim, self.ndim, "flatten")
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    def unflatten(self, dim, sizes):
        d = _normalize_dim(dim, self.ndim, "unflatten")
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def permute(self, *dims):
        ndim, requested = self.array.ndim, _shape_args(dims)
        axes = range(ndim)
        dims = tuple(d + ndim if d < 0 else d for d in requested)
        if sorted(dims) != list(axes):  # (an out-of-range dim never matches)
            raise RuntimeError(f"permute: dims {list(requested)} are not a permutation of the {ndim} dims of "
                               f"a tensor of shape {tuple(self.shape)}")
        if dims == tuple(axes):
            return self
        return ops.Permute.apply(self, dims=dims)

    def transpose(self, dim0, dim1):
        if self.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
            return self
        dims = list(range(self.ndim))
        a, b = _normalize_dim(dim0, self.ndim, "transpose"), _normalize_dim(dim1, self.ndim, "transpose")
        dims[a], dims[b] = dims[b], dims[a]
        return self.permute(*dims)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def swapaxes(self, dim0, dim1):
        return self.transpose(dim0, dim1)

    def unsqueeze(self, dim):
        d = _normalize_dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = _normalize_dims(dim, self.ndim, "squeeze")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def expand(self, *sizes):
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal "
                               f"to the number of dimensions in the tensor ({self.ndim})")
        lead = len(sizes) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        for i, n in enumerate(self.shape):
            if n != 1 and n != shape[lead + i]:
                raise RuntimeError(f"expand: the expanded size of the tensor ({shape[lead + i]}) must match the "
                                   f"existing size ({n}) at non-singleton dimension {lead + i}. Target sizes: "
                                   f"{list(sizes)}. Tensor sizes: {list(self.shape)}")
        if shape == self.shape:
            return self
        return ops.Expand.apply(self, shape=shape)

    def expand_as(self, other):
        return self.expand(*other.shape)

    def broadcast_to(self, shape):
        return self.expand(*shape)

    def __getitem__(self, index):
        index = _index_arrays(index, self)
        return ops.GetItem.apply(self, index=index)

    def __setitem__(self, index, value):
        """``x[index] = value`` in place. In the graph, the gradient of the overwritten elements goes to
        ``value`` (summed where it was broadcast) and that of the others to x's history."""
        index = _index_arrays(index, self)
        in_graph = autograd.is_grad_enabled() and (self._requires_grad or getattr(value, "_requires_grad", False))
        # the index's parts go to computed one by one: index arrays computed in a recorded call are read again
        parts = index if isinstance(index, tuple) else (index,)
        if not in_graph:
            self._check_inplace("__setitem__")
            if autograd._tape is not None:  # (a recording learns whose array this is, as for any in-place write)
                autograd._tape.read(self.array, self)
            autograd.computed(_set_items, self.array, self._operand(value), *parts)
            self._version_cell[0] += 1
            return
        target_shape = self.array[index].shape
        mask = autograd.computed(_index_mask, self.array, *parts)
        v = value if isinstance(value, Tensor) else Tensor(self._operand(value), dtype=self.dtype, device=self.device)
        placed = ops.IndexAdd.apply(v.to(self.dtype).expand(*target_shape), index=index, shape=self.shape)
        self._apply_inplace("__setitem__", lambda t: where(mask, placed, t))

    def chunk(self, chunks, dim=0):
        d = _normalize_dim(dim, self.ndim, "chunk")
        step = -(-self.shape[d] // chunks)
        return self.split(step, d)

    def split(self, split_size, dim=0):
        d = _normalize_dim(dim, self.ndim, "split")
        sizes = [split_size] * (self.shape[d] // split_size) if isinstance(split_size, int) else list(split_size)
        if isinstance(split_size, int) and self.shape[d] % split_size:
            sizes.append(self.shape[d] % split_size)
        pieces, start = [], 0
        for size in sizes:
            pieces.append(self[(slice(None),) * d + (slice(start, start + size),)])
            start += size
        return tuple(pieces)


def _sqrt_zero_safe(x):
    """sqrt(x) whose gradient is 0 where x is 0 (sqrt's own would be inf, times the 0 that flows into
    x there: NaN). The inner where keeps sqrt away from 0, the outer one routes no gradient there."""
    nonzero = autograd.computed(_nonzero, x.array)  # a NaN stays NaN, as in PyTorch
    return where(nonzero, where(nonzero, x, 1.0).sqrt(), 0.0)


class MaxResult(tuple):
    """``(values, indices)`` of ``max(dim)``/``min(dim)``, ``sort`` and ``topk``, also readable as
    ``.values`` and ``.indices``."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def _clamped(array, min, max):
    """(where ``array`` lies within [min, max], the array clamped to it) for clamp; NaN stays NaN."""
    xp, limited, inside = backend.module_of(array), array, True
    if min is not None:
        inside, limited = limited >= min, xp.maximum(limited, min)  # maximum and minimum keep NaN
    if max is not None:
        inside, limited = inside & (array <= max), xp.minimum(limited, max)
    return inside, limited.astype(array.dtype, copy=False)


def _read_into_python(what):
    """A tensor's value leaves the engine for Python: a recording (tg.compile) cannot replay what follows."""
    if autograd._tape is not None:
        autograd._tape.escape(what)


def _from_python(data, dtype, device):
    """An array of Python numbers and lists, in ``dtype`` or PyTorch's default, on ``device``."""
    return backend.to_device(backend.to_python_array(data, None if dtype is None else backend.dtype(dtype)), device)


def _nonzero(array):
    return array != 0


def _copy(array):
    return array.copy()


def _set_items(target, value, *index):
    """``target[index] = value`` in place (``Tensor.__setitem__`` outside the graph)."""
    target[index] = value
    return target


def _index_mask(like, *index):
    """True where ``like[index]`` lies (``Tensor.__setitem__`` in the graph)."""
    mask = backend.module_of(like).zeros(like.shape, dtype=bool)
    mask[index] = True
    return mask


def _sorting_indices(array, dim, descending, k):
    """argsort along ``dim`` as int64, stable, NaN the largest (``Tensor._order``), the first ``k``."""
    xp = backend.module_of(array)
    if array.dtype.kind in "bu":
        array = array.astype(backend.int64)
    keys = array
    if descending:
        keys = -array if array.dtype.kind != "f" else xp.where(xp.isnan(array), -xp.inf, -array)
    order = xp.argsort(keys, axis=dim, kind="stable").astype(backend.int64)
    return order if k is None else xp.ascontiguousarray(order[(slice(None),) * dim + (slice(0, k),)])


def _argmax_array(array, dim, keepdim):
    index = array.argmax(axis=dim)
    return backend.module_of(array).expand_dims(index, dim) if keepdim else index


def _shape_args(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(map(int, shape))


def _index_arrays(index, tensor):
    """An index with Tensors and lists replaced by arrays on the tensor's device."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            p = backend.to_device(p.array, tensor.device)
        elif isinstance(p, list):
            p = backend.to_device(backend.to_python_array(p), tensor.device)
        elif backend.is_array(p):
            p = backend.to_device(p, tensor.device)
        out.append(p)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _category(dtype):
    """PyTorch's type-promotion category: 0 bool, 1 integer, 2 float."""
    return 0 if dtype.kind == "b" else 1 if dtype.kind in "iu" else 2


def where(condition, input, other):
    """Elements of ``input`` where ``condition`` holds, else of ``other``; differentiable in both."""
    cond = condition.array if isinstance(condition, Tensor) else condition
    if not isinstance(cond, bool) and getattr(cond, "dtype", None) != bool:
        kind = f"a tensor with dtype {cond.dtype}" if hasattr(cond, "dtype") else type(cond).__name__
        raise RuntimeError(f"where: expected condition to be a boolean tensor, but got {kind}")
    if isinstance(input, Tensor):
        input, other = input._operands(other)
    elif isinstance(other, Tensor):
        other, input = other._operands(input)
    else:
        input, other = Tensor(input), Tensor(other)
    return ops.Where.apply(input, other, condition=cond)


def maximum(input, other):
    return input.maximum(other)


def minimum(input, other):
    return input.minimum(other)


def cat(tensors, dim=0):
    """Join tensors along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of Tensors")
    ndim = tensors[0].ndim
    d = _normalize_dim(dim, ndim, "cat")
    devices = {str(t.device) for t in tensors}
    if len(devices) > 1:
        raise RuntimeError(f"cat: expected all tensors to be on the same device, but found at least two devices, "
                           f"{' and '.join(sorted(devices))}")
    for t in tensors[1:]:
        if t.ndim != ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, tensors[0].shape)) if i != d):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {d}: got shapes "
                               f"{[tuple(x.shape) for x in tensors]}")
    return ops.Cat.apply(*tensors, dim=d)


def stack(tensors, dim=0):
    """Join tensors of the same shape along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of Tensors")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise RuntimeError(f"stack: expects each tensor to be equal size, but got {[tuple(t.shape) for t in tensors]}")
    d = _normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([t.unsqueeze(d) for t in tensors], dim=d)


# The primitives and the graph walk build on Tensor, so they are imported once it exists.
from . import autograd, ops  # noqa: E402
