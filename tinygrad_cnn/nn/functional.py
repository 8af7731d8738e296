"""Neural-network functions composed from Tensor operations (PyTorch's ``torch.nn.functional``).

None of these has a backward pass of its own: each is a few primitives (im2col, matmul,
max, mean, var, elementwise, movement ops), and its gradient comes from theirs. Each one
records a ``scope`` so that a drawing of the graph can group its primitives.
"""
import math

from .. import backend, ops
from ..autograd import computed, is_grad_enabled, no_grad, scope
from ..tensor import Tensor, cat, stack, where


def _pair(value, name="argument"):
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) == 1:
        return (value[0], value[0])
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value}")
    return value


def _same_dtype(op, input, weight, bias=None):
    """PyTorch's rule for conv and linear layers: input, weight and bias share one dtype (a float64 input
    to a float32 model is an error, not a silent float64 computation)."""
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise RuntimeError(f"{op}: input is {input.dtype} but {name} is {t.dtype}; they must have the same "
                               f"dtype (convert the input with .to({t.dtype}), or the model with .to({input.dtype}))")


def _batched(input, op):
    """(input as 4-d, whether a batch dim was added) for ops that accept (C, H, W) too."""
    if input.ndim == 4:
        return input, False
    if input.ndim == 3:
        return input.unsqueeze(0), True
    raise ValueError(f"{op}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape {tuple(input.shape)}")


def _check_fits(op, what, input_hw, kernel, stride, padding, dilation):
    out = [ops.conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip(input_hw, kernel, stride, padding, dilation)]
    if min(out) < 1:
        (h, w), (kh, kw) = input_hw, kernel
        detail = f" with stride {stride[0] if stride[0] == stride[1] else stride}"
        if any(padding):
            detail += f", padding {padding[0] if padding[0] == padding[1] else padding}"
        if any(d != 1 for d in dilation):
            detail += f", dilation {dilation[0] if dilation[0] == dilation[1] else dilation}"
        raise RuntimeError(f"{op}: {kh}x{kw} {what}{detail} does not fit a {h}x{w} input")
    return out


WINDOWS_CHUNK_BYTES = 2 ** 22  # with no graph to record, a conv's windows are built this many bytes at a time


def _records_graph(*tensors):
    """Whether an operation on these tensors (None allowed) will be recorded for backward."""
    return is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _by_cached_chunks(product, x, image_bytes):
    """``product(x)``, a function of each image on its own (im2col then a matrix product), a few images
    at a time, their windows (``image_bytes`` each) still in cache when the product reads them: up to
    twice as fast as building all windows first (a ResNet's first layer). For inference: with a graph
    to record, backward would need all the windows anyway."""
    batch = max(1, WINDOWS_CHUNK_BYTES // image_bytes)
    if batch >= x.shape[0] or backend.is_launch_bound(x.array):
        return product(x)
    return cat([product(x[start:start + batch]) for start in range(0, x.shape[0], batch)])


def _im2col(x, kernel, stride, padding, dilation, layout="rows"):
    return ops.Im2Col.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation, layout=layout)


# ---- windows ------------------------------------------------------------------------
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col in PyTorch's layout: (N, C, H, W) -> (N, C*KH*KW, L), one column per window."""
    kernel, dilation, padding, stride = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    x, unbatched = _batched(input, "unfold")
    with scope("unfold", (("k", kernel), ("s", stride), ("p", padding), ("d", dilation))):
        n, c, h, w = x.shape
        oh, ow = _check_fits("unfold", "window", (h, w), kernel, stride, padding, dilation)
        windows = _im2col(x, kernel, stride, padding, dilation)  # (N, OH, OW, KH, KW, C)
        out = windows.permute(0, 5, 3, 4, 1, 2).reshape(n, c * kernel[0] * kernel[1], oh * ow)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im in PyTorch's layout: (N, C*KH*KW, L) -> (N, C, H, W), overlapping values summed."""
    kernel, dilation, padding, stride = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    output_size = _pair(output_size)
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    if x.ndim != 3:
        raise ValueError(f"fold: expected a 2-d or 3-d input, got shape {tuple(input.shape)}")
    n, ckk, length = x.shape
    if ckk % (kernel[0] * kernel[1]):
        raise RuntimeError(f"fold: expected size of input's dimension 1 ({ckk}) to be divisible by the product of "
                           f"kernel_size ({kernel[0] * kernel[1]})")
    oh, ow = _check_fits("fold", "window", output_size, kernel, stride, padding, dilation)
    if oh * ow != length:
        raise RuntimeError(f"fold: an output of size {output_size} with kernel {kernel}, stride {stride}, padding "
                           f"{padding} and dilation {dilation} has {oh * ow} windows, but the input has {length}")
    c = ckk // (kernel[0] * kernel[1])
    with scope("fold", (("k", kernel), ("s", stride), ("p", padding), ("d", dilation))):
        windows = x.reshape(n, c, kernel[0], kernel[1], oh, ow).permute(0, 4, 5, 2, 3, 1)
        out = ops.Col2Im.apply(windows, input_size=output_size, kernel=kernel, stride=stride, padding=padding,
                               dilation=dilation)
    return out.squeeze(0) if unbatched else out


