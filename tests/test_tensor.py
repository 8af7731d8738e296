"""The Tensor API: creation, dtypes, attributes, conversions, indexing and clear errors."""
import numpy as np
import pytest

import tinygrad_cnn as tg

from .helpers import requires_torch, torch


def test_default_dtypes_follow_pytorch():
    assert tg.tensor([1.0, 2.0]).dtype == tg.float32 and tg.tensor(3.5).dtype == tg.float32
    assert tg.tensor([1, 2]).dtype == tg.int64 and tg.tensor([True]).dtype == tg.bool
    assert tg.tensor(np.ones(2)).dtype == tg.float64  # float64 inputs stay float64
    assert tg.zeros(2, 3).dtype == tg.float32 and tg.arange(5).dtype == tg.int64 and tg.arange(0.0, 1.0, 0.5).dtype == tg.float32
    assert (tg.ones(2, dtype=tg.float64) * 2.0).dtype == tg.float64  # a Python float does not upcast
    assert (tg.tensor([1, 2]) * 1.5).dtype == tg.float32 and (tg.tensor([1, 2]) / 2).tolist() == [0.5, 1.0]


def test_creation_functions():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.ones((4,)).tolist() == [1, 1, 1, 1]
    assert tg.full((2,), 7).tolist() == [7, 7] and tg.full((2,), 7).dtype == tg.int64
    assert tg.arange(1, 7, 2).tolist() == [1, 3, 5] and tg.eye(2).tolist() == [[1, 0], [0, 1]]
    x = tg.randn(3, 4)
    assert tg.zeros_like(x).shape == (3, 4) and tg.ones_like(x, dtype=tg.float64).dtype == tg.float64
    tg.manual_seed(3)
    a = tg.rand(5)
    tg.manual_seed(3)
    assert a.tolist() == tg.rand(5).tolist() and 0 <= a.numpy().min() and a.numpy().max() < 1
    shared = np.arange(3.0)
    t = tg.from_numpy(shared)
    shared[0] = 9
    assert t.tolist()[0] == 9  # from_numpy shares memory; tg.tensor copies
    assert tg.tensor(shared).tolist()[0] == 9 and tg.tensor(shared) is not shared


def test_attributes_and_conversions():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and isinstance(x.shape, tuple) and x.ndim == 2 and x.device == "cpu"
    assert x.is_leaf and x.requires_grad and x.grad is None and x.size(1) == 2 and x.numel() == 4
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None
    assert y.detach().numpy().tolist() == [[2, 4], [6, 8]] and x.sum().item() == 10.0
    with pytest.raises(RuntimeError, match="Use tensor.detach\\(\\).numpy\\(\\)"):
        x.numpy()
    assert x.double().dtype == tg.float64 and x.long().dtype == tg.int64 and x.float().dtype == tg.float32
    assert float(tg.tensor(2.5)) == 2.5 and int(tg.tensor(3)) == 3 and len(x) == 2


def test_repr_is_readable():
    assert repr(tg.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"  # PyTorch's format
    assert "requires_grad=True" in repr(tg.ones(1, requires_grad=True))
    assert "grad_fn=<MulBackward0>" in repr(tg.ones(1, requires_grad=True) * 2)
    assert "dtype=torch.float64" in repr(tg.ones(1, dtype=tg.float64))


def test_comparisons_carry_no_gradient():
    x = tg.tensor([1.0, -1.0], requires_grad=True)
    mask = x > 0
    assert mask.dtype == tg.bool and not mask.requires_grad and mask.tolist() == [True, False]
    assert (x == x).all().item() and (x != 1.0).tolist() == [False, True]


@requires_torch
def test_indexing_matches_torch():
    values = np.arange(24.0).reshape(2, 3, 4)
    x, t = tg.tensor(values), torch.tensor(values)
    for index in [(1,), (slice(None), 0), (Ellipsis, -1), (None, 0, slice(1, 3)), ([0, 1, 1], slice(None), [3, 0, 0]),
                  (slice(None, None, 2),), (0, [2, 0])]:
        np.testing.assert_array_equal(x[index].numpy(), t[index].numpy(), err_msg=str(index))
    np.testing.assert_array_equal(x[tg.tensor([1, 0])].numpy(), t[torch.tensor([1, 0])].numpy())


def test_reductions_with_dims():
    x = tg.arange(24, dtype=tg.float32).reshape(2, 3, 4)
    assert x.sum(-1).shape == (2, 3) and x.sum((0, 2)).tolist() == [60.0, 92.0, 124.0]
    assert x.mean(1, keepdim=True).shape == (2, 1, 4)
    values, indices = x.max(1)
    assert values.shape == (2, 4) and indices.dtype == tg.int64 and indices.tolist() == [[2] * 4] * 2
    assert x.max(dim=0).values.shape == (3, 4) and x.argmax().item() == 23


def test_errors_name_the_operation_and_what_was_expected():
    x = tg.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match=r"matmul: shapes \(4, 3\) and \(4, 5\) do not align \(3 != 4\)"):
        tg.ones(4, 3) @ tg.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"reshape: shape \[4, 2\] is invalid for input of size 6"):
        x.reshape(4, 2)
    with pytest.raises(IndexError, match=r"sum: dim 2 is out of range for a tensor with 2 dims"):
        x.sum(2)
    with pytest.raises(RuntimeError, match="expand: the expanded size of the tensor"):
        x.expand(3, 3)
    with pytest.raises(RuntimeError, match="permute: dims"):
        x.permute(0, 0)
    with pytest.raises(RuntimeError, match="permute: dims"):
        x.permute(0, 2)
    with pytest.raises(RuntimeError, match="permute: dims"):
        x.permute(-3, 1)
    with pytest.raises(IndexError, match=r"transpose: dim -3 is out of range for a tensor with 2 dims"):
        x.transpose(-3, 0)
    with pytest.raises(IndexError, match=r"max: dim 1 is out of range for a tensor with 0 dims \(expected to be "
                                         r"in range of \[-1, 0\]\)"):
        tg.tensor(3.0).max(dim=1)  # a 0-d tensor takes dim 0 or -1, as in PyTorch
    assert tg.tensor(3.0).max(dim=-1).values.item() == 3.0
    assert x.permute(-1, 0).shape == (3, 2) and x.transpose(-1, -2).shape == (3, 2)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="cat: sizes of tensors must match"):
        tg.cat([tg.ones(2, 3), tg.ones(3, 2)], dim=0)
    assert x.grad is None and x.tolist() == [[1.0] * 3] * 2  # nothing changed


