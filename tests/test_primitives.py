"""Every primitive: Hypothesis property tests of backward against central differences (float64,
random upstream gradients), second derivatives where they exist, and forward/backward against PyTorch."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tg
from tinygrad_cnn.testing import strategies as S

from .helpers import check_gradients, compare_with_torch, requires_torch, torch

# name -> (our op, torch's op, how to draw inputs, has a second derivative worth checking)
UNARY = {
    "neg": (lambda x: -x, lambda x: -x, S.arrays, True),
    "exp": (lambda x: x.exp(), lambda x: x.exp(), S.arrays, True),
    "log": (lambda x: x.log(), lambda x: x.log(), S.positive_arrays, True),
    "sqrt": (lambda x: x.sqrt(), lambda x: x.sqrt(), S.positive_arrays, True),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh(), S.arrays, True),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid(), S.arrays, True),
    "abs": (lambda x: x.abs(), lambda x: x.abs(), lambda s: S.arrays(s, away_from=0.0), False),
    "relu": (lambda x: x.relu(), lambda x: x.relu(), lambda s: S.arrays(s, away_from=0.0), False),
    "pow3": (lambda x: x ** 3, lambda x: x ** 3, S.arrays, True),
    "pow_half": (lambda x: x ** 0.5, lambda x: x ** 0.5, S.positive_arrays, True),
    "square": (lambda x: x ** 2, lambda x: x ** 2, S.arrays, True),
    "rsub_scalar": (lambda x: 2.5 - x, lambda x: 2.5 - x, S.arrays, False),
    "rdiv_scalar": (lambda x: 2.0 / x, lambda x: 2.0 / x, S.positive_arrays, True),
    "clamp": (lambda x: x.clamp(-1, 1), lambda x: x.clamp(-1, 1), lambda s: S.arrays(s, away_from=1.0), False),
}

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, S.arrays, False),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, S.arrays, False),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, S.arrays, True),
    "div": (lambda a, b: a / b, lambda a, b: a / b, S.positive_arrays, True),
    "maximum": (tg.maximum, lambda a, b: a.maximum(b), lambda s: S.arrays(s, distinct=True, margin=0.01), False),
    "pow_tensor": (lambda a, b: a ** b, lambda a, b: a ** b, S.positive_arrays, True),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_gradient(name, data):
    op, _, values, second = UNARY[name]
    x = data.draw(values(data.draw(S.shapes(max_dims=3, max_side=4))))
    check_gradients(op, [x], second_order=second)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name, device):
    op, torch_op, _, _ = UNARY[name]
    x = np.random.default_rng(1).uniform(0.3, 2.0, (3, 4)) * np.array([1, -1, 1, -1])
    if UNARY[name][2] is S.positive_arrays:
        x = np.abs(x)
    compare_with_torch(op, torch_op, [x], device)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_gradient_with_broadcasting(name, data):
    op, _, values, second = BINARY[name]
    shape_a, shape_b = data.draw(S.broadcastable_shapes(max_dims=3, max_side=3))
    if name == "maximum":  # distinct values across both inputs: no ties
        both = data.draw(values((int(np.prod(shape_a)) + int(np.prod(shape_b)),)))
        a, b = both[:int(np.prod(shape_a))].reshape(shape_a), both[int(np.prod(shape_a)):].reshape(shape_b)
    else:
        a, b = data.draw(values(shape_a)), data.draw(values(shape_b))
    check_gradients(op, [a, b], second_order=second)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_torch(name, device):
    op, torch_op, _, _ = BINARY[name]
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.5, 2.0, (2, 3, 4)), rng.uniform(0.5, 2.0, (3, 1))
    compare_with_torch(op, torch_op, [a, b], device)


def test_maximum_ties_split_the_gradient_like_torch():
    """Tie rule: where a == b, torch.maximum gives each input half of the gradient."""
    a = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = tg.tensor([1.0, 5.0, 0.0], requires_grad=True)
    tg.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0, 1.0] and b.grad.tolist() == [0.5, 1.0, 0.0]


@requires_torch
@pytest.mark.parametrize("upstream", [np.inf, np.nan])
def test_maximum_and_minimum_give_the_other_side_exactly_zero_as_torch(upstream):
    """The smaller input of maximum (the larger of minimum) gets exactly 0, not 0 * inf = NaN; a tie
    halves the upstream gradient, a NaN input takes all of it on both sides: as in PyTorch."""
    x, y = np.array([1.0, 2.0, 3.0, np.nan]), np.array([2.0, 2.0, 1.0, 0.0])
    for name in ("maximum", "minimum"):
        grads = []
        for L in (tg, torch):
            a, b = L.tensor(x, requires_grad=True), L.tensor(y, requires_grad=True)
            getattr(L, name)(a, b).backward(L.full((4,), upstream, dtype=L.float64))
            grads.append((a.grad.numpy(), b.grad.numpy()))
        for ours, theirs in zip(*grads):
            np.testing.assert_array_equal(ours, theirs)


def test_where_routes_gradient_by_condition(device):
    rng = np.random.default_rng(3)
    cond = rng.random((3, 4)) > 0.5
    compare_with_torch(lambda a, b: tg.where(tg.tensor(cond, device=device), a, b),
                       lambda a, b: torch.where(torch.tensor(cond), a, b),
                       [rng.standard_normal((3, 4)), rng.standard_normal((1, 4))], device)


def test_where_wants_a_boolean_condition_as_torch_does():
    """A float mask is refused (as torch.where does) rather than multiplied in: 2.0 is not "True"."""
    x = tg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="where: expected condition to be a boolean tensor, but got a tensor "
                                           "with dtype float32"):
        tg.where(tg.tensor([1.0, 0.0, 2.0]), x, 0.0)
    if torch is not None:
        with pytest.raises(RuntimeError, match="boolean"):
            torch.where(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([1.0, 2.0, 3.0]), 0.0)
    assert tg.where(np.array([True, False, True]), x, 0.0).tolist() == [1.0, 0.0, 3.0]
    assert tg.where(x > 1.5, x, 0.0).tolist() == [0.0, 2.0, 3.0]


@given(data=st.data())
def test_where_gradient(data):
    shape = data.draw(S.shapes(1, 3, 1, 4))
    cond = np.random.default_rng(data.draw(st.integers(0, 100))).random(shape) > 0.5
    a, b = data.draw(S.arrays(shape)), data.draw(S.arrays(shape))
    check_gradients(lambda x, y: tg.where(tg.tensor(cond), x, y), [a, b], second_order=True)


def test_cast_keeps_gradient_dtype():
    x = tg.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = (x.double() * 3).sum()
    y.backward()
    assert x.grad.dtype == tg.float32 and x.grad.tolist() == [3.0, 3.0]


# ---- reductions ----------------------------------------------------------------------
@st.composite
def shape_and_dims(draw, min_dims=1):
    shape = draw(S.shapes(min_dims, 3, 1, 4))
    dims = draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=len(shape),
                         unique_by=lambda d: d % len(shape)))
    return shape, tuple(dims), draw(st.booleans())


@given(sd=shape_and_dims(), data=st.data())
def test_sum_and_mean_gradients(sd, data):
    shape, dims, keepdim = sd
    x = data.draw(S.arrays(shape))
    check_gradients(lambda t: t.sum(dims, keepdim), [x], second_order=True)
    check_gradients(lambda t: t.mean(dims, keepdim), [x])


@given(sd=shape_and_dims(), correction=st.sampled_from([0, 1]), data=st.data())
def test_var_gradient(sd, correction, data):
    shape, dims, keepdim = sd
    if int(np.prod([shape[d] for d in dims])) <= correction:
        return
    x = data.draw(S.arrays(shape))
    check_gradients(lambda t: t.var(dims, keepdim=keepdim, correction=correction), [x], second_order=True)


@given(sd=shape_and_dims(), data=st.data())
def test_max_along_dim_and_amax_gradients(sd, data):
    shape, dims, keepdim = sd
    x = data.draw(S.arrays(shape, distinct=True, margin=0.01, low=-3, high=3))
    check_gradients(lambda t: t.max(dims[0], keepdim)[0], [x])
    check_gradients(lambda t: t.amax(dims, keepdim), [x])
    check_gradients(lambda t: t.min(dims[0], keepdim)[0], [x])


@pytest.mark.parametrize("case", [
    ("sum", lambda t: t.sum((0, 2)), lambda t: t.sum((0, 2))),
    ("sum_keepdim", lambda t: t.sum(-1, keepdim=True), lambda t: t.sum(-1, keepdim=True)),
    ("mean", lambda t: t.mean(1), lambda t: t.mean(1)),
    ("var_unbiased", lambda t: t.var(1), lambda t: t.var(1)),
    ("var_biased", lambda t: t.var((0, 2), unbiased=False), lambda t: t.var((0, 2), unbiased=False)),
    ("var_correction2", lambda t: t.var(2, correction=2), lambda t: t.var(2, correction=2)),
    ("std", lambda t: t.std(0), lambda t: t.std(0)),
    ("max_dim", lambda t: t.max(1)[0], lambda t: t.max(1)[0]),
    ("min_dim", lambda t: t.min(2, keepdim=True)[0], lambda t: t.min(2, keepdim=True)[0]),
    ("amax", lambda t: t.amax((1, 2)), lambda t: t.amax((1, 2))),
    ("max_all", lambda t: t.max(), lambda t: t.max()),
    ("logsumexp", lambda t: t.logsumexp(1), lambda t: t.logsumexp(1)),
    ("softmax", lambda t: t.softmax(-1), lambda t: t.softmax(-1)),
    ("log_softmax", lambda t: t.log_softmax(1), lambda t: t.log_softmax(1)),
], ids=lambda c: c[0])
def test_reductions_match_torch(case, device):
    _, op, torch_op = case
    compare_with_torch(op, torch_op, [np.random.default_rng(4).standard_normal((3, 4, 5))], device)


def test_max_tie_rules_match_torch():
    """max(dim) sends the gradient to the one (first) index it returns; max()/amax split it among ties."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    compare_with_torch(lambda t: t.max(1)[0], lambda t: t.max(1)[0], [x])
    compare_with_torch(lambda t: t.max(), lambda t: t.max(), [x])
    compare_with_torch(lambda t: t.amax(1), lambda t: t.amax(1), [x])
    t = tg.tensor(x, requires_grad=True)
    values, indices = t.max(1)
    values.sum().backward()
    assert indices.tolist() == [1, 0] and t.grad.tolist() == [[0, 1, 0], [1, 0, 0]]
    t.grad = None
    t.amax(1).sum().backward()
    assert t.grad.tolist() == [[0, 0.5, 0.5], [0.5, 0.5, 0]]