# ---- convolution and pooling --------------------------------------------------------
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation, as PyTorch) as im2col + one matrix product.

    ``padding`` may be an int, a pair, "valid" or "same".
    """
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    x, unbatched = _batched(input, "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-d (out_channels, in_channels/groups, KH, KW), got shape "
                         f"{tuple(weight.shape)}")
    out_channels, group_channels, kh, kw = weight.shape
    n, c, h, w = x.shape
    if c != group_channels * groups:
        raise ValueError(f"conv2d: input has {c} channels but weight expects {group_channels * groups} "
                         f"(weight shape {tuple(weight.shape)}, groups={groups})")
    if out_channels % groups:
        raise ValueError(f"conv2d: out_channels ({out_channels}) must be divisible by groups ({groups})")
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"conv2d: bias must have shape ({out_channels},), got {tuple(bias.shape)}")
    _same_dtype("conv2d", input, weight, bias)
    if isinstance(padding, str):
        x, padding = _string_padding(x, padding, (kh, kw), stride, dilation)
        h, w = x.shape[2:]
    padding = _pair(padding, "padding")
    with scope("conv2d", (("k", (kh, kw)), ("s", stride), ("p", padding), ("d", dilation), ("g", groups))):
        oh, ow = _check_fits("conv2d", "kernel", (h, w), (kh, kw), stride, padding, dilation)
        records_graph = _records_graph(x, weight, bias)
        if groups == 1 and records_graph and n >= BATCH_LAST_FROM and not backend.is_launch_bound(x.array):
            out = _conv_batch_last(x, weight, bias, stride, padding, dilation, (oh, ow))
        else:
            out = _conv_channels_last(x, weight, bias, stride, padding, dilation, groups, (oh, ow), records_graph)
    return out.squeeze(0) if unbatched else out


def _conv_channels_last(x, weight, bias, stride, padding, dilation, groups, output_size, records_graph):
    """conv2d as the windows as rows times the filters as columns, (N*OH*OW, KH*KW*C) @ (KH*KW*C, O),
    per group; the output is the NCHW view of (N, OH, OW, O) memory. Without a graph to record, a few
    images at a time (``_by_cached_chunks``)."""
    out_channels, group_channels, kh, kw = weight.shape
    (oh, ow), (n, c) = output_size, x.shape[:2]
    if groups == 1:
        weight_matrix = weight.permute(2, 3, 1, 0).reshape(kh * kw * c, out_channels)  # rows match windows

        def product(images):  # (n, C, H, W) -> (n*OH*OW, O)
            windows = _im2col(images, (kh, kw), stride, padding, dilation)  # (n, OH, OW, KH, KW, C)
            return windows.reshape(-1, kh * kw * c) @ weight_matrix
    else:
        out_per_group = out_channels // groups
        weight_matrix = weight.reshape(groups, out_per_group, group_channels, kh, kw).permute(0, 3, 4, 2, 1)
        weight_matrix = weight_matrix.reshape(groups, kh * kw * group_channels, out_per_group)

        def product(images):
            windows = _im2col(images, (kh, kw), stride, padding, dilation)
            rows = windows.reshape(-1, kh * kw, groups, group_channels).permute(2, 0, 1, 3)
            rows = rows.reshape(groups, -1, kh * kw * group_channels)
            return (rows @ weight_matrix).permute(1, 0, 2).reshape(-1, out_channels)
    if records_graph:
        out = product(x)  # (N*OH*OW, O)
    else:
        out = _by_cached_chunks(product, x, oh * ow * kh * kw * c * x.array.itemsize)
    if bias is not None:
        out = out + bias
    return out.reshape(n, oh, ow, out_channels).permute(0, 3, 1, 2)  # NCHW view of channels-last memory


BATCH_LAST_FROM = 8  # a conv recorded for backward on the CPU with at least this many images: _conv_batch_last


def _conv_batch_last(x, weight, bias, stride, padding, dilation, output_size):
    """conv2d for training on the CPU: the filter rows times the windows as columns, (O, KH*KW*C) @
    (KH*KW*C, OH*OW*N), with the batch innermost in memory, so that im2col copies and its backward,
    col2im, adds runs of OW*N values (4096 in a ResNet's first layer at batch 128) instead of the
    "rows" layout's KW*C (48): col2im about 4x faster, a training step 5-12% faster. The output is the
    NCHW view of (O, OH, OW, N) memory, and the layers after it keep that order."""
    out_channels, c, kh, kw = weight.shape
    (oh, ow), n = output_size, x.shape[0]
    weight_rows = weight.permute(0, 2, 3, 1).reshape(out_channels, kh * kw * c)  # its columns match the windows' rows
    windows = _im2col(x, (kh, kw), stride, padding, dilation, "columns")  # (KH, KW, C, OH, OW, N)
    out = weight_rows @ windows.reshape(kh * kw * c, oh * ow * n)  # (O, OH*OW*N)
    if bias is not None:
        out = out + bias.reshape(out_channels, 1)
    return out.reshape(out_channels, oh, ow, n).permute(3, 0, 1, 2)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-d transposed convolution: conv2d's input gradient run forward, so one matrix product then col2im.

    conv2d makes windows = im2col(x) and multiplies them by W; its input gradient is
    col2im(g @ W^T). Here each input pixel's channels times the weight (in, out, KH, KW) give
    the KH x KW window it paints in the output, and col2im adds overlapping windows up: no new
    backward pass is needed, the gradient comes from matmul's and col2im's (col2im's is im2col).
    Output size: (H - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1.
    """
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    output_padding, dilation = _pair(output_padding, "output_padding"), _pair(dilation, "dilation")
    x, unbatched = _batched(input, "conv_transpose2d")
    if weight.ndim != 4:
        raise ValueError(f"conv_transpose2d: weight must be 4-d (in_channels, out_channels/groups, KH, KW), got "
                         f"shape {tuple(weight.shape)}")
    in_channels, out_per_group, kh, kw = weight.shape
    n, c, h, w = x.shape
    if groups < 1 or in_channels % groups:
        raise ValueError(f"conv_transpose2d: in_channels ({in_channels}) must be divisible by groups ({groups})")
    if c != in_channels:
        raise ValueError(f"conv_transpose2d: input has {c} channels but weight expects {in_channels} "
                         f"(weight shape {tuple(weight.shape)})")
    out_channels = out_per_group * groups
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"conv_transpose2d: bias must have shape ({out_channels},), got {tuple(bias.shape)}")
    _same_dtype("conv_transpose2d", input, weight, bias)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"conv_transpose2d: stride {stride} and dilation {dilation} must be positive, padding "
                         f"{padding} and output_padding {output_padding} non-negative")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than either stride "
                             f"{stride} or dilation {dilation}")
    out_size = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, d, k, op in
                     zip((h, w), stride, padding, dilation, (kh, kw), output_padding))
    if min(out_size) < 1:
        raise RuntimeError(f"conv_transpose2d: a {kh}x{kw} kernel with stride {stride}, padding {padding} and "
                           f"dilation {dilation} gives a {out_size[0]}x{out_size[1]} output for a {h}x{w} input, "
                           f"which is too small")
    with scope("conv_transpose2d", (("k", (kh, kw)), ("s", stride), ("p", padding), ("d", dilation),
                                    ("g", groups))):
        rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # one row of channels per input pixel
        if groups == 1:
            weight_matrix = weight.permute(0, 2, 3, 1).reshape(c, kh * kw * out_channels)
            windows = rows @ weight_matrix  # (N*H*W, KH*KW*O): the window each pixel paints
        else:
            per_group = c // groups
            rows = rows.reshape(n * h * w, groups, per_group).permute(1, 0, 2)
            weight_matrix = weight.reshape(groups, per_group, out_per_group, kh, kw).permute(0, 1, 3, 4, 2)
            weight_matrix = weight_matrix.reshape(groups, per_group, kh * kw * out_per_group)
            windows = (rows @ weight_matrix).reshape(groups, n * h * w, kh, kw, out_per_group).permute(1, 2, 3, 0, 4)
        windows = windows.reshape(n, h, w, kh, kw, out_channels)
        out = _col2im_output(windows, out_size, (kh, kw), stride, padding, output_padding, dilation)
        if bias is not None:
            out = out + bias.reshape(1, out_channels, 1, 1)
    return out.squeeze(0) if unbatched else out


