"""Gradients arriving at one place are summed first, in PyTorch's order, then used once (bit for bit).

A leaf reached by several paths gets ``old + (g1 + g2 + ...)``; the gradients arrive in the order
PyTorch's engine runs the graph (the latest-created Function first), so the sums round exactly as
PyTorch's do, on any CPU. The functions here use only products and sums, whose results are exact
IEEE arithmetic in both libraries, so any difference would be the order of the additions.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tg

from .helpers import requires_torch, torch

PATHS = [2, 3, 7, 50]
DTYPES = ["float32", "float64"]


def scales(n, dtype, seed):
    """One scale vector per path, with values whose sums round differently in different orders."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(4) * 10.0 ** rng.integers(-3, 4)).astype(dtype) for _ in range(n)]


def leaf_with_paths(lib, x, cs):
    """sum_k (x * c_k).sum(): path k sends c_k to x."""
    total = None
    for c in cs:
        term = (x * lib.tensor(c)).sum()
        total = term if total is None else total + term
    return total


def summed_first(old, cs):
    """What x.grad must be: old + (c_n + c_(n-1) + ... + c_1), the latest path's gradient arriving first."""
    s = cs[-1].copy()
    for c in reversed(cs[:-1]):
        s = s + c
    return s if old is None else old + s


@pytest.mark.parametrize("n", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_leaf_gets_the_sum_of_its_paths_added_once(n, dtype):
    cs = scales(n, dtype, seed=n)
    old = scales(1, dtype, seed=100 + n)[0]
    x = tg.tensor(np.ones(4, dtype), requires_grad=True)
    x.grad = tg.tensor(old.copy())
    leaf_with_paths(tg, x, cs).backward()
    np.testing.assert_array_equal(x.grad.numpy(), summed_first(old, cs))


@requires_torch
@pytest.mark.parametrize("n", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_leaf_with_several_paths_gets_pytorchs_gradient_bit_for_bit(n, dtype):
    cs = scales(n, dtype, seed=n)
    old = scales(1, dtype, seed=100 + n)[0]
    x = tg.tensor(np.ones(4, dtype), requires_grad=True)
    t = torch.tensor(np.ones(4, dtype), requires_grad=True)
    x.grad, t.grad = tg.tensor(old.copy()), torch.tensor(old.copy())
    leaf_with_paths(tg, x, cs).backward()
    leaf_with_paths(torch, t, cs).backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def branching(lib, x, w, cs):
    """A weight shared across branches and an intermediate used several times: sums at leaves and at nodes."""
    h = x * w
    out = None
    for i, c in enumerate(cs):
        branch = (h * lib.tensor(c) + x * w) * (w if i % 2 else h)
        out = branch if out is None else out + branch
    return (out * out).sum()


@requires_torch
@pytest.mark.parametrize("n", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_shared_weights_and_reused_nodes_get_pytorchs_gradients_bit_for_bit(n, dtype):
    cs = scales(n, dtype, seed=n)
    xv, wv = scales(2, dtype, seed=7)
    x, w = (tg.tensor(v, requires_grad=True) for v in (xv, wv))
    tx, tw = (torch.tensor(v, requires_grad=True) for v in (xv, wv))
    branching(tg, x, w, cs).backward()
    branching(torch, tx, tw, cs).backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())


@pytest.mark.parametrize("n", PATHS)
def test_autograd_grad_sums_an_inputs_paths_in_the_same_order(n):
    cs = scales(n, "float32", seed=n)
    x = tg.tensor(np.ones(4, np.float32), requires_grad=True)
    (g,) = tg.autograd.grad(leaf_with_paths(tg, x, cs), x)
    np.testing.assert_array_equal(g.numpy(), summed_first(None, cs))
    assert x.grad is None


FUNCTIONS = {
    "exp * tanh": lambda x: x.exp() * x.tanh(),
    "x * x + x": lambda x: x * x + x,
    "sigmoid(x) * x / (1 + x * x)": lambda x: x.sigmoid() * x / (1 + x * x),
    "softmax(x) * log_softmax(x)": lambda x: x.softmax(0) * x.log_softmax(0),
    "relu(x) ** 3 - x.abs()": lambda x: x.relu() ** 3 - x.abs(),
    "x @ x.T": lambda x: x.reshape(-1, 1) @ x.reshape(1, -1),
}


@given(name=st.sampled_from(sorted(FUNCTIONS)),
       values=st.lists(st.floats(-3, 3, allow_nan=False, width=32), min_size=1, max_size=6),
       dtype=st.sampled_from(DTYPES))
def test_a_retained_graph_run_twice_gives_exactly_twice_the_gradient(name, values, dtype):
    x = tg.tensor(np.array(values, dtype), requires_grad=True)
    y = FUNCTIONS[name](x).sum()
    y.backward(retain_graph=True)
    once = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * once)


@requires_torch
def test_a_retained_non_leaf_gradient_accumulates_as_pytorchs():
    values = np.array([0.5, -1.25, 2.0], np.float32)
    results = []
    for lib in (tg, torch):
        x = lib.tensor(values, requires_grad=True)
        y = x * 2
        y.retain_grad()
        z = (y * y).sum()
        z.backward(retain_graph=True)
        once = y.grad.detach().numpy().copy()
        z.backward()
        results.append((once, y.grad.detach().numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])  # twice the first: accumulated, not replaced
    np.testing.assert_array_equal(results[0][1], 2 * results[0][0])
