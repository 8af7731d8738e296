"""Tools to test differentiable code: numerical gradient checks and Hypothesis strategies."""
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_gradients

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "numerical_gradients"]