@requires_torch
def test_full_max_and_amax_with_nan_and_infinite_gradients_match_torch():
    """PyTorch's full max()/min() give exactly 0 off the maximum and a NaN maximum's gradient to the NaNs;
    its amax/amin multiply by the share (NaN off the maximum for an inf gradient): both copied, warning-free."""
    for x in (np.array([1.0, 4.0, 3.0, 4.0]), np.array([1.0, np.nan, 3.0, np.nan]), np.array([[1.0, 4.0], [4.0, 2.0]])):
        for upstream in (np.inf, np.nan, 1.5):
            for name in ("max", "min", "amax", "amin"):
                grads = []
                for L in (tg, torch):
                    t = L.tensor(x, requires_grad=True)
                    getattr(t, name)().backward(L.tensor(upstream, dtype=L.float64))
                    grads.append(t.grad.numpy())
                np.testing.assert_array_equal(*grads, err_msg=f"{name} of {x} with upstream {upstream}")


# ---- matmul --------------------------------------------------------------------------
@st.composite
def matmul_shapes(draw):
    m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(S.broadcastable_shapes(0, 2, 3))
    kind = draw(st.sampled_from(["vv", "mv", "vm", "mm", "batched"]))
    if kind == "vv":
        return (k,), (k,)
    if kind == "mv":
        return (m, k), (k,)
    if kind == "vm":
        return (k,), (k, n)
    if kind == "mm":
        return (m, k), (k, n)
    return batch_a + (m, k), batch_b + (k, n)