def test_in_place_updates_under_no_grad():
    w = tg.ones(3, requires_grad=True)
    with tg.no_grad():
        w.sub_(tg.tensor([1.0, 2.0, 3.0]), alpha=0.5).mul_(2)
    assert w.tolist() == [1.0, 0.0, -1.0] and w.requires_grad


def test_split_chunk_and_stack():
    x = tg.arange(10, dtype=tg.float32)
    assert [p.tolist() for p in x.split(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(x.chunk(3)) == 3 and tg.stack([x, x]).shape == (2, 10)


@requires_torch
def test_top_level_functions_match_torch():
    """``tg.f(x, ...)`` exists for the torch.* functions that mirror a Tensor method, with torch's result."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    ours, theirs = tg.tensor(x), torch.tensor(x)
    calls = {
        "flatten": ((1,), {}), "reshape": (((4, 6),), {}), "exp": ((), {}), "log": ((), {}), "sqrt": ((), {}),
        "abs": ((), {}), "tanh": ((), {}), "sigmoid": ((), {}), "relu": ((), {}), "square": ((), {}),
        "clamp": ((-0.5, 0.5), {}), "clip": ((-0.1,), {}), "sum": ((1,), {"keepdim": True}), "mean": ((2,), {}),
        "var": ((0,), {}), "std": ((), {}), "amax": ((1,), {}), "amin": ((2,), {}), "argmax": ((1,), {}),
        "argmin": ((2,), {}), "logsumexp": ((2,), {}), "softmax": ((1,), {}), "log_softmax": ((2,), {}),
        "transpose": ((0, 2), {}), "permute": (((2, 0, 1),), {}), "unsqueeze": ((1,), {}), "squeeze": ((), {}),
        "erf": ((), {}), "sign": ((), {}), "rsqrt": ((), {}), "pow": ((2,), {}), "unflatten": ((2, (2, 2)), {}),
        "broadcast_to": (((3, 2, 3, 4),), {}),
    }
    for name, (args, kwargs) in calls.items():
        positive = name in ("log", "sqrt", "rsqrt")
        a, b = (ours.abs(), theirs.abs()) if positive else (ours, theirs)
        got, expected = getattr(tg, name)(a, *args, **kwargs), getattr(torch, name)(b, *args, **kwargs)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
    values, indices = tg.max(ours, 1)
    expected = torch.max(theirs, 1)
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    np.testing.assert_allclose(values.numpy(), expected.values.numpy())
    assert tg.matmul(ours, ours.transpose(1, 2)).shape == (2, 3, 3)
    assert [t.shape for t in tg.split(ours, 2, dim=2)] == [(2, 3, 2)] * 2 and len(tg.chunk(ours, 3, 1)) == 3
    assert tg.allclose(ours, ours + 1e-9) and not tg.allclose(ours, ours + 1) and tg.equal(ours, ours.clone())
    assert tg.all(ours == ours).item() and not tg.any(ours != ours).item()
    assert tg.t(tg.ones(2, 3)).shape == (3, 2)
