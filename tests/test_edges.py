"""Gradients at the edges, as PyTorch defines them: zeros, ties, constant inputs, huge logits;
drawn on purpose by Hypothesis, compared with torch (NaN and inf included), and without a single
NumPy warning. Also the dtype rules (conv/linear/matmul refuse mixed dtypes, elementwise ops promote as
PyTorch) and gradient clipping."""
import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

from .helpers import requires_torch, torch

EDGES = [0.0, 0.0, -0.0, 1.0, -1.0, 2.0, 2.0, 1e-8, -1e-8, 1e4, -1e4, 0.5, 3.0]

OPS = {
    "sqrt": lambda lib, x: x.abs().sqrt(),
    "pow 0.5": lambda lib, x: x.abs() ** 0.5,
    "pow 1.5": lambda lib, x: x.abs() ** 1.5,
    "pow 0": lambda lib, x: x ** 0.0,
    "pow -1": lambda lib, x: x ** -1.0,
    "pow 3": lambda lib, x: x ** 3,
    "log": lambda lib, x: x.abs().log(),
    "abs": lambda lib, x: x.abs(),
    "max": lambda lib, x: x.max(),
    "amax dim": lambda lib, x: x.reshape(-1, 1).expand(-1, 2).amax(0),
    "max dim": lambda lib, x: x.reshape(1, -1).max(1)[0],
    "std": lambda lib, x: x.std(),
    "std of a constant": lambda lib, x: (x * 0 + 2).std(),
    "var": lambda lib, x: x.var(),
    "norm": lambda lib, x: x.norm(),
    "norm of zeros": lambda lib, x: (x * 0).norm(),
    "norm 3": lambda lib, x: x.norm(3),
    "softmax": lambda lib, x: x.softmax(0),
    "log_softmax": lambda lib, x: x.log_softmax(0),
    "cross_entropy": lambda lib, x: (F if lib is tg else torch.nn.functional).cross_entropy(
        x.reshape(1, -1), lib.tensor([0])),
    "exp": lambda lib, x: x.clamp(-50, 50).exp(),
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "relu": lambda lib, x: x.relu(),
    "maximum": lambda lib, x: lib.maximum(x, x.flip(0) if lib is torch else x[::-1]),
    "div by itself": lambda lib, x: x / x,
}


def _run(lib, name, values, upstream):
    x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
    out = OPS[name](lib, x)
    out.backward(lib.tensor(np.broadcast_to(upstream, tuple(out.shape)).copy()))
    return np.asarray(out.tolist(), dtype=float), np.asarray(x.grad.tolist(), dtype=float)