@given(shapes=matmul_shapes(), data=st.data())
def test_matmul_gradient(shapes, data):
    a, b = data.draw(S.arrays(shapes[0])), data.draw(S.arrays(shapes[1]))
    check_gradients(lambda x, y: x @ y, [a, b], second_order=True)


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                                    ((5, 2, 3), (3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((4, 2, 3), (4, 3, 2))])
def test_matmul_matches_torch(shapes, device):
    rng = np.random.default_rng(5)
    compare_with_torch(lambda a, b: a @ b, lambda a, b: a @ b,
                       [rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])], device)


# ---- movement ------------------------------------------------------------------------
MOVEMENT = {
    "reshape": (lambda t: t.reshape(4, -1), lambda t: t.reshape(4, -1)),
    "view": (lambda t: t.view(2, 2, 6), lambda t: t.view(2, 2, 6)),
    "permute": (lambda t: t.permute(2, 0, 1), lambda t: t.permute(2, 0, 1)),
    "transpose": (lambda t: t.transpose(0, 2), lambda t: t.transpose(0, 2)),
    "flatten": (lambda t: t.flatten(1), lambda t: t.flatten(1)),
    "unsqueeze": (lambda t: t.unsqueeze(1), lambda t: t.unsqueeze(1)),
    "squeeze": (lambda t: t[:, :1].squeeze(1), lambda t: t[:, :1].squeeze(1)),
    "expand": (lambda t: t[:, :1].expand(3, 2, 5, 4), lambda t: t[:, :1].expand(3, 2, 5, 4)),
    "getitem_slices": (lambda t: t[1:, ::2, -2], lambda t: t[1:, ::2, -2]),
    "getitem_none_ellipsis": (lambda t: t[None, ..., 1], lambda t: t[None, ..., 1]),
    "getitem_int_array_repeats": (lambda t: t[[0, 1, 0, 0]], lambda t: t[[0, 1, 0, 0]]),
    "getitem_two_arrays": (lambda t: t[[0, 1, 1], :, [2, 0, 2]], lambda t: t[[0, 1, 1], :, [2, 0, 2]]),
    "getitem_bool_mask": (lambda t: t[tg.tensor([True, False])], lambda t: t[torch.tensor([True, False])]),
    "pad": (lambda t: tg.nn.functional.pad(t, (1, 2, 0, 1)),
            lambda t: torch.nn.functional.pad(t, (1, 2, 0, 1))),
    "pad_value": (lambda t: tg.nn.functional.pad(t, (1, 1), value=-2.0),
                  lambda t: torch.nn.functional.pad(t, (1, 1), value=-2.0)),
    "cat": (lambda t: tg.cat([t, t * 2, t[:, :1]], dim=1), lambda t: torch.cat([t, t * 2, t[:, :1]], dim=1)),
    "stack": (lambda t: tg.stack([t, -t], dim=-1), lambda t: torch.stack([t, -t], dim=-1)),
    "chunk": (lambda t: t.chunk(2, dim=2)[1], lambda t: t.chunk(2, dim=2)[1]),
}


