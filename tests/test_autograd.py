"""Autograd semantics, as PyTorch defines them."""
import gc
import time
import tracemalloc

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn.testing import gradcheck

from .helpers import requires_torch, torch


def test_gradients_accumulate_over_backward_calls():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [3 + 2, 3 + 4]


def test_a_tensor_used_twice_gets_both_gradients():
    x = tg.tensor(3.0, requires_grad=True)
    y = x * x + x  # x appears three times
    y.backward()
    assert x.grad.item() == 7.0


def test_broadcast_gradients_are_reduced_to_the_input_shape():
    x = tg.ones(3, 1, requires_grad=True)
    b = tg.ones(4, requires_grad=True)
    (x + b).sum().backward()
    assert x.grad.shape == (3, 1) and x.grad.tolist() == [[4.0]] * 3
    assert b.grad.tolist() == [3.0] * 4


def test_implicit_gradient_only_for_scalars():
    y = tg.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.backward(tg.tensor([1.0, 0.5]))


def test_backward_of_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(2).sum().backward()


def test_retain_graph_twice_gives_exactly_twice_the_gradient():
    x = tg.tensor([0.3, -1.2, 2.0], dtype=tg.float64, requires_grad=True)
    y = (x.exp() * x.tanh()).sum()
    y.backward(retain_graph=True)
    once = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * once)


def test_second_backward_through_a_freed_graph_raises():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_create_graph_gives_second_derivatives():
    x = tg.tensor([-1.5, 0.5, 2.0], dtype=tg.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad
    np.testing.assert_allclose(first.detach().numpy(), 3 * x.detach().numpy() ** 2)
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy())  # d2/dx2 x^3 = 6x


@requires_torch
def test_second_derivative_of_a_tanh_composite_matches_torch():
    values = np.array([-1.2, 0.1, 0.7, 2.0])
    x = tg.tensor(values, requires_grad=True)
    t = torch.tensor(values, requires_grad=True)
    (g,) = tg.autograd.grad((x.tanh() * x.sigmoid()).sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad((t.tanh() * t.sigmoid()).sum(), t, create_graph=True)
    (g * g).sum().backward()
    (gt * gt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10)


def test_autograd_grad_returns_without_touching_dot_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.autograd.grad((x * x).sum(), x)
    assert g.tolist() == [2.0, 4.0] and x.grad is None


def test_no_grad_builds_no_graph_and_works_as_decorator():
    x = tg.ones(2, requires_grad=True)
    with tg.no_grad():
        y = x * 2
        with tg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad

    @tg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and tg.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_the_array():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    (x * d).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        tg.tensor([1, 2], requires_grad=True)
    assert tg.tensor([1, 2]).dtype == tg.int64


def test_non_leaf_gets_no_grad_unless_retained():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = x * 4
    z.retain_grad()
    (y * z).sum().backward()
    assert y.grad is None and z.grad.tolist() == [3.0, 6.0]


def test_backward_of_a_100000_op_chain_has_no_recursion_error_and_is_linear():
    def chain(n):
        x = tg.tensor(1.0, requires_grad=True)
        y = x
        for _ in range(n):
            y = y * 1.0
        start = time.perf_counter()
        y.backward()
        return x, time.perf_counter() - start

    x, long_time = chain(100_000)
    assert x.grad.item() == 1.0
    _, short_time = chain(10_000)
    assert long_time < 25 * short_time  # 10x the ops in about 10x the time, with room for noise


def test_training_like_loop_does_not_grow_memory():
    """Outputs hold their creators but creators do not keep outputs alive: nothing piles up."""
    w = tg.randn(64, 64, requires_grad=True)
    x = tg.randn(32, 64)

    def step():
        loss = ((x @ w).relu() @ w).sum()
        loss.backward()
        w.grad = None

    for _ in range(20):
        step()
    gc.collect()
    tracemalloc.start()
    for _ in range(100):
        step()
    first = tracemalloc.get_traced_memory()[0]
    for _ in range(1000):
        step()
    second = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert second - first < 200_000, (first, second)


def test_saved_arrays_are_released_after_backward():
    x = tg.randn(100, requires_grad=True)
    y = x.exp()
    z = y.sum()
    z.backward()
    assert y.grad_fn.saved is None


def test_gradcheck_reports_the_worst_mismatch():
    class Wrong(tg.autograd.Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return (g * 3,)

    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    with pytest.raises(tg.testing.GradcheckError, match="Jacobian mismatch for input 0"):
        gradcheck(lambda t: Wrong.apply(t), [x])
    assert gradcheck(lambda t: Wrong.apply(t), [x], raise_exception=False) is False
