"""Fuzzing the public API against PyTorch: Hypothesis draws short programs of tensor operations
(broadcasting, reductions, movement, dtypes, in-place ops, no_grad regions), runs each in
tinygrad_cnn and in torch, and checks every value, dtype and gradient, and that the same calls
raise; then backward with retain_graph, twice, and a second derivative with create_graph."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tg

from .helpers import requires_torch, torch

SHAPES = [(2, 3), (3,), (1, 3), (2, 1), ()]


def _module(lib):
    return tg if lib == "tg" else torch


UNARY = {
    "neg": lambda L, x: -x,
    "exp": lambda L, x: x.clamp(-5, 5).exp(),
    "tanh": lambda L, x: x.tanh(),
    "sigmoid": lambda L, x: x.sigmoid(),
    "relu": lambda L, x: x.relu(),
    "abs": lambda L, x: x.abs(),
    "sqrt": lambda L, x: (x.abs() + 0.1).sqrt(),
    "log": lambda L, x: (x.abs() + 0.1).log(),
    "square": lambda L, x: x ** 2,
    "cube": lambda L, x: x ** 3,
    "sum": lambda L, x: x.sum(),
    "sum0": lambda L, x: x.sum(0, keepdim=True),
    "mean-1": lambda L, x: x.mean(-1),
    "amax-1": lambda L, x: x.amax(-1),
    "var": lambda L, x: x.var(),
    "softmax-1": lambda L, x: x.softmax(-1),
    "log_softmax0": lambda L, x: x.log_softmax(0),
    "flatten": lambda L, x: x.reshape(-1),
    "transpose": lambda L, x: x.transpose(0, -1),
    "unsqueeze": lambda L, x: x.unsqueeze(0),
    "slice": lambda L, x: x[..., 1:],
    "index": lambda L, x: x[0],
    "float32": lambda L, x: x.float(),
    "float64": lambda L, x: x.double(),
    "detach": lambda L, x: x.detach(),
    "clamp": lambda L, x: x.clamp(-0.5, 0.7),
    "matmul-self": lambda L, x: x @ x.transpose(0, -1),
}
BINARY = {
    "add": lambda L, a, b: a + b,
    "sub": lambda L, a, b: a - b,
    "mul": lambda L, a, b: a * b,
    "div": lambda L, a, b: a / (b.abs() + 0.5),
    "maximum": lambda L, a, b: L.maximum(a, b),
    "where": lambda L, a, b: L.where(a > 0, a, b),
    "matmul": lambda L, a, b: a @ b,
}
INPLACE = {  # each on a fresh result (x * 1), so that leaves stay leaves unless the program says otherwise
    "add_": lambda L, a, b: a.add_(b),
    "mul_": lambda L, a, b: a.mul_(b),
    "sub_scalar": lambda L, a, b: a.sub_(0.25),
    "relu_": lambda L, a, b: a.relu_(),
    "clamp_": lambda L, a, b: a.clamp_(-0.3, None),
    "setitem": lambda L, a, b: a.__setitem__(0, b.sum()) or a,
    "add_ on a leaf": lambda L, a, b: a.add_(1.0),
}


@st.composite
def programs(draw):
    leaves = [(draw(st.sampled_from(SHAPES)), draw(st.booleans()), draw(st.integers(0, 2 ** 31)))
              for _ in range(draw(st.integers(1, 3)))]
    steps = []
    for i in range(draw(st.integers(1, 8))):
        count = len(leaves) + i
        kind = draw(st.sampled_from(["unary", "unary", "binary", "binary", "inplace"]))
        names = {"unary": UNARY, "binary": BINARY, "inplace": INPLACE}[kind]
        steps.append((kind, draw(st.sampled_from(sorted(names))), draw(st.integers(0, count - 1)),
                      draw(st.integers(0, count - 1)), draw(st.booleans())))  # last: inside no_grad
    return leaves, steps


def _run(lib, leaves, steps):
    L = _module(lib)
    values = []
    for shape, requires_grad, seed in leaves:
        array = np.random.default_rng(seed).uniform(-2, 2, shape)
        values.append(L.tensor(array, dtype=L.float64, requires_grad=requires_grad))
    inputs = list(values)
    outcomes = []
    for kind, name, i, j, quiet in steps:
        a, b = values[i], values[j]
        try:
            with (L.no_grad() if quiet else L.enable_grad()):
                if kind == "unary":
                    out = UNARY[name](L, a)
                elif kind == "binary":
                    out = BINARY[name](L, a, b)
                else:
                    target = a if name == "add_ on a leaf" else a * 1
                    out = INPLACE[name](L, target, b)
            outcomes.append(("ok", np.asarray(out.detach().tolist()), str(out.dtype).replace("torch.", ""),
                             out.requires_grad))
            # (torch's views made under no_grad keep requires_grad=True, a quirk not copied: go on without it)
            values.append(out.detach() if quiet else out)
        except (RuntimeError, ValueError, IndexError, TypeError):
            values.append(values[i])
            outcomes.append(("raised",))
    return inputs, values, outcomes


def _grads(inputs, values):
    """Backward from the sum of every result that needs a gradient, twice through the retained graph
    (the leaves' grads reset in between: torch's first pass may hand one gradient tensor to several
    leaves, so accumulating into them twice would compare torch's aliasing, not the gradients)."""
    wanted = [v for v in values if v.requires_grad]
    if not wanted:
        return None
    total = sum(v.double().sum() for v in wanted)
    total.backward(retain_graph=True)
    first = [None if x.grad is None else np.asarray(x.grad.tolist()) for x in inputs]
    for x in inputs:
        x.grad = None
    total.backward()
    second = [None if x.grad is None else np.asarray(x.grad.tolist()) for x in inputs]
    return first, second


def _same(a, b):
    if a is None or b is None:
        assert a is None or not np.any(a), (a, b)
        assert b is None or not np.any(b), (a, b)
        return
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8, equal_nan=True)