@pytest.mark.parametrize("name", sorted(MOVEMENT))
def test_movement_matches_torch(name, device):
    op, torch_op = MOVEMENT[name]
    compare_with_torch(op, torch_op, [np.random.default_rng(6).standard_normal((2, 3, 4))], device)


@pytest.mark.parametrize("name", sorted(MOVEMENT))
@given(data=st.data())
def test_movement_gradient(name, data):
    op, _ = MOVEMENT[name]
    check_gradients(op, [data.draw(S.arrays((2, 3, 4)))], second_order=True)


@given(shape=S.shapes(1, 4, 1, 4), data=st.data())
def test_permute_and_reshape_gradients_over_shapes(shape, data):
    x = data.draw(S.arrays(shape))
    order = data.draw(st.permutations(range(len(shape))))
    check_gradients(lambda t: t.permute(*order).reshape(-1), [x])


@given(pair=S.broadcastable_shapes(1, 3, 3), data=st.data())
def test_expand_gradient(pair, data):
    small, big = pair
    target = np.broadcast_shapes(small, big)
    check_gradients(lambda t: t.expand(*target), [data.draw(S.arrays(small))])


def test_a_tall_matmul_computed_by_row_blocks_equals_the_plain_product():
    """Products with at least 2 * ROWS rows go block by block (faster with few columns); same numbers."""
    from tinygrad_cnn.ops import matmul

    rng = np.random.default_rng(0)
    rows = 2 * matmul.ROWS + 123  # a last, partial block too
    for dtype in (np.float32, np.float64):
        a, b = rng.standard_normal((rows, 16)).astype(dtype), rng.standard_normal((16, 9)).astype(dtype)
        ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
        out = ta @ tb
        tolerance = 1e-5 if dtype == np.float32 else 1e-12  # (BLAS may sum in another order)
        np.testing.assert_allclose(out.detach().numpy(), a @ b, rtol=tolerance, atol=tolerance)
        g = rng.standard_normal(out.shape).astype(dtype)
        out.backward(tg.tensor(g))
        loose = dtype == np.float32
        np.testing.assert_allclose(ta.grad.numpy(), g @ b.T, rtol=1e-5, atol=1e-4 if loose else 1e-12)
        np.testing.assert_allclose(tb.grad.numpy(), a.T @ g, rtol=1e-4, atol=1e-2 if loose else 1e-9)


