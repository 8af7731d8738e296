"""Run the code paths primitives take on a GPU with NumPy arrays, so that their logic is
tested on machines without one."""
import contextlib
import sys


@contextlib.contextmanager
def gpu_code_paths():
    """Inside the block every primitive chooses what it chooses on a GPU (``is_launch_bound``
    answers True), while it computes with whatever arrays it is given."""
    patched = [m for name, m in list(sys.modules.items())
               if name.startswith("tinygrad_cnn.") and name != "tinygrad_cnn.backend" and hasattr(m, "is_launch_bound")]
    originals = [m.is_launch_bound for m in patched]
    for module in patched:
        module.is_launch_bound = _always
    try:
        yield
    finally:
        for module, original in zip(patched, originals):
            module.is_launch_bound = original


def _always(array):
    return True
