"""In-place operations: recorded in the graph (gradients flow through them), versioned (a primitive
whose saved values changed refuses to backward), refused on leaves that require grad, each case
against PyTorch; and anomaly detection naming where a NaN gradient came from."""
import numpy as np
import pytest

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

from .helpers import requires_torch, torch

MODIFIED = "modified by an inplace operation"


def _both(build):
    """Run ``build(lib)`` with tinygrad_cnn and torch; each returns a list of gradients or raises."""
    results = []
    for lib in (tg, torch):
        try:
            results.append(("ok", [np.asarray(g.tolist()) for g in build(lib)]))
        except RuntimeError as error:
            results.append(("raised", str(error)))
    return results


def _x(lib, values):
    return lib.tensor(values, dtype=lib.float64, requires_grad=True)


def mul_of_an_exp_that_a_product_saved(lib):  # a saved tensor changed afterwards: both refuse
    x = _x(lib, [1.0, 2.0])
    y = x.exp()
    z = y * y
    y.mul_(3)
    z.sum().backward()
    return [x.grad]


def add_on_an_output_sigmoid_saved(lib):
    x = _x(lib, [1.0, 2.0])
    y = x.sigmoid()
    y.add_(1)
    y.sum().backward()
    return [x.grad]


def add_of_a_tensor_that_needs_grad(lib):  # recorded: the gradient reaches history and operand
    a, b = _x(lib, [1.0, 2.0, 3.0]), _x(lib, [1.0, 2.0, 3.0])
    y = a * 2
    y.add_(b * 3)
    y.sum().backward()
    return [a.grad, b.grad]


def mul_by_a_tensor_that_needs_grad(lib):
    a, b = _x(lib, [1.0, 2.0]), _x(lib, [3.0, 4.0])
    y = a * 2
    y.mul_(b)
    y.sum().backward()
    return [a.grad, b.grad]


def mul_by_itself(lib):
    a = _x(lib, [1.0, 2.0])
    y = a * 1
    y.mul_(a)
    y.sum().backward()
    return [a.grad]


def sub_with_alpha_then_div(lib):
    a, b = _x(lib, [1.0, 2.0]), _x(lib, [3.0, 5.0])
    y = a * 3
    y.sub_(b, alpha=2)
    y.div_(b)
    y.sum().backward()
    return [a.grad, b.grad]


def augmented_assignment_operators(lib):
    a, b = _x(lib, [1.0, -2.0]), _x(lib, [3.0, 0.5])
    y = a * 2
    y += b
    y *= b
    y.sum().backward()
    return [a.grad, b.grad]


def clamp_and_relu_in_place(lib):
    a = _x(lib, [-1.0, 0.3, 1.0, 2.0])
    y = a * 2
    y.clamp_(-1.0, 2.5)
    y.relu_()
    y.sum().backward()
    return [a.grad]


def setitem_of_a_tensor_that_needs_grad(lib):
    a, v = _x(lib, [1.0, 2.0, 3.0]), _x(lib, 5.0)
    y = a * 2
    y[1] = v * 2
    y.sum().backward()
    return [a.grad, v.grad]


def setitem_of_a_slice_broadcast(lib):
    a, v = _x(lib, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), _x(lib, [7.0, 8.0])
    y = a * 1
    y[:, 1:3] = v
    (y * y).sum().backward()
    return [a.grad, v.grad]


def copy_into_a_tensor_without_grad(lib):
    a = _x(lib, [1.0, 2.0])
    y = lib.zeros(2, dtype=lib.float64)
    y.copy_(a * 3)
    y.sum().backward()
    return [a.grad]


def zero_inside_the_graph(lib):
    a = _x(lib, [1.0, 2.0])
    y = a * 2
    y.zero_()
    (y + a).sum().backward()
    return [a.grad]


def in_place_op_on_a_leaf_that_requires_grad(lib):
    a = _x(lib, [1.0])
    a.add_(1)
    return [a]


def _linear_loss(lib, detach_input):
    x, w = _x(lib, [[1.0, 2.0]]), _x(lib, [[1.0, 1.0], [2.0, 0.5]])
    loss = ((x.detach() if detach_input else x) @ w.t()).sum()
    loss.backward(retain_graph=True)
    lib.optim.SGD([w], lr=0.1).step()
    loss.backward()
    return [w.grad]


def retained_graph_after_an_optimizer_step_on_a_weight_it_saved(lib):
    return _linear_loss(lib, detach_input=False)


def optimizer_step_on_a_weight_the_graph_did_not_save(lib):
    return _linear_loss(lib, detach_input=True)


CASES = {f.__name__: f for f in [
    mul_of_an_exp_that_a_product_saved, add_on_an_output_sigmoid_saved, add_of_a_tensor_that_needs_grad,
    mul_by_a_tensor_that_needs_grad, mul_by_itself, sub_with_alpha_then_div, augmented_assignment_operators,
    clamp_and_relu_in_place, setitem_of_a_tensor_that_needs_grad, setitem_of_a_slice_broadcast,
    copy_into_a_tensor_without_grad, zero_inside_the_graph, in_place_op_on_a_leaf_that_requires_grad,
    retained_graph_after_an_optimizer_step_on_a_weight_it_saved, optimizer_step_on_a_weight_the_graph_did_not_save,
]}


