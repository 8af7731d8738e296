"""``tg.cuda``: whether the optional CuPy backend has a GPU to run on."""
from . import backend


def is_available():
    return backend.cuda_is_available()


def device_count():
    if not is_available():
        return 0
    return backend.cupy.cuda.runtime.getDeviceCount()


def synchronize():
    """Wait for all GPU work to finish (for timing)."""
    if is_available():
        backend.cupy.cuda.Device().synchronize()
