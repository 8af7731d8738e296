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


def manual_seed(seed):
    """Accepted for PyTorch programs: random numbers are drawn on the CPU here, by the generator that
    ``tg.manual_seed`` seeds, so this changes nothing."""


manual_seed_all = manual_seed


def empty_cache():
    """Give CuPy's cached GPU memory back (nothing to do without a GPU)."""
    if is_available():
        backend.cupy.get_default_memory_pool().free_all_blocks()
