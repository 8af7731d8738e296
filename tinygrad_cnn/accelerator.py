"""``torch.accelerator``: the one accelerator this library can use is an NVIDIA GPU through CuPy."""
from . import backend, cuda


def is_available():
    return cuda.is_available()


def current_accelerator(check_available=False):
    """``device("cuda")`` where a GPU is usable, else None (as PyTorch on a machine without one)."""
    return backend.Device("cuda") if cuda.is_available() else None


def device_count():
    return cuda.device_count()
