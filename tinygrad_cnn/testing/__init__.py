"""Tools to test differentiable code: numerical gradient checks, Hypothesis strategies, and the
GPU's code paths run on NumPy."""
from .gpu_paths import gpu_code_paths
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_gradients

__all__ = ["GradcheckError", "gpu_code_paths", "gradcheck", "gradgradcheck", "numerical_gradients"]