@requires_torch
@pytest.mark.parametrize("name", list(CASES))
def test_inplace_cases_match_torch(name):
    (ours, got), (theirs, expected) = _both(CASES[name])
    assert ours == theirs, (got, expected)
    if ours == "ok":
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-12)
    elif MODIFIED in expected:
        assert MODIFIED in got and "expected version" in got
    else:
        assert "leaf Variable that requires grad" in got


def test_the_issue_examples():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = y * y
    y.mul_(3)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: a float32 tensor of shape \(2,\)"):
        z.sum().backward()
    a, b = tg.tensor([1.0, 2.0, 3.0], requires_grad=True), tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 2
    y.add_(b * 3)
    y.sum().backward()
    assert b.grad.tolist() == [3.0, 3.0, 3.0] and a.grad.tolist() == [2.0, 2.0, 2.0]


def test_a_residual_block_written_with_add_keeps_its_shortcut_gradient():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.main, self.shortcut = nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 1)

        def forward(self, x):
            out = self.main(x)
            out.add_(self.shortcut(x))
            return F.relu(out, inplace=True)

    block = Block()
    block(tg.randn(2, 2, 5, 5)).sum().backward()
    assert block.shortcut.weight.grad is not None and float(block.shortcut.weight.grad.abs().sum()) > 0


def test_versions_count_in_place_changes_and_views_share_them():
    x = tg.zeros(2, 3)
    assert x._version == 0
    x.add_(1)
    x[0, 0] = 5.0
    x.mul_(2)
    assert x._version == 3 and x.tolist() == [[10.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    view = x.reshape(3, 2)
    view.zero_()
    assert x._version == view._version == 4 and x.sum().item() == 0  # a view and its base change together
    assert x.detach()._version == 4
    with tg.no_grad():
        w = tg.ones(2, requires_grad=True)
        w.sub_(0.5)  # allowed under no_grad, and counted
    assert w._version == 1 and w.tolist() == [0.5, 0.5]


def test_inplace_errors_as_pytorch():
    y = tg.zeros(3)
    with pytest.raises(RuntimeError, match=r"add_: output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        y.add_(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired output type int64"):
        tg.zeros(2, dtype=tg.int64).add_(1.5)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        tg.ones(2, requires_grad=True)[0] = 3.0


def test_detect_anomaly_names_the_primitive_composite_module_and_shapes():
    model = nn.Sequential(nn.Linear(3, 2))
    x = tg.tensor([[0.0, 1.0, 2.0]])
    out = (model(x) * tg.tensor([[0.0, 1.0]])).sqrt().sum()  # sqrt'(0) is inf
    with tg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            out.backward(retain_graph=True)
    message = str(info.value)
    assert "'SqrtBackward' returned inf values" in message and "(1, 2)" in message
    model.zero_grad()
    out.backward()  # outside anomaly mode the inf just flows on, as in PyTorch
    assert not tg.autograd.is_anomaly_enabled()

    bn = nn.Sequential(nn.BatchNorm2d(1))
    y = bn(tg.ones(2, 1, 2, 2, requires_grad=True) * float("nan"))
    tg.autograd.set_detect_anomaly(True)
    try:
        with pytest.raises(RuntimeError, match="returned nan values") as info:
            y.sum().backward()
    finally:
        tg.autograd.set_detect_anomaly(False)
    assert "composite batch_norm, in module 0 (BatchNorm2d), in module Sequential" in str(info.value)


def test_detect_anomaly_as_a_decorator_is_on_only_inside():
    @tg.autograd.detect_anomaly()
    def backward_of_sqrt_at_zero():
        assert tg.autograd.is_anomaly_enabled()
        tg.tensor([0.0, 1.0], requires_grad=True).sqrt().sum().backward()

    assert not tg.autograd.is_anomaly_enabled()  # decorating switched nothing on
    with pytest.raises(RuntimeError, match="SqrtBackward' returned inf"):
        backward_of_sqrt_at_zero()
    assert not tg.autograd.is_anomaly_enabled()


@requires_torch
@pytest.mark.parametrize("name", ["ReLU6", "Hardtanh", "ELU", "SiLU", "Mish", "Hardsigmoid", "Hardswish",
                                  "LeakyReLU", "ReLU"])
def test_activation_modules_with_inplace_change_their_input_as_torch(name):
    """``inplace=True`` writes the result into the input (the layer's output is the input tensor), and
    the gradient still flows through it, as in PyTorch."""
    values = np.array([-4.0, -3.0, -1.0, 0.0, 0.5, 2.0, 3.0, 7.0])
    results = []
    for lib, module in ((tg, getattr(nn, name)), (torch, getattr(torch.nn, name))):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        y = x * 1.0  # not a leaf: in place is allowed
        out = module(inplace=True)(y)
        assert out is y
        (out * lib.tensor(np.arange(8.0), dtype=lib.float64)).sum().backward()
        results.append((np.asarray(y.tolist()), np.asarray(x.grad.tolist())))
    (ours, our_grad), (theirs, their_grad) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-7)  # torch's float64 hardsigmoid: a float32 1/6