def test_a_product_over_one_term_is_the_exact_outer_product():
    """(M, 1) @ (1, N) (a linear layer's weight gradient at batch 1) is computed as a broadcast product:
    exactly the products, batch dims broadcast as matmul's; gradients checked numerically."""
    rng = np.random.default_rng(0)
    for left, right in [((500, 1), (1, 2450)), ((3, 4, 1), (1, 5)), ((2, 1, 6, 1), (3, 1, 7))]:
        a, b = rng.standard_normal(left).astype(np.float32), rng.standard_normal(right).astype(np.float32)
        out = (tg.tensor(a) @ tg.tensor(b)).numpy()
        exact = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)  # one product each
        assert out.shape == exact.shape
        np.testing.assert_array_equal(out, exact)
    check_gradients(lambda x, y: x @ y, [rng.standard_normal((4, 1)), rng.standard_normal((1, 3))])
    check_gradients(lambda x, y: x @ y, [rng.standard_normal((2, 1, 4, 1)), rng.standard_normal((3, 1, 3))])


@pytest.mark.parametrize("layout", [(0, 1, 2, 3), (0, 2, 3, 1), (1, 0, 2, 3), (3, 2, 1, 0)],
                         ids=["nchw", "channels_last", "cnhw", "reversed"])
def test_float32_sums_keep_float64_accuracy_in_every_memory_layout(layout):
    """A float32 sum over long strided axes (a batch norm's statistics and bias gradient) keeps
    nearly every digit: NumPy's own float32 sum adds such axes one element after another and
    loses up to 5e-6 here (channels-last memory, over N, H, W); ours, blocked BLAS sums added in
    float64 (65536 rows: 64 blocks of 1024), stays within a few float32 roundings."""
    rng = np.random.default_rng(0)
    values = rng.random((64, 4, 32, 32))  # positive: the partial sums grow, and so would their error
    x = np.ascontiguousarray(values.astype(np.float32).transpose(layout)).transpose(np.argsort(layout))
    exact = x.astype(np.float64)
    for dims in [(0, 2, 3), (0,), (2, 3), (0, 1, 2, 3), (0, 3)]:
        for keepdim in (False, True):
            got = tg.tensor(x).sum(dims, keepdim=keepdim).numpy()
            expected = exact.sum(axis=dims, keepdims=keepdim)
            assert got.dtype == np.float32 and got.shape == expected.shape
            assert np.abs(got - expected).max() <= 4e-7 * np.abs(expected).min(), (dims, keepdim)


