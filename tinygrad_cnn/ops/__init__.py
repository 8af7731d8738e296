"""The primitives: the only code in the package with hand-written backward passes.

Each is a ``Function`` (see ``autograd.py``) whose forward works on raw arrays and whose
backward is written with Tensor operations, grouped by kind.
"""
from .elementwise import Abs, Add, Cast, Div, Erf, Exp, Log, Maximum, Mul, Neg, Pow, Sigmoid, Sqrt, Sub, Tanh, Where
from .matmul import MatMul
from .movement import Cat, Expand, GetItem, IndexAdd, Pad, Permute, Reshape, ToDevice
from .reduce import AMax, MaxDim, Mean, Sum, Var, unbroadcast
from .window import Col2Im, Im2Col, conv_output_size

__all__ = [
    "Abs", "Add", "AMax", "Cast", "Cat", "Col2Im", "Div", "Erf", "Exp", "Expand", "GetItem", "Im2Col", "IndexAdd",
    "Log", "MatMul", "MaxDim", "Maximum", "Mean", "Mul", "Neg", "Pad", "Permute", "Pow", "Reshape",
    "Sigmoid", "Sqrt", "Sub", "Sum", "Tanh", "ToDevice", "Var", "Where", "conv_output_size", "unbroadcast",
]
