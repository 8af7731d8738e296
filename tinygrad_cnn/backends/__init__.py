"""``torch.backends``' flags that CPU programs still set (``cudnn.benchmark = True``): accepted, and they
change nothing here, since no cuDNN or MPS runs under this library. (``tinygrad_cnn.backend``, singular,
is the array module of a device.)"""
from . import cudnn, mps

__all__ = ["cudnn", "mps"]