def test_per_channel_operands_repeated_for_long_inner_loops_give_the_same_values_and_layout():
    """A (1, C, 1, 1) operand against a channels-last activation, or a conv's bias against its
    (N*OH*OW, O) product, is repeated along the large operand's inner memory axes before the operation
    (elementwise._broadcast): values, the output's memory layout and gradients are the plain broadcast's."""
    from tinygrad_cnn.ops.elementwise import _broadcast

    rng = np.random.default_rng(0)
    activation = rng.standard_normal((8, 24, 24, 6)).astype(np.float32).transpose(0, 3, 1, 2)  # NCHW view
    scale = rng.standard_normal((1, 6, 1, 1)).astype(np.float32)
    expanded = np.broadcast_to(scale, activation.shape)  # as Tensor.expand leaves it: stride 0
    product, bias = rng.standard_normal((8 * 24 * 24, 6)).astype(np.float32), scale.reshape(6)
    cases = [(activation, scale), (scale, activation), (expanded, activation), (activation, expanded),
             (product, bias), (bias, product), (activation, scale[0])]
    for a, b in cases:
        for op in (np.add, np.subtract, np.multiply, np.divide):
            plain, repeated = op(a, b), _broadcast(op, a, b)
            assert np.array_equal(plain, repeated) and plain.strides == repeated.strides
    x = tg.tensor(activation, requires_grad=True)
    s = tg.tensor(scale, requires_grad=True)
    y = (x * s + s) / (s * s + 1) - s
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(tg.tensor(g))
    if torch is not None:
        tx = torch.tensor(activation, requires_grad=True)
        ts = torch.tensor(scale, requires_grad=True)
        ((tx * ts + ts) / (ts * ts + 1) - ts).backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
        np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), rtol=1e-4)


def test_matmul_gradients_made_as_swapped_products_are_the_plain_ones_in_the_inputs_memory_order():
    """MatMul's backward computes (b @ g^T)^T for g @ b^T where that is faster (a conv's small, wide
    weight gradient summed over many pixels) or keeps a large transposed input's memory order (a
    flattened batch-last image): the same numbers as the plain products, and a large transposed
    input gets a gradient stored the same way."""
    from tinygrad_cnn.ops.matmul import LARGE, _swap

    rng = np.random.default_rng(0)
    flattened = rng.standard_normal((300, LARGE // 200)).T  # transposed view, (LARGE // 200, 300)
    weight = rng.standard_normal((300, 7))
    filters, windows = rng.standard_normal((4, 30)), rng.standard_normal((30, 2000))
    for a, b in ((flattened, weight), (filters, windows), (windows.T, filters.T)):
        ta, tb = tg.from_numpy(a).requires_grad_(), tg.from_numpy(b).requires_grad_()  # in their memory order
        g = rng.standard_normal((a.shape[0], b.shape[1]))
        (ta @ tb).backward(tg.tensor(g))
        np.testing.assert_allclose(ta.grad.numpy(), g @ b.T, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tb.grad.numpy(), a.T @ g, rtol=1e-12, atol=1e-12)
    assert _swap(flattened, 7) and _swap(filters, 2000) and not _swap(weight, 2000)
    ta = tg.from_numpy(flattened).requires_grad_()
    (ta @ tg.tensor(weight)).sum().backward()
    assert ta.grad.array.flags.f_contiguous  # stored as the input is


def test_relu_backward_of_a_broadcast_gradient_keeps_the_activations_memory_order():
    """relu's backward routes a gradient through its mask; a gradient that arrives as a broadcast (from
    a mean over H and W) comes out stored as the activation is (here batch-last), not in C order:
    the layers before then read one memory order, not two."""
    rng = np.random.default_rng(0)
    activation = np.ascontiguousarray(rng.standard_normal((4, 3, 5, 6)).transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    x = tg.from_numpy(activation).requires_grad_()
    y = x * 1.0  # stored as x is: batch-last
    y.retain_grad()
    y.relu().mean((2, 3)).sum().backward()
    assert y.grad.array.strides == y.array.strides and y.array.strides[0] == 8
    np.testing.assert_array_equal(y.grad.numpy(), (activation > 0) / 30.0)
