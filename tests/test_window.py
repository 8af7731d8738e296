"""im2col/col2im (F.unfold/F.fold): PyTorch's layout and numbers, adjointness, gradients."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.testing import strategies as S

from .helpers import both_code_paths, check_gradients, code_paths, compare_with_torch, requires_torch, torch


def _args(g):
    return dict(kernel_size=g["kernel"], dilation=g["dilation"], padding=g["padding"], stride=g["stride"])


@given(g=S.conv_geometries(), data=st.data())
def test_unfold_gradient(g, data):
    x = data.draw(S.arrays((g["n"], g["c_in"], g["h"], g["w"])))
    check_gradients(lambda t: F.unfold(t, **_args(g)), [x], second_order=True)


@given(g=S.conv_geometries(), data=st.data())
def test_fold_gradient(g, data):
    oh = (g["h"] + 2 * g["padding"][0] - g["dilation"][0] * (g["kernel"][0] - 1) - 1) // g["stride"][0] + 1
    ow = (g["w"] + 2 * g["padding"][1] - g["dilation"][1] * (g["kernel"][1] - 1) - 1) // g["stride"][1] + 1
    cols = data.draw(S.arrays((g["n"], g["c_in"] * g["kernel"][0] * g["kernel"][1], oh * ow)))
    check_gradients(lambda t: F.fold(t, (g["h"], g["w"]), **_args(g)), [cols], second_order=True)


@given(g=S.conv_geometries(), seed=st.integers(0, 1000))
def test_unfold_and_fold_are_adjoint(g, seed):
    """<unfold(x), y> == <x, fold(y)> for every x and y: col2im is im2col's transpose."""
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal((g["n"], g["c_in"], g["h"], g["w"])))
    cols = F.unfold(x, **_args(g))
    y = tg.tensor(rng.standard_normal(cols.shape))
    left = float((cols * y).sum())
    right = float((x * F.fold(y, (g["h"], g["w"]), **_args(g))).sum())
    assert np.isclose(left, right, rtol=1e-10, atol=1e-10)


@requires_torch
@both_code_paths
@given(g=S.conv_geometries())
def test_unfold_and_fold_match_torch(paths, g):
    with code_paths(paths):
        _unfold_and_fold_match_torch(g)


def _unfold_and_fold_match_torch(g):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((g["n"], g["c_in"], g["h"], g["w"]))
    out = compare_with_torch(lambda t: F.unfold(t, **_args(g)),
                             lambda t: torch.nn.functional.unfold(t, **_args(g)), [x])
    cols = rng.standard_normal(out.shape)
    compare_with_torch(lambda t: F.fold(t, (g["h"], g["w"]), **_args(g)),
                       lambda t: torch.nn.functional.fold(t, (g["h"], g["w"]), **_args(g)), [cols])


def test_unfold_on_device(device):
    x = np.arange(2 * 3 * 5 * 4, dtype=np.float64).reshape(2, 3, 5, 4)
    compare_with_torch(lambda t: F.unfold(t, (2, 3), padding=1, stride=(2, 1)),
                       lambda t: torch.nn.functional.unfold(t, (2, 3), padding=1, stride=(2, 1)), [x], device)
    cols = np.random.default_rng(1).standard_normal((2, 3 * 4, 16))
    compare_with_torch(lambda t: F.fold(t, (5, 5), 2), lambda t: torch.nn.functional.fold(t, (5, 5), 2), [cols],
                       device)


def test_unfold_of_the_lecture_image_is_nine_columns_of_nine():
    image = tg.tensor([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
                      dtype=tg.float32).reshape(1, 1, 5, 5)
    cols = F.unfold(image, 3)
    assert cols.shape == (1, 9, 9)
    assert cols[0, :, 0].tolist() == [1, 1, 1, 0, 1, 1, 0, 0, 1]  # the top-left window, row by row


def test_window_errors_name_the_op():
    with pytest.raises(RuntimeError, match=r"unfold: 5x5 window with stride 1 does not fit a 3x3 input"):
        F.unfold(tg.zeros(1, 1, 3, 3), 5)
    with pytest.raises(RuntimeError, match="fold: an output of size"):
        F.fold(tg.zeros(1, 4, 5), (4, 4), 2)


@pytest.mark.parametrize("geometry", [dict(kernel_size=3, padding=1), dict(kernel_size=(2, 3), stride=(1, 2)),
                                      dict(kernel_size=3, dilation=2, padding=2)])
def test_col2im_a_chunk_of_images_at_a_time_adds_the_same(geometry, monkeypatch):
    """col2im adds ops.window.CHUNK_BYTES of windows at a time (images stay in cache): one image at a
    time gives the same bits as the whole batch at once, in the "rows" layout (fold, a conv's input
    gradient) and the "kernel" one (the gradient of overlapping max pooling)."""
    from tinygrad_cnn.ops import window

    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((5, 3, 7, 8)).astype(np.float32), requires_grad=True)
    cols = tg.tensor(rng.standard_normal(F.unfold(x, **geometry).shape).astype(np.float32))

    def fold_and_pool_gradient():
        x.grad = None
        F.max_pool2d(x, **geometry).sum().backward()
        return F.fold(cols, (7, 8), **geometry).numpy(), x.grad.numpy()

    whole = fold_and_pool_gradient()
    monkeypatch.setattr(window, "CHUNK_BYTES", 1)  # one image at a time
    for expected, got in zip(whole, fold_and_pool_gradient()):
        assert np.array_equal(expected, got)