def _col2im_output(windows, out_size, kernel, stride, padding, output_padding, dilation):
    """col2im of a transposed convolution's windows into its (N, O, OH, OW) output."""
    if all(op < s for op, s in zip(output_padding, stride)):  # col2im's own padding crops exactly right
        return ops.Col2Im.apply(windows, input_size=out_size, kernel=kernel, stride=stride, padding=padding,
                                dilation=dilation)
    # output_padding >= stride (allowed when below the dilation): every window at full size, then crop
    h, w = windows.shape[1:3]
    full = tuple((i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip((h, w), stride, dilation, kernel))
    out = ops.Col2Im.apply(windows, input_size=full, kernel=kernel, stride=stride, padding=(0, 0), dilation=dilation)
    extra = [max(0, p + o - f) for p, o, f in zip(padding, out_size, full)]
    if any(extra):
        out = pad(out, (0, extra[1], 0, extra[0]))
    (ph, pw), (oh, ow) = padding, out_size
    return out[:, :, ph:ph + oh, pw:pw + ow]


def _string_padding(x, padding, kernel, stride, dilation):
    """Resolve padding="valid"/"same" to (input, symmetric padding), padding unevenly where needed."""
    if padding == "valid":
        return x, (0, 0)
    if padding != "same":
        raise ValueError(f"conv2d: invalid padding string {padding!r}, should be one of 'valid', 'same'")
    if stride != (1, 1):
        raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    if all(t % 2 == 0 for t in totals):
        return x, (totals[0] // 2, totals[1] // 2)
    left_top = [t // 2 for t in totals]
    return pad(x, (left_top[1], totals[1] - left_top[1], left_top[0], totals[0] - left_top[0])), (0, 0)


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Kernel, stride, padding, dilation, output size and extra bottom/right padding of a pooling."""
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair(stride, "stride")
    padding, dilation = _pair(padding, "padding"), _pair(dilation, "dilation")
    for p, k, d in zip(padding, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{op}: pad should be at most half of effective kernel size, but got pad={p}, "
                             f"kernel_size={k} and dilation={d}")
    h, w = x.shape[2:]
    _check_fits(op, "window", (h, w), kernel, stride, padding, dilation)
    out, extra = [], []
    for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation):
        span = size + 2 * p - d * (k - 1) - 1
        n = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (n - 1) * s >= size + p:  # the last window must start inside the input
            n -= 1
        out.append(n)
        extra.append(max(0, (n - 1) * s + d * (k - 1) + 1 - (size + 2 * p)))
    return kernel, stride, padding, dilation, out, extra


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling as im2col + max over each window (padding counts as -inf).

    Each output's gradient goes to the first maximal element of its window; where
    windows overlap, the gradients that land on one input add up.
    """
    x, unbatched = _batched(input, "max_pool2d")
    kernel, stride, padding, dilation, (oh, ow), extra = _pool_geometry(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    with scope("max_pool2d", (("k", kernel), ("s", stride), ("p", padding))):
        n, c = x.shape[:2]
        if any(padding) or any(extra):
            x = pad(x, (padding[1], padding[1] + extra[1], padding[0], padding[0] + extra[0]), value=-math.inf)
        windows = _im2col(x, kernel, stride, (0, 0), dilation, "kernel")  # (KH, KW, N, OH, OW, C)
        maximum = ops.MaxDim(dim=0, keepdim=False)  # (its small window indices, not max()'s int64 ones)
        out = maximum(windows.reshape(kernel[0] * kernel[1], n, oh, ow, c)).permute(0, 3, 1, 2)
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    return out, _pool_indices(maximum.indices, kernel, stride, padding, dilation, input.shape[-1], unbatched)


def _pool_indices(window_index, kernel, stride, padding, dilation, width, unbatched):
    """PyTorch's max_pool2d indices: the flat position (row * W + col) of each maximum in its input plane
    (``window_index``: its place in its window, (N, OH, OW, C))."""
    def flat_positions(index):
        xp, k = backend.module_of(index), index.astype(backend.int64).transpose(0, 3, 1, 2)  # (N, C, OH, OW)
        oh, ow = k.shape[2:]
        rows = xp.arange(oh).reshape(-1, 1) * stride[0] + (k // kernel[1]) * dilation[0] - padding[0]
        cols = xp.arange(ow).reshape(1, -1) * stride[1] + (k % kernel[1]) * dilation[1] - padding[1]
        return (rows * width + cols).astype(backend.int64)
    flat = Tensor._from_array(computed(flat_positions, window_index))
    return flat.squeeze(0) if unbatched else flat


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling as im2col + mean over each window (PyTorch's divisor rules)."""
    x, unbatched = _batched(input, "avg_pool2d")
    kernel, stride, padding, dilation, (oh, ow), extra = _pool_geometry(
        "avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    with scope("avg_pool2d", (("k", kernel), ("s", stride), ("p", padding))):
        n, c, h, w = x.shape
        if any(extra):
            x = pad(x, (padding[1], padding[1] + extra[1], padding[0], padding[0] + extra[0]))
            im2col_padding = (0, 0)
        else:
            im2col_padding = padding
        windows = _im2col(x, kernel, stride, im2col_padding, dilation, "kernel")
        windows = windows.reshape(kernel[0] * kernel[1], n, oh, ow, c)
        if divisor_override:
            out = windows.sum(dim=0) / divisor_override
        elif count_include_pad and not any(extra):
            out = windows.mean(dim=0)
        else:
            out = windows.sum(dim=0) / _window_counts(x.xp, (h, w), kernel, stride, padding, extra,
                                                       (oh, ow), count_include_pad, x.dtype)
        out = out.permute(0, 3, 1, 2)
    return out.squeeze(0) if unbatched else out


def _window_counts(xp, size, kernel, stride, padding, extra, out_size, count_include_pad, dtype):
    """How many elements each window averages over: those inside the input (and its padding, if counted)."""
    (h, w), (ph, pw) = size, padding
    mask = xp.zeros((1, 1, h + 2 * ph + extra[0], w + 2 * pw + extra[1]), dtype)
    if count_include_pad:
        mask[..., :h + 2 * ph, :w + 2 * pw] = 1
    else:
        mask[..., ph:ph + h, pw:pw + w] = 1
    windows = ops.Im2Col(kernel=kernel, stride=stride, padding=(0, 0), dilation=(1, 1)).forward(mask)  # constant
    counts = windows.reshape(1, out_size[0], out_size[1], -1).sum(axis=3, keepdims=False)[..., None]
    return Tensor._from_array(counts)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a given output size, where each window tiles the input exactly."""
    x, unbatched = _batched(input, "adaptive_avg_pool2d")
    h, w = x.shape[2:]
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    out_h, out_w = out_h or h, out_w or w
    if h % out_h or w % out_w:
        raise NotImplementedError(f"adaptive_avg_pool2d: only output sizes that divide the input are supported "
                                  f"(input {h}x{w}, output {out_h}x{out_w})")
    out = avg_pool2d(x, (h // out_h, w // out_w))
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a given output size: output cell i covers input rows floor(i H / out) to
    ceil((i + 1) H / out), as PyTorch's windows (they overlap where the sizes do not divide)."""
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices=True is not supported")
    x, unbatched = _batched(input, "adaptive_max_pool2d")
    h, w = x.shape[2:]
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    out_h, out_w = out_h or h, out_w or w
    with scope("adaptive_max_pool2d", (("out", (out_h, out_w)),)):
        if h % out_h == 0 and w % out_w == 0:
            out = max_pool2d(x, (h // out_h, w // out_w))
        else:
            rows = [(i * h // out_h, -(-(i + 1) * h // out_h)) for i in range(out_h)]
            cols = [(j * w // out_w, -(-(j + 1) * w // out_w)) for j in range(out_w)]
            cells = [x[:, :, r0:r1, c0:c1].amax(dim=(2, 3)) for r0, r1 in rows for c0, c1 in cols]
            out = stack(cells, dim=2).reshape(x.shape[0], x.shape[1], out_h, out_w)
    return out.squeeze(0) if unbatched else out


# ---- resampling ---------------------------------------------------------------------
_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims (N, C, *spatial), as ``torch.nn.functional.interpolate``.

    Composed per spatial axis: "nearest"/"nearest-exact" pick source indices (getitem, whose
    backward adds the gradient back where each value came from); "linear"/"bilinear"/"trilinear"
    multiply by a small interpolation matrix (matmul), two neighbours per output with weights
    1 - t and t. Source positions follow PyTorch: (i + 0.5) * scale - 0.5, or i * (in - 1) / (out - 1)
    with ``align_corners=True``.
    """
    spatial = input.ndim - 2
    if spatial not in (1, 2, 3):
        raise ValueError(f"interpolate: expected a 3-d, 4-d or 5-d input (N, C, *spatial), got shape "
                         f"{tuple(input.shape)}")
    if mode not in ("nearest", "nearest-exact", *_LINEAR_MODES):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (nearest, nearest-exact, linear, "
                                  f"bilinear, trilinear)")
    if mode in _LINEAR_MODES and _LINEAR_MODES[mode] != spatial:
        raise NotImplementedError(f"interpolate: mode {mode!r} needs a {_LINEAR_MODES[mode] + 2}-d input, got "
                                  f"a {input.ndim}-d input of shape {tuple(input.shape)}")
    if align_corners is not None and mode not in _LINEAR_MODES:
        raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    out_size, scales = _interpolation_sizes(input.shape[2:], size, scale_factor, recompute_scale_factor)
    with scope("interpolate", (("mode", mode), ("size", out_size))):
        out = input
        for axis, (n_in, n_out, scale) in enumerate(zip(input.shape[2:], out_size, scales), start=2):
            if mode in _LINEAR_MODES:
                out = _resample_axis(out, axis, _linear_matrix(n_in, n_out, scale, bool(align_corners), out))
            else:
                out = out[(slice(None),) * axis + (_nearest_indices(n_in, n_out, scale, mode),)]
    return out


def _interpolation_sizes(in_size, size, scale_factor, recompute_scale_factor):
    """(output size, scale per axis) where scale maps output to input coordinates, as PyTorch."""
    if size is None and scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    spatial = len(in_size)
    if size is not None:
        out = (size,) * spatial if isinstance(size, int) else tuple(size)
        if len(out) != spatial:
            raise ValueError(f"interpolate: size {size} has {len(out)} values but the input has {spatial} "
                             f"spatial dims")
        if min(out) < 1:
            raise ValueError(f"interpolate: output size {out} must be positive")
        return out, tuple(i / o for i, o in zip(in_size, out))
    factors = (scale_factor,) * spatial if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(factors) != spatial:
        raise ValueError(f"interpolate: scale_factor {scale_factor} has {len(factors)} values but the input has "
                         f"{spatial} spatial dims")
    if min(factors) <= 0:
        raise ValueError(f"interpolate: scale_factor {scale_factor} must be positive")
    out = tuple(math.floor(i * f) for i, f in zip(in_size, factors))
    if min(out) < 1:
        raise ValueError(f"interpolate: scale_factor {scale_factor} gives an empty output for spatial size "
                         f"{tuple(in_size)}")
    if recompute_scale_factor:
        return out, tuple(i / o for i, o in zip(in_size, out))
    return out, tuple(1.0 / f for f in factors)


def _nearest_indices(n_in, n_out, scale, mode):
    np = backend.numpy_module()
    offset = 0.5 if mode == "nearest-exact" else 0.0
    return np.minimum(np.floor((np.arange(n_out) + offset) * scale).astype(np.int64), n_in - 1)


def linear_interpolation_weights(n_in, n_out, scale, align_corners=False):
    """(n_out, n_in) float64 NumPy weights of linear interpolation along one axis, as PyTorch places
    samples: row i has 1 - t at floor(src) and t at the next index (also used by data.transforms.Resize)."""
    np = backend.numpy_module()
    i = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = i * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((i + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    t = src - low
    matrix = np.zeros((n_out, n_in))
    np.add.at(matrix, (np.arange(n_out), low), 1.0 - t)
    np.add.at(matrix, (np.arange(n_out), high), t)
    return matrix


def _linear_matrix(n_in, n_out, scale, align_corners, like):
    """The weights as a constant tensor of ``like``'s dtype and device."""
    matrix = linear_interpolation_weights(n_in, n_out, scale, align_corners)
    return Tensor._from_array(backend.to_device(matrix.astype(like.dtype), like.device))


def _resample_axis(x, axis, matrix):
    """x with its ``axis`` replaced by ``matrix @`` that axis (one matrix product)."""
    if axis == x.ndim - 1:
        return x @ matrix.t()
    if axis == x.ndim - 2:
        return matrix @ x
    return (x.transpose(axis, -1) @ matrix.t()).transpose(axis, -1)


# ---- normalisation ------------------------------------------------------------------
def _mean_centered_and_variance(x, dims):
    """The mean over ``dims`` (kept), x minus it, and the biased variance, from the centered values the
    normalisation needs anyway (one pass fewer each way than a separate variance)."""
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    return mean, centered, (centered * centered).mean(dims, keepdim=True)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation from mean and var.

    Training: normalise with the batch's mean and *biased* variance, and move the running
    estimates toward the batch's mean and *unbiased* variance by ``momentum``.
    Eval: normalise with the running estimates. Then scale by ``weight`` (gamma) and shift
    by ``bias`` (beta). Either way the per-channel constants fold first, as in PyTorch's CPU kernel:
    ``x * alpha + beta`` with ``alpha = weight / sqrt(var + eps)``, ``beta = bias - mean * alpha``: one
    multiply and one add over the input, and in training the gradient reaches x through the mean and var
    primitives as well (backward then makes two full-size operations fewer than normalising ``x - mean``).
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dims (N, C, ...), got shape {tuple(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ValueError(f"batch_norm: {name} should have shape ({channels},) for an input with {channels} "
                             f"channels, got {tuple(t.shape)}")
    dims = (0,) + tuple(range(2, input.ndim))
    shape = (1, channels) + (1,) * (input.ndim - 2)
    with scope("batch_norm", (("training", training), ("eps", eps))):
        if training:
            count = input.numel() // channels
            if count <= 1:
                raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                                 f"size {list(input.shape)}")
            mean = input.mean(dims, keepdim=True)
            var = input.var(dims, correction=0, keepdim=True)
            if running_mean is not None and running_var is not None:
                with no_grad():
                    running_mean.mul_(1 - momentum).add_(mean.reshape(channels) * momentum)
                    unbiased_times_momentum = var.reshape(channels) * (momentum * count / (count - 1))
                    running_var.mul_(1 - momentum).add_(unbiased_times_momentum)
        elif running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
        else:
            mean, var = running_mean.reshape(shape), running_var.reshape(shape)
        alpha = (var + eps).rsqrt()
        if weight is not None:
            alpha = alpha * weight.reshape(shape)
        beta = -mean * alpha
        if bias is not None:
            beta = beta + bias.reshape(shape)
        return input * alpha + beta


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample's channels in ``num_groups`` groups with the group's mean and biased
    variance (no running statistics: the same in training and eval), then scale and shift per channel."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input with at least 2 dims (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    n, channels = input.shape[:2]
    if num_groups < 1 or channels % num_groups:
        raise ValueError(f"group_norm: expected number of channels in input to be divisible by num_groups, but got "
                         f"input of shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ValueError(f"group_norm: {name} should have shape ({channels},) for an input with {channels} "
                             f"channels, got {tuple(t.shape)}")
    if n * channels // num_groups * math.prod(input.shape[2:]) == 1:  # PyTorch's check, word for word
        raise ValueError(f"group_norm: expected more than 1 value per channel when training, got input size "
                         f"{[n * channels // num_groups, num_groups, *input.shape[2:]]}")
    shape = (1, channels) + (1,) * (input.ndim - 2)
    with scope("group_norm", (("groups", num_groups), ("eps", eps))):
        _, centered, var = _mean_centered_and_variance(input.reshape(n, num_groups, -1), (2,))
        out = (centered * (var + eps).rsqrt()).reshape(input.shape)
        if weight is not None:
            out = out * weight.reshape(shape)
        if bias is not None:
            out = out + bias.reshape(shape)
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dims of each sample with their mean and
    biased variance, then scale and shift elementwise by ``weight`` and ``bias`` of that shape."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != normalized_shape or input.ndim < k:
        raise RuntimeError(f"layer_norm: given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, normalized_shape))}], but got input of size {list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} should have shape {normalized_shape}, got {tuple(t.shape)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    with scope("layer_norm", (("shape", normalized_shape), ("eps", eps))):
        _, centered, var = _mean_centered_and_variance(input, dims)
        out = centered * (var + eps).rsqrt()
        if weight is not None:
            out = out * weight
        if bias is not None:
            out = out + bias
    return out


# ---- dense layers and activations -----------------------------------------------------
def linear(input, weight, bias=None):
    """y = x W^T + b."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-d (out_features, in_features), got shape {tuple(weight.shape)}")
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {input.shape[-1]} features but weight expects {weight.shape[1]} "
                         f"(input shape {tuple(input.shape)}, weight shape {tuple(weight.shape)})")
    _same_dtype("linear", input, weight, bias)
    with scope("linear", (("in", weight.shape[1]), ("out", weight.shape[0]))):
        out = input @ weight.t()
        if bias is not None:
            out = out + bias
    return out


def relu(input, inplace=False):
    """max(x, 0); ``inplace=True`` changes ``input`` itself (recorded in the graph, as PyTorch)."""
    return input.relu_() if inplace else input.relu()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return input._apply_inplace("leaky_relu_", lambda t: leaky_relu(t, negative_slope))
    with scope("leaky_relu", (("slope", negative_slope),)):
        return where(input > 0, input, input * negative_slope)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """min(max(x, min_val), max_val); the gradient is 0 at and beyond the limits, as PyTorch."""
    if inplace:
        return input._apply_inplace("hardtanh_", lambda t: hardtanh(t, min_val, max_val))
    with scope("hardtanh", (("min", min_val), ("max", max_val))):
        inside = (input > min_val) & (input < max_val)
        return where(inside, input, input.detach().clamp(min_val, max_val))


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (e^x - 1) otherwise."""
    if inplace:
        return input._apply_inplace("elu_", lambda t: elu(t, alpha))
    with scope("elu", (("alpha", alpha),)):
        return where(input > 0, input, (input.clamp(max=0.0).exp() - 1.0) * alpha)


def gelu(input, approximate="none"):
    """x * Phi(x) with Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt 2)), or PyTorch's
    approximate="tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    with scope("gelu", (("approximate", approximate),)):
        if approximate == "tanh":
            inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
            return input * 0.5 * (inner.tanh() + 1.0)
        return input * 0.5 * ((input * (1.0 / math.sqrt(2.0))).erf() + 1.0)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    if inplace:
        return input._apply_inplace("silu_", silu)
    with scope("silu"):
        return input * input.sigmoid()


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    if inplace:
        return input._apply_inplace("mish_", mish)
    with scope("mish"):
        return input * softplus(input).tanh()


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (as PyTorch).
    Written as z + log(1 + e^-z) for z > 0 and log(1 + e^z) otherwise, so no exp overflows."""
    with scope("softplus", (("beta", beta),)):
        z = input * beta
        positive = z + ((-z.clamp(min=0.0)).exp() + 1.0).log()
        negative = (z.clamp(max=0.0).exp() + 1.0).log()
        return where(z > threshold, input, where(z > 0, positive, negative) / beta)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6; the gradient is 1/6 strictly inside (-3, 3) and 0 elsewhere, as PyTorch."""
    if inplace:
        return input._apply_inplace("hardsigmoid_", hardsigmoid)
    with scope("hardsigmoid"):
        inside = (input > -3.0) & (input < 3.0)
        return where(inside, input / 6.0 + 0.5, (input.detach() >= 3.0).to(input.dtype))


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6, with PyTorch's gradient at the kinks (x <= -3: 0, x < 3: x/3 + 1/2, else 1)."""
    if inplace:
        return input._apply_inplace("hardswish_", hardswish)
    with scope("hardswish"):
        middle = input * (input + 3.0) / 6.0
        return where(input <= -3.0, 0.0, where(input < 3.0, middle, input))


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def softmax(input, dim=None):
    if dim is None:
        raise TypeError("softmax: pass dim explicitly (PyTorch's implicit choice of dim is deprecated)")
    with scope("softmax", (("dim", dim),)):
        return input.softmax(dim)


def log_softmax(input, dim=None):
    """log(softmax(x)) as (x - max) - log(sum(exp(x - max))): finite for logits of 1e4."""
    if dim is None:
        raise TypeError("log_softmax: pass dim explicitly (PyTorch's implicit choice of dim is deprecated)")
    with scope("log_softmax", (("dim", dim),)):
        return input.log_softmax(dim)


def _dropout_mask(shape, p, dtype, device):
    """Each element kept with probability 1 - p and scaled by 1/(1-p), else 0 (drawn afresh per call)."""
    keep = backend.generator().random(shape) >= p
    return backend.to_device((keep / (1 - p)).astype(dtype), device)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if inplace:
        return input._apply_inplace("dropout_", lambda t: dropout(t, p, training))
    with scope("dropout", (("p", p),)):
        if p == 1:
            return input * 0.0
        mask = computed(_dropout_mask, input.shape, p, input.dtype, input.device)
        return input * Tensor._from_array(mask)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels with probability p (one draw per image and channel), scale the rest by 1/(1-p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got shape "
                         f"{tuple(input.shape)}")
    if inplace:
        return input._apply_inplace("dropout2d_", lambda t: dropout2d(t, p, training))
    with scope("dropout2d", (("p", p),)):
        if p == 1:
            return input * 0.0
        mask = computed(_dropout_mask, input.shape[:-2] + (1, 1), p, input.dtype, input.device)
        return input * Tensor._from_array(mask)


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` picked by the indices in ``input``; the ``padding_idx`` row gets no gradient."""
    if backend.is_floating(input.dtype):
        raise TypeError(f"embedding: expected integer indices, got {input.dtype}")
    with scope("embedding"):
        rows = weight[input.array]
        if padding_idx is None:
            return rows
        padding = computed(lambda indices: (indices == padding_idx)[..., None], input.array)
        return where(Tensor._from_array(padding), weight[padding_idx].detach(), rows)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p along dim, eps)."""
    with scope("normalize", (("p", p),)):
        return input / input.norm(p, dim=dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x1 . x2 / sqrt(max(|x1|^2 |x2|^2, eps^2)) along ``dim``, as PyTorch computes it."""
    with scope("cosine_similarity"):
        dot = (x1 * x2).sum(dim)
        squares = (x1 * x1).sum(dim) * (x2 * x2).sum(dim)
        return dot / squares.clamp(min=eps * eps).sqrt()


def pad(input, pad, mode="constant", value=0.0):
    """Pad the last dims: ``pad = (left, right, top, bottom, ...)`` from the last dim backwards."""
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is supported, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding length must be even and at most twice the input's dims, got {len(pad)} "
                         f"for a {input.ndim}-d input")
    if any(p < 0 for p in pad):
        raise NotImplementedError("pad: negative padding (cropping) is not supported; use slicing")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return ops.Pad.apply(input, pad_width=tuple(widths), value=value)


def one_hot(tensor, num_classes=-1):
    """Class indices as one-hot rows (int64, no gradient)."""
    if num_classes < 0:
        num_classes = int(tensor.max().item()) + 1  # (a value read into Python: a recording stays eager)
    return Tensor._from_array(computed(
        lambda a: (a[..., None] == backend.module_of(a).arange(num_classes)).astype(backend.int64), tensor.array))


# ---- losses -------------------------------------------------------------------------
def _reduce(losses, reduction, op):
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected 'mean', 'sum' or 'none')")


def _class_last(input, target):
    """(N, C, d1, ...) logits and (N, d1, ...) targets as (M, C) and (M,), and the shape that
    reduction="none" gives back (None: keep (M,))."""
    if input.ndim == 1:
        return input.unsqueeze(0), (target.reshape(1) if target.ndim == 0 else target), ()
    if input.ndim == 2:
        return input, target, None
    c = input.shape[1]
    moved = input.permute(0, *range(2, input.ndim), 1).reshape(-1, c)
    return moved, target.reshape(-1), target.shape


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices, given log-probabilities (N, C[, d1, ...])."""
    return _indexed_loss("nll_loss", input, target, weight, ignore_index, reduction, 0.0)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits against class indices (int64) or class probabilities (float, input's shape)."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if not isinstance(target, Tensor):
        raise TypeError(f"cross_entropy: target must be a Tensor, got {type(target).__name__}")
    with scope("cross_entropy", (("reduction", reduction),)):
        logp = log_softmax(input, dim=1 if input.ndim > 1 else 0)
        if backend.is_floating(target.dtype) and target.shape == input.shape:
            return _probability_loss(logp, target, weight, reduction, label_smoothing)
        return _indexed_loss("cross_entropy", logp, target, weight, ignore_index, reduction, label_smoothing)


def _loss_coefficients(t, classes, weight, ignore_index, label_smoothing, dtype, op):
    """(coefficients, where they are not 0, their total weight) of a classification loss: each row's weight
    for each class, w[target] on the target (with label smoothing spread over every class); 0 for an
    ignored target."""
    xp = backend.module_of(t)
    valid = t != ignore_index
    out_of_range = valid & ((t < 0) | (t >= classes))
    if bool(out_of_range.any()):  # one reduction, one wait for a GPU
        bad = t[out_of_range][0]
        raise IndexError(f"{op}: target {int(bad)} is out of bounds for {classes} classes")
    picked = t[:, None] == xp.arange(classes)  # one-hot of each target
    if 0 <= ignore_index < classes:  # (an ignore_index that is not a class matches nothing anyway)
        picked &= valid[:, None]
    if weight is None and not label_smoothing:  # the common case, in few array operations
        coefficients, total_weight = picked, valid.sum()
    else:
        safe = xp.where(valid, t, 0)
        class_weight = xp.ones(classes, dtype) if weight is None else weight.astype(dtype)
        total_weight = (class_weight[safe] * valid).sum()  # the sum of w[target] over the targets not ignored
        coefficients = picked * (class_weight * (1.0 - label_smoothing))
        if label_smoothing:
            coefficients = coefficients + valid[:, None] * class_weight * (label_smoothing / classes)
        coefficients = coefficients.astype(dtype)
    return coefficients, coefficients != 0, xp.asarray(total_weight).astype(dtype)


def _indexed_loss(op, logp, target, weight, ignore_index, reduction, label_smoothing):
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a Tensor of class indices, got {type(target).__name__}")
    if backend.is_floating(target.dtype) or target.dtype == backend.bool_:
        raise TypeError(f"{op}: expected target of class indices with an integer dtype (int64), got {target.dtype}")
    expected = logp.shape[:1] + logp.shape[2:] if logp.ndim > 1 else ()
    if tuple(target.shape) != tuple(expected):
        raise ValueError(f"{op}: target shape {tuple(target.shape)} does not match input shape {tuple(logp.shape)} "
                         f"(expected target shape {tuple(expected)})")
    rows, flat_target, out_shape = _class_last(logp, target)
    coefficients, nonzero, total_weight = computed(
        _loss_coefficients, flat_target.array, rows.shape[1], None if weight is None else weight.array, ignore_index,
        label_smoothing, rows.dtype, op)
    # a -inf log-probability of a class no target picks must add 0, not -inf * 0 = NaN (as PyTorch)
    weighted = where(Tensor._from_array(nonzero), rows * Tensor._from_array(coefficients), 0.0)
    if reduction == "mean":
        return -weighted.sum() / Tensor._from_array(total_weight)
    losses = -weighted.sum(1)
    if reduction == "none" and out_shape is not None:
        return losses.reshape(out_shape)
    return _reduce(losses, reduction, op)


def _probability_loss(logp, target, weight, reduction, label_smoothing):
    classes = logp.shape[1] if logp.ndim > 1 else logp.shape[0]
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    product = logp * target
    if weight is not None:
        shape = (1, classes) + (1,) * (logp.ndim - 2) if logp.ndim > 1 else (classes,)
        product = product * weight.reshape(shape)
    losses = -product.sum(1 if logp.ndim > 1 else 0)
    return _reduce(losses, reduction, "cross_entropy")


def mse_loss(input, target, reduction="mean"):
    """Mean squared error."""
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ")
    with scope("mse_loss", (("reduction", reduction),)):
        diff = input - target
        return _reduce(diff * diff, reduction, "mse_loss")


def _same_shape(op, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: target size {tuple(target.shape)} is different from the input size "
                         f"{tuple(input.shape)}; they must be the same")


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w (y log x + (1 - y) log(1 - x)) of probabilities x, each log clamped at -100 as in PyTorch."""
    _same_shape("binary_cross_entropy", input, target)
    values = input.array
    if bool(((values < 0) | (values > 1)).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    with scope("binary_cross_entropy", (("reduction", reduction),)):
        log_x = input.log().clamp(min=-100)
        log_1mx = (1 - input).log().clamp(min=-100)
        losses = -(target * log_x + (1 - target) * log_1mx)
        if weight is not None:
            losses = losses * weight
        return _reduce(losses, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy of sigmoid(x), computed stably from the logits x:
    (1 - y) x + (1 + (pos_weight - 1) y) (log(1 + exp(-|x|)) + max(-x, 0))."""
    _same_shape("binary_cross_entropy_with_logits", input, target)
    with scope("binary_cross_entropy_with_logits", (("reduction", reduction),)):
        softplus_minus_x = (1 + (-input.abs()).exp()).log() + (-input).relu()  # log(1 + exp(-x))
        if pos_weight is None:
            losses = (1 - target) * input + softplus_minus_x
        else:
            losses = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_minus_x
        if weight is not None:
            losses = losses * weight
        return _reduce(losses, reduction, "binary_cross_entropy_with_logits")


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error."""
    _same_shape("l1_loss", input, target)
    with scope("l1_loss", (("reduction", reduction),)):
        return _reduce((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (plain L1 for beta = 0)."""
    _same_shape("smooth_l1_loss", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    with scope("smooth_l1_loss", (("reduction", reduction), ("beta", beta))):
        d = input - target
        a = d.abs()
        if beta == 0:
            return _reduce(a, reduction, "smooth_l1_loss")
        losses = where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)
        return _reduce(losses, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    _same_shape("huber_loss", input, target)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    with scope("huber_loss", (("reduction", reduction), ("delta", delta))):
        d = input - target
        a = d.abs()
        losses = where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
        return _reduce(losses, reduction, "huber_loss")


def kl_div(input, target, reduction="mean", log_target=False):
    """KL divergence of ``target`` from the distribution whose log-probabilities are ``input``:
    target (log target - input), 0 where target is 0; "batchmean" divides the sum by the batch size."""
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"kl_div: {reduction!r} is not a valid value for reduction")
    with scope("kl_div", (("reduction", reduction),)):
        if log_target:
            losses = target.exp() * (target - input)
        else:
            positive = target > 0
            safe = where(positive, target, 1.0)
            losses = where(positive, target * safe.log(), 0.0) - target * input
        if reduction == "batchmean":
            return losses.sum() / (input.shape[0] if input.ndim else 1)
        return _reduce(losses, reduction, "kl_div")
