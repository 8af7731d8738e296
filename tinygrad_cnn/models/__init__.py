"""Ready-made models."""
from .lenet import LeNet5

__all__ = ["LeNet5"]