def test_one_channel_windows_are_stored_kernel_position_major_and_multiply_as_a_transposed_matrix():
    """For a one-channel image (MNIST) im2col copies whole (N, OH, OW) planes per kernel position (runs
    of OW values instead of KW) and shows them in the rows shape: the same values as a two-channel
    image's first channel, and the (N*OH*OW, KH*KW) matrix a conv multiplies is a view, not a copy."""
    rng = np.random.default_rng(0)
    two = rng.standard_normal((3, 2, 9, 8)).astype(np.float32)
    geometry = dict(kernel=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    one_channel = F._im2col(tg.tensor(two[:, :1]), *geometry.values())
    both_channels = F._im2col(tg.tensor(two), *geometry.values())
    assert np.array_equal(one_channel.numpy(), both_channels.numpy()[..., :1])
    rows = one_channel.reshape(-1, 6)
    assert rows.array.flags.f_contiguous and np.shares_memory(rows.array, one_channel.array)


def _in_memory_order(array, order):
    """The same (N, C, H, W) values stored in ``order`` (e.g. (1, 2, 3, 0): batch-last)."""
    return np.ascontiguousarray(array.transpose(order)).transpose(np.argsort(order))


@pytest.mark.parametrize("geometry", [dict(kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1)),
                                      dict(kernel=(2, 3), stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
                                      dict(kernel=(1, 1), stride=(2, 2), padding=(0, 0), dilation=(1, 1))])
@pytest.mark.parametrize("order", [(0, 1, 2, 3), (0, 2, 3, 1), (1, 2, 3, 0)], ids=["nchw", "nhwc", "chwn"])
def test_columns_windows_are_the_rows_transposed_and_col2im_adds_them_back_batch_last(geometry, order):
    """The "columns" layout (KH, KW, C, OH, OW, N) holds the "rows" windows, axes reordered, whatever
    the image's memory order, as one contiguous array; col2im of them gives what col2im of the rows
    gives, in a batch-last (C, H, W, N) image; max pooling's "kernel" windows of a batch-last image
    are stored batch-last, and both directions keep the numbers."""
    from tinygrad_cnn import ops

    rng = np.random.default_rng(0)
    x = tg.from_numpy(_in_memory_order(rng.standard_normal((3, 2, 7, 6)), order))  # keeps the memory order
    rows = F._im2col(x, *geometry.values())
    columns = F._im2col(x, *geometry.values(), layout="columns")
    assert columns.array.flags.c_contiguous
    assert np.array_equal(columns.numpy(), rows.numpy().transpose(3, 4, 5, 1, 2, 0))
    g = rng.standard_normal(rows.shape)
    back = dict(input_size=(7, 6), **geometry)
    from_rows = ops.Col2Im.apply(tg.tensor(g), **back, layout="rows")
    from_columns = ops.Col2Im.apply(tg.tensor(np.ascontiguousarray(g.transpose(3, 4, 5, 1, 2, 0))), **back,
                                    layout="columns")
    np.testing.assert_allclose(from_columns.numpy(), from_rows.numpy(), rtol=1e-12, atol=1e-12)
    assert from_columns.array.strides[0] == 8  # batch innermost
    kernel = F._im2col(x, *geometry.values(), layout="kernel")
    assert np.array_equal(kernel.numpy(), rows.numpy().transpose(3, 4, 0, 1, 2, 5))
    assert (kernel.array.strides[2] == 8) == (order == (1, 2, 3, 0))  # batch-last memory follows the image's


@pytest.mark.parametrize("order", [(0, 2, 3, 1), (1, 2, 3, 0)], ids=["nhwc", "chwn"])
def test_pooling_gradient_comes_back_in_the_images_memory_order(order):
    """An average pool's gradient arrives as windows broadcast from an (N, C) product (channels-last
    whatever the image was); col2im still builds it in the image's memory order, so that relu's
    backward right after it reads both operands in one order. Values as a pool's gradient: g / 64."""
    rng = np.random.default_rng(0)
    x = tg.from_numpy(_in_memory_order(rng.standard_normal((5, 3, 8, 8)), order)).requires_grad_()
    g = rng.standard_normal((5, 3))
    F.adaptive_avg_pool2d(x, 1).flatten(1).backward(tg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(g[:, :, None, None] / 64, x.shape), rtol=1e-12)
    memory = sorted(range(4), key=lambda axis: -x.grad.array.strides[axis])
    assert tuple(memory) == order
