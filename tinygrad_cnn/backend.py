"""The array module of a device: NumPy on "cpu", CuPy on "cuda".

This is the one module that imports numpy or cupy for array math; everything
else asks a tensor for its array module (``tensor.xp``) or calls a helper here.
"""
import ctypes
import os
import sys

import numpy

try:  # CuPy is optional: importing the package never requires it
    import cupy
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None

float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
float16 = numpy.dtype("float16")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")
result_type = numpy.result_type  # the dtype NumPy's arithmetic gives these dtypes (the same for CuPy's)


class Device:
    """Where a tensor's array lives: ``Device("cpu")`` or ``Device("cuda")``; compares equal to its name."""

    __slots__ = ("type",)

    def __init__(self, name="cpu"):
        name = str(name)
        kind = name.split(":")[0]
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {name}")
        self.type = kind

    def __eq__(self, other):
        if isinstance(other, Device):
            return self.type == other.type
        if isinstance(other, str):
            return self.type == other.split(":")[0]
        return NotImplemented

    def __hash__(self):
        return hash(self.type)

    def __str__(self):
        return self.type

    def __repr__(self):
        return f"device(type='{self.type}')"


CPU = Device("cpu")
CUDA = Device("cuda")


def keep_freed_memory():
    """Ask glibc's malloc to serve large arrays from memory it keeps rather than from fresh pages.

    By default every array over a few MB is mapped fresh from the OS and unmapped when freed, so each
    training step page-faults (and the OS zeroes) all its activations and gradients again: measured,
    a quarter of a LeNet-5 or ResNet-8 step on 2 CPU cores. With these two settings freed blocks are
    reused; the process keeps its peak memory instead of returning it between steps. Linux with glibc
    only; set TINYGRAD_CNN_SYSTEM_MALLOC=1 to leave the allocator alone. Returns whether it applied."""
    if not sys.platform.startswith("linux") or os.environ.get("TINYGRAD_CNN_SYSTEM_MALLOC"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 1 << 30)) and bool(mallopt(m_trim_threshold, (1 << 31) - 1))


KEEPS_FREED_MEMORY = keep_freed_memory()


def cuda_is_available():
    """True when CuPy is installed and sees at least one GPU."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device
        return False


def as_device(device):
    """Turn a string or Device (or None, meaning cpu) into one of the Device constants."""
    if device is None:
        return CPU
    return CUDA if Device(device) == "cuda" else CPU


def array_module(device):
    """numpy for "cpu", cupy for "cuda" (with a clear error where there is no GPU)."""
    if as_device(device) is CPU:
        return numpy
    if not cuda_is_available():
        reason = "CuPy is not installed" if cupy is None else "no CUDA GPU was found"
        raise RuntimeError(f"device 'cuda' is not available: {reason} (pip install 'tinygrad_cnn[gpu]' on a machine with an NVIDIA GPU)")
    return cupy


def device_of(array):
    """The Device an array lives on."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return CUDA
    return CPU