@requires_torch
@pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns for the var of one value; this file has no other
@given(program=programs())
def test_random_programs_match_torch(program):
    leaves, steps = program
    ours_in, ours, ours_out = _run("tg", leaves, steps)
    theirs_in, theirs, theirs_out = _run("torch", leaves, steps)
    for step, o, t in zip(steps, ours_out, theirs_out):
        assert o[0] == t[0], (step, o, t)  # the same calls raise
        if o[0] == "ok":
            assert o[1].shape == t[1].shape, step
            _same(o[1], t[1])
            assert o[2] == t[2], (step, o[2], t[2])  # dtype
            # requires_grad: the same, or (torch's quirk for views made under no_grad) False here
            assert o[3] == t[3] or (step[-1] and not o[3]), (step, o[3], t[3])
    try:
        ours_grads = _grads(ours_in, ours)
        ours_error = None
    except RuntimeError as error:
        ours_grads, ours_error = None, error
    try:
        theirs_grads = _grads(theirs_in, theirs)
        theirs_error = None
    except RuntimeError as error:
        theirs_grads, theirs_error = None, error
    if ours_error is None and theirs_error is not None and "modified by an inplace operation" in str(theirs_error):
        # torch's relu and softmax kernels keep their output for backward, so changing it in place is refused
        # there; these composites never read it back (their gradients stay right), so nothing refuses here
        return
    assert (ours_error is None) == (theirs_error is None), (ours_error, theirs_error)
    if ours_grads is not None:
        for ours_pass, theirs_pass in zip(ours_grads, theirs_grads):
            for a, b in zip(ours_pass, theirs_pass):
                _same(a, b)


@requires_torch
@given(shape=st.sampled_from([(3,), (2, 3)]), seed=st.integers(0, 2 ** 31),
       name=st.sampled_from(["tanh", "sigmoid", "exp", "log", "sqrt", "cube", "softmax-1", "var", "div"]))
def test_second_derivatives_match_torch(shape, seed, name):
    array = np.random.default_rng(seed).uniform(-2, 2, shape)
    results = []
    for lib in ("tg", "torch"):
        L = _module(lib)
        x = L.tensor(array, dtype=L.float64, requires_grad=True)
        y = BINARY["div"](L, x, x * 0.5) if name == "div" else UNARY[name](L, x)
        (g,) = L.autograd.grad(y.sum(), x, create_graph=True)
        (g * g).sum().backward()
        results.append((np.asarray(g.tolist()), np.asarray(x.grad.tolist())))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
