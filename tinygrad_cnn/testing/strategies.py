"""Hypothesis strategies for testing differentiable ops: shapes, broadcastable pairs, arrays
kept away from kinks, and conv/pool geometries that fit."""
import numpy as np  # strategies build test data, like a file writer; the library never imports this module
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Array shapes."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def broadcastable_shapes(draw, min_dims=0, max_dims=4, max_side=4):
    """Two shapes that broadcast together, each possibly with fewer dims or size-1 axes."""
    shape = draw(shapes(min_dims, max_dims, 1, max_side))
    other = draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=len(shape), max_side=max_side))
    return (shape, other) if draw(st.booleans()) else (other, shape)


@st.composite
def arrays(draw, shape, low=-3.0, high=3.0, away_from=None, margin=0.05, distinct=False):
    """float64 arrays with values in [low, high].

    ``away_from`` keeps every value at least ``margin`` from that point (a kink such as
    ReLU's 0); ``distinct`` makes all values differ by at least ``margin`` (no ties in max).
    """
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape)) if len(shape) else 1
    if distinct:
        span = high - low
        assume(size * margin < span)
        steps = rng.permutation(size) * (span / max(size, 1))
        values = low + steps + rng.uniform(0, margin / 2, size)
    else:
        values = rng.uniform(low, high, size)
    if away_from is not None:
        close = np.abs(values - away_from) < margin
        values[close] = away_from + np.where(values[close] >= away_from, margin, -margin) * 2
    return values.reshape(shape).astype(np.float64)


def positive_arrays(shape, low=0.2, high=3.0):
    """Arrays in [low, high] for log, sqrt, division."""
    return arrays(shape, low, high)


@st.composite
def conv_geometries(draw, max_batch=2, max_channels=3, max_side=7, max_kernel=3, groups=False):
    """(N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups) for which the kernel fits."""
    g = draw(st.sampled_from([1, 2])) if groups else 1
    n = draw(st.integers(1, max_batch))
    c_in = g * draw(st.integers(1, max_channels))
    c_out = g * draw(st.integers(1, max_channels))
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, kernel[0] // 2 + 1)), draw(st.integers(0, kernel[1] // 2 + 1)))
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    assume(h + 2 * padding[0] >= dilation[0] * (kernel[0] - 1) + 1)
    assume(w + 2 * padding[1] >= dilation[1] * (kernel[1] - 1) + 1)
    return dict(n=n, c_in=c_in, h=h, w=w, c_out=c_out, kernel=kernel, stride=stride, padding=padding,
                dilation=dilation, groups=g)


@st.composite
def pool_geometries(draw, max_batch=2, max_channels=2, max_side=7, max_kernel=3):
    """(N, C, H, W, kernel, stride, padding, ceil_mode) that PyTorch's pooling accepts."""
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    h = draw(st.integers(kernel[0], max_side))
    w = draw(st.integers(kernel[1], max_side))
    ceil_mode = draw(st.booleans())
    return dict(n=n, c=c, h=h, w=w, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