def module_of(array):
    """numpy or cupy, whichever holds ``array``."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return numpy


def to_device(array, device):
    """The same values on ``device`` (no copy when already there)."""
    device = as_device(device)
    if device_of(array) is device:
        return array
    if device is CPU:
        return cupy.asnumpy(array)
    return array_module(device).asarray(array)


def to_numpy(array):
    """A NumPy array with the values of ``array`` (from any device)."""
    return cupy.asnumpy(array) if device_of(array) is CUDA else numpy.asarray(array)


def as_numpy(value):
    """A NumPy array from a tensor, a NumPy or CuPy array, a torch tensor, or anything array-like."""
    value = getattr(value, "array", value)  # a tinygrad_cnn Tensor
    if is_array(value):
        return to_numpy(value)
    for step in ("detach", "cpu"):  # a torch tensor
        if hasattr(value, step):
            value = getattr(value, step)()
    if hasattr(value, "numpy"):
        return numpy.asarray(value.numpy())
    return numpy.asarray(value)


def is_array(obj):
    return isinstance(obj, numpy.ndarray) or (cupy is not None and isinstance(obj, cupy.ndarray))


def as_strided(array, shape, strides, writeable=False):
    """A strided view of ``array`` (numpy or cupy); read-only on the CPU unless ``writeable``.
    Write only through a view whose elements do not overlap."""
    if device_of(array) is CUDA:
        return cupy.lib.stride_tricks.as_strided(array, shape, strides)
    return numpy.lib.stride_tricks.as_strided(array, shape, strides, writeable=writeable)


def is_launch_bound(array):
    """True on the GPU: there every array operation is a kernel launch costing more than the
    arithmetic of a LeNet-sized array, so primitives choose strategies with fewer, larger operations."""
    return device_of(array) is CUDA


def scatter_add(target, index, values):
    """``target[index] += values`` where repeated indices add up."""
    if device_of(target) is CUDA:
        import cupyx

        cupyx.scatter_add(target, index, values)
    else:
        numpy.add.at(target, index, values)


_device_scalars = {}


def scalar(value, dtype, like):
    """``value`` as a 0-d array of ``dtype`` on ``like``'s device. On the GPU these are cached,
    since each new one is a host-to-device copy; they are constants that nothing writes to."""
    if device_of(like) is CPU:
        return numpy.asarray(value, dtype=dtype)
    key = (value, dtype.str)
    if key not in _device_scalars:
        _device_scalars[key] = cupy.asarray(value, dtype=dtype)
    return _device_scalars[key]


def quiet_numpy():
    """NumPy warns on log(0), 1/0, inf - inf and overflow; PyTorch computes these silently (-inf, inf,
    nan), and so do the primitives inside this context."""
    return numpy.errstate(all="ignore")


_erf_ufunc = None


def erf(array):
    """The error function, elementwise: cupyx's kernel on the GPU, SciPy's where it is installed,
    else Python's math.erf for each element (NumPy has none; exact, and fast enough for a lesson)."""
    global _erf_ufunc
    if device_of(array) is CUDA:
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(array)
    if _erf_ufunc is None:
        try:
            from scipy.special import erf as _erf_ufunc
        except ImportError:
            import math

            _erf_ufunc = numpy.frompyfunc(math.erf, 1, 1)
    return numpy.asarray(_erf_ufunc(array), dtype=array.dtype)


def dtype(obj):
    """A numpy dtype from a dtype-like object (tg.float32, "float32", numpy.float32, float)."""
    return numpy.dtype(obj)


def is_floating(dtype):
    return dtype.kind == "f"


def to_python_array(data, dtype=None):
    """Convert nested Python lists or scalars to a NumPy array of ``dtype``, or PyTorch's default dtypes."""
    if dtype is not None:
        return numpy.asarray(data, dtype=dtype)
    array = numpy.asarray(data)
    if array.dtype == float64 and not isinstance(data, numpy.ndarray) and not isinstance(data, numpy.generic):
        array = array.astype(float32)  # Python floats default to float32, as in PyTorch
    elif array.dtype.kind in "iu" and not isinstance(data, (numpy.ndarray, numpy.generic)):
        array = array.astype(int64)
    return array


# ---- random numbers: one generator, seeded by tg.manual_seed; draws happen on the CPU
# so that the same seed gives the same numbers on every device.
_generator = numpy.random.default_rng()


def manual_seed(seed):
    global _generator
    _generator = numpy.random.default_rng(seed)
    if cupy is not None and cuda_is_available():
        cupy.random.seed(seed)


def generator():
    """The global NumPy random generator (seeded by manual_seed)."""
    return _generator


def new_generator(seed):
    return numpy.random.default_rng(seed)


class Generator:
    """A random number generator of its own, as ``torch.Generator``: ``Generator().manual_seed(42)``
    gives the same draws wherever it is passed (``randn(..., generator=g)``, ``random_split``,
    ``DataLoader(generator=g)``), apart from the global one that ``tg.manual_seed`` seeds."""

    def __init__(self, device="cpu"):
        self.device = device
        self.seed()

    def manual_seed(self, seed):
        self._initial_seed = int(seed)
        self.rng = numpy.random.default_rng(self._initial_seed)
        return self

    def seed(self):
        """Re-seed from fresh entropy; returns the new seed."""
        self.manual_seed(int(numpy.random.SeedSequence().entropy % 2 ** 63))
        return self._initial_seed

    def initial_seed(self):
        return self._initial_seed

    def get_state(self):
        return self.rng.bit_generator.state

    def set_state(self, state):
        self.rng.bit_generator.state = state
        return self


def rng_of(generator=None):
    """The NumPy generator to draw from: a ``Generator``'s, a NumPy generator itself, or the global one."""
    if generator is None:
        return _generator
    return generator.rng if isinstance(generator, Generator) else generator


def blas_info():
    """The BLAS libraries NumPy uses and their thread counts (needs threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info() if i.get("user_api") == "blas"]


def numpy_module():
    """numpy itself, for the places that turn arrays into files or pictures."""
    return numpy