@requires_torch
@pytest.mark.parametrize("name", sorted(OPS))
@given(values=st.lists(st.sampled_from(EDGES) | st.floats(-5, 5), min_size=2, max_size=6), data=st.data())
def test_edge_values_match_torch_without_numpy_warnings(name, values, data):
    upstream = data.draw(st.sampled_from([1.0, -0.5, np.inf, np.nan]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning may reach a user
        got = _run(tg, name, values, upstream)
    if name.startswith("norm") and not math.isfinite(upstream) and got[0] == 0:
        return  # a norm that comes out 0: its gradient is 0 here for any upstream one, PyTorch's 0 * inf = NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (torch warns about std of one value; we are not testing torch)
        expected = _run(torch, name, values, upstream)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_the_issue_edge_cases():
    x = tg.tensor([2.0, 2.0, 2.0], requires_grad=True)
    x.std().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    z = tg.zeros(3, requires_grad=True)
    z.norm().backward()
    assert z.grad.tolist() == [0.0, 0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isinf(tg.tensor(0.0).log().item()) and tg.tensor(-1.0).sqrt().isnan().item()


# ---- dtypes ---------------------------------------------------------------------------
@pytest.mark.parametrize("call,op", [
    (lambda: nn.Conv2d(1, 2, 3)(tg.zeros(1, 1, 5, 5, dtype=tg.float64)), "conv2d"),
    (lambda: nn.Linear(3, 2)(tg.zeros(4, 3, dtype=tg.float64)), "linear"),
    (lambda: nn.ConvTranspose2d(2, 1, 3)(tg.zeros(1, 2, 3, 3, dtype=tg.float64)), "conv_transpose2d"),
    (lambda: tg.zeros(2, 3) @ tg.zeros(3, 2, dtype=tg.float64), "matmul"),
])
def test_mixed_dtypes_in_conv_linear_matmul_are_an_error_naming_both(call, op):
    with pytest.raises(RuntimeError, match=f"{op}: .*float(64|32).* float(32|64)"):
        call()


def test_same_dtype_still_works_and_elementwise_ops_promote():
    assert nn.Linear(3, 2).double()(tg.zeros(4, 3, dtype=tg.float64)).dtype == tg.float64
    assert (tg.zeros(2) + tg.zeros(2, dtype=tg.float64)).dtype == tg.float64  # as torch's type promotion


@requires_torch
@pytest.mark.parametrize("op", ["add", "mul", "maximum", "minimum", "where"])
def test_binary_result_dtypes_follow_torchs_promotion(op):
    """Every pairing of bool, uint8, int32, int64, float32 and float64 operands, each a tensor with dims,
    a 0-d tensor or (but for maximum/minimum, which take tensors only) a Python number: the highest
    category wins, tensors with dims decide before 0-d ones (int64 with float32 gives float32, a 0-d
    float64 with float32 dims float32), where NumPy's rules differ."""
    dtypes = ["bool", "uint8", "int32", "int64", "float32", "float64"]
    numbers = {"bool": True, "uint8": 3, "int32": 3, "int64": 3, "float32": 2.5, "float64": 2.5}
    call = {"add": lambda L, a, b: a + b, "mul": lambda L, a, b: a * b,
            "maximum": lambda L, a, b: L.maximum(a, b), "minimum": lambda L, a, b: L.minimum(a, b),
            "where": lambda L, a, b: L.where(L.tensor([True, False, True]), a, b)}[op]

    def operand(L, dtype, kind):
        return numbers[dtype] if kind == "number" else L.tensor(np.array([1, 0, 1] if kind == "dims" else 1, dtype))

    other_kinds = ["dims", "0-d"] + ([] if op in ("maximum", "minimum") else ["number"])
    for a, a_kind, b, b_kind in itertools.product(dtypes, ["dims", "0-d"], dtypes, other_kinds):
        expected = str(call(torch, operand(torch, a, a_kind), operand(torch, b, b_kind)).dtype)[len("torch."):]
        got = call(tg, operand(tg, a, a_kind), operand(tg, b, b_kind)).dtype
        assert str(got) == expected, (a, a_kind, b, b_kind, str(got), expected)


def test_minimum_of_unsigned_integers_and_bools():
    """minimum is max of the negatives for floats; negating a uint8 or a bool keeps no order."""
    a, b = np.array([0, 7, 200], np.uint8), np.array([5, 3, 255], np.uint8)
    assert tg.minimum(tg.tensor(a), tg.tensor(b)).tolist() == [0, 3, 200]
    assert tg.minimum(tg.tensor([True, True, False]), tg.tensor([True, False, False])).tolist() == [True, False, False]


# ---- gradient clipping ----------------------------------------------------------------
def _with_grads(lib, grads):
    params = []
    for g in grads:
        p = lib.zeros(*g.shape, requires_grad=True)
        p.grad = lib.tensor(g)
        params.append(p)
    return params


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, "inf", math.inf, 0])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    ours, theirs = _with_grads(tg, grads), _with_grads(torch, grads)
    total = tg.nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, tg.Tensor) and total.dtype == tg.float32
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_on_one_tensor_and_nonfinite_norms():
    p = tg.zeros(2, requires_grad=True)
    p.grad = tg.tensor([3.0, 4.0])
    assert tg.nn.utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)  # one tensor is clipped too
    p.grad = tg.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        tg.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert tg.nn.utils.clip_grad_norm_([tg.zeros(2, requires_grad=True)], 1.0).item() == 0.0


@requires_torch
def test_clip_grad_value_matches_torch():
    grads = [np.array([[-3.0, 0.5], [2.0, -0.1]], dtype=np.float32)]
    ours, theirs = _with_grads(tg, grads), _with_grads(torch, grads)
    assert tg.nn.utils.clip_grad_value_(ours, 1.0) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.0)
    np.testing.assert_array_equal(ours[0].grad.numpy(), theirs[0].grad.numpy())
