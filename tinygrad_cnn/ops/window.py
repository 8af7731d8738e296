"""The window primitives: im2col gathers every kernel-sized window of an image into a
row, col2im adds rows back into an image. Each is the other's adjoint, so each one's
backward is the other.

Layouts: ``im2col`` maps an image batch (N, C, H, W) to its windows as either
- "rows" (N, OH, OW, KH, KW, C): one row per output pixel, channels innermost. A
  convolution is then one 2-d matrix product, ``windows.reshape(N*OH*OW, KH*KW*C) @ W``,
  and an image stored channels-last in memory (as a conv's output is here) is gathered
  in long contiguous runs;
- "kernel" (KH, KW, N, OH, OW, C): one block per kernel position, so a reduction over the
  window (pooling) is an elementwise max or sum of KH*KW blocks;
- "columns" (KH, KW, C, OH, OW, N): the transposed matrix of "rows", one row per kernel
  position and channel, the batch innermost. A convolution is then ``W @ windows.reshape(KH*KW*C,
  OH*OW*N)``, and from (and back into) an image stored batch-last in memory, (C, H, W, N), every
  window row is a run of OW*N values: im2col copies and col2im adds in long runs, where the
  "rows" layout's runs are KW*C values (48 for 16 channels), which NumPy adds several times slower.
Within a block, the windows keep the image's own memory order (a "kernel" block of a batch-last
image is stored batch-last), so that copying them is a run-by-run copy.
``F.unfold``/``F.fold`` present PyTorch's (N, C*KH*KW, L) layout on top.
"""
from ..autograd import Function
from ..backend import as_strided, is_launch_bound, module_of


def conv_output_size(size, kernel, stride, padding, dilation):
    """(W - K + 2P) / S + 1 with dilation: how many windows fit along one axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# where each axis of the windows array comes from: (n, oh, ow, kh, kw, c) in the layout's order
LAYOUTS = {"rows": (0, 1, 2, 3, 4, 5), "kernel": (3, 4, 0, 1, 2, 5), "columns": (3, 4, 5, 1, 2, 0)}


CHUNK_BYTES = 2 ** 23  # col2im on the CPU adds this many bytes of windows at a time


def _channels_last_buffer(xp, n, c, h, w, dtype):
    """A zeroed (N, C, H, W) array whose memory is ordered (N, H, W, C)."""
    return xp.zeros((n, h, w, c), dtype).transpose(0, 3, 1, 2)


def _batch_last_buffer(xp, n, c, h, w, dtype):
    """A zeroed (N, C, H, W) array whose memory is ordered (C, H, W, N)."""
    return xp.zeros((c, h, w, n), dtype).transpose(3, 0, 1, 2)


def _is_batch_last(n_stride, c_stride):
    """Whether an image (or windows) with these batch and channel strides has its batch innermost."""
    return abs(n_stride) < abs(c_stride)


class Im2Col(Function):
    """windows[n, i, j, ki, kj, c] = x_padded[n, c, i*s + ki*d, j*s + kj*d];
    dx = col2im(g): each window's gradient added back where the window came from."""

    kind = "window"

    def __init__(self, kernel, stride, padding, dilation, layout="rows"):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        self.layout = layout

    def forward(self, x):
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel, self.stride, self.padding, self.dilation
        oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"im2col: {kh}x{kw} window with stride {sh}x{sw}, padding {ph}x{pw} and dilation {dh}x{dw} "
                f"does not fit a {h}x{w} input"
            )
        self.input_size = (h, w)
        # "rows" reads a channels-last image, "columns" a batch-last one, "kernel" the image as it is
        image_batch_last = _is_batch_last(*x.strides[:2])
        batch_last = image_batch_last if self.layout == "kernel" else self.layout == "columns"
        self.batch_last = batch_last  # the memory order the gradient image gets back
        if ph or pw or batch_last != image_batch_last:
            # padded, or copied into the memory order the layout reads in long runs
            buffer = _batch_last_buffer if batch_last else _channels_last_buffer
            padded = buffer(module_of(x), n, c, h + 2 * ph, w + 2 * pw, x.dtype)
            padded[:, :, ph:ph + h, pw:pw + w] = x
            x = padded
        s_n, s_c, s_h, s_w = x.strides
        shape, strides = (n, oh, ow, kh, kw, c), (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c)
        # stored in the layout's order, but "kernel" blocks of a batch-last image batch-last
        memory = LAYOUTS["columns" if self.layout == "kernel" and batch_last else self.layout]
        if self.layout == "rows" and c == 1 and not is_launch_bound(x):
            # one channel (a grey image): copied kernel position by kernel position (runs of OW values,
            # not of KW), stored (KH, KW, N, OH, OW) and shown as rows: reshaped to (N*OH*OW, KH*KW) for
            # the product it is a transposed matrix, which BLAS reads as it is
            memory = LAYOUTS["kernel"]
        windows = as_strided(x, [shape[i] for i in memory], [strides[i] for i in memory])
        windows = module_of(x).ascontiguousarray(windows)  # the one copy
        shown = LAYOUTS[self.layout]
        return windows.transpose([memory.index(i) for i in shown])

    def backward(self, g):
        return (Col2Im.apply(g, input_size=self.input_size, kernel=self.kernel, stride=self.stride,
                             padding=self.padding, dilation=self.dilation, layout=self.layout,
                             batch_last=self.batch_last),)


class Col2Im(Function):
    """x[n, c, i*s + ki*d, j*s + kj*d] += windows[n, i, j, ki, kj, c] (then the padding is cut off);
    dwindows = im2col(g). Whole-array operations, never element by element: one strided copy where
    windows do not overlap, else strided-slice additions (or, on a GPU, one gather and one sum)."""

    kind = "window"

    def __init__(self, input_size, kernel, stride, padding, dilation, layout="rows", batch_last=None):
        self.input_size, self.kernel, self.stride = input_size, kernel, stride
        self.padding, self.dilation, self.layout = padding, dilation, layout
        self.batch_last = batch_last  # the image's memory order: batch-last, channels-last, or None: the windows'

    def forward(self, windows):
        order = LAYOUTS[self.layout]
        inverse = [order.index(i) for i in range(6)]
        windows = windows.transpose(inverse)  # a view in (N, OH, OW, KH, KW, C) order
        n, oh, ow, kh, kw, c = windows.shape
        (h, w), (sh, sw), (ph, pw), (dh, dw) = self.input_size, self.stride, self.padding, self.dilation
        if (kh, kw) != tuple(self.kernel) or (oh, ow) != (conv_output_size(h, kh, sh, ph, dh),
                                                           conv_output_size(w, kw, sw, pw, dw)):
            raise ValueError(
                f"col2im: windows of shape {tuple(windows.shape)} do not match a {h}x{w} output with kernel "
                f"{tuple(self.kernel)}, stride {tuple(self.stride)}, padding {tuple(self.padding)} and "
                f"dilation {tuple(self.dilation)}"
            )
        if sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1:
            return self._copy_disjoint(windows)
        if is_launch_bound(windows) and (sh, sw) == (1, 1):
            return self._gather(windows)
        return self._add_shifted(windows)

    def _is_output_batch_last(self, windows):
        """As im2col's image was (im2col's backward says so), else as the windows: batch-last for batch-last
        windows ("columns", or "kernel" blocks of a batch-last image), else channels-last. (A pooling's
        gradient can arrive as windows broadcast from an (N, C) product, which are channels-last.)"""
        if self.batch_last is not None:
            return self.batch_last
        return _is_batch_last(windows.strides[0], windows.strides[5])

    def _padded_output(self, windows):
        """A zeroed, padded (N, C, H + 2P, W + 2P) image, batch-last or channels-last in memory."""
        (h, w), (ph, pw) = self.input_size, self.padding
        n, c = windows.shape[0], windows.shape[5]
        buffer = _batch_last_buffer if self._is_output_batch_last(windows) else _channels_last_buffer
        return buffer(module_of(windows), n, c, h + 2 * ph, w + 2 * pw, windows.dtype)

    def _unpadded(self, out):
        (h, w), (ph, pw) = self.input_size, self.padding
        return out[:, :, ph:ph + h, pw:pw + w]

    def _copy_disjoint(self, windows):
        """Windows that do not overlap (2x2 pooling with stride 2): every pixel is in at most one
        window, so the adjoint is one strided copy into a view of the image shaped like the windows."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        out = self._padded_output(windows)
        s_n, s_c, s_h, s_w = out.strides
        targets = as_strided(out, windows.shape, (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c), writeable=True)
        targets[...] = windows
        return self._unpadded(out)

    def _add_shifted(self, windows):
        """A loop of in-place strided-slice additions (through views: one operation each, no write-back);
        on the CPU about 8 MB of windows at a time, so the images being added into stay in cache
        (15-20% faster for a ResNet's first layer than the whole batch at once), except into a batch-last
        image: its runs are long and a chunk of images would cut them."""
        out = self._padded_output(windows)
        out_nhwc = out.transpose(0, 2, 3, 1)
        whole = is_launch_bound(windows) or self._is_output_batch_last(windows)
        batch = windows.shape[0] if whole else max(1, CHUNK_BYTES // windows[0].nbytes)
        for start in range(0, windows.shape[0], batch):
            self._add_windows(out_nhwc[start:start + batch], windows[start:start + batch])
        return self._unpadded(out)

    def _add_windows(self, out_nhwc, windows):
        """Add windows (N, OH, OW, KH, KW, C) into the padded image out_nhwc (axes N, H, W, C; in memory
        channels-last or batch-last, as the windows)."""
        _, oh, ow, kh, kw, _ = windows.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        rows = [slice(i * dh, i * dh + sh * (oh - 1) + 1, sh) for i in range(kh)]
        if self.layout == "rows" and dw == 1 and not is_launch_bound(windows):
            # one add per (output column, kernel row): a window's row is KW*C contiguous values on both
            # sides, which numpy adds several times faster than C-long runs; the kernel rows of one
            # output column lie next to each other in memory, so they go one after another
            for o in range(ow):
                for i in range(kh):
                    target = out_nhwc[:, rows[i], o * sw:o * sw + kw, :]
                    target += windows[:, :, o, i]
            return
        for i in range(kh):  # one add per kernel position: a contiguous block in the "kernel" layout
            for j in range(kw):
                target = out_nhwc[:, rows[i], slice(j * dw, j * dw + sw * (ow - 1) + 1, sw), :]
                target += windows[:, :, :, i, j, :]

    def _gather(self, windows):
        """For stride 1 on a GPU: each pixel gathers the KH*KW window values that land on it (a zero
        where none does) and sums them. Four operations instead of one add per kernel position (25
        for a 5x5 kernel), for about the same memory traffic."""
        n, oh, ow, kh, kw, c = windows.shape
        h, w = self.input_size
        xp = module_of(windows)
        flat = windows.reshape(n, oh * ow * kh * kw, c)
        with_zero = xp.concatenate([flat, xp.zeros((n, 1, c), windows.dtype)], axis=1)
        sources = _gather_sources(xp, self.input_size, self.padding, (oh, ow), (kh, kw), self.dilation)
        out_nhwc = xp.take(with_zero, sources, axis=1).reshape(n, h, w, kh * kw, c).sum(axis=3)
        return out_nhwc.transpose(0, 3, 1, 2)  # channels-last in memory, as the other strategies

    def backward(self, g):
        return (Im2Col.apply(g, kernel=self.kernel, stride=self.stride, padding=self.padding,
                             dilation=self.dilation, layout=self.layout),)


_sources_cache = {}


def _gather_sources(xp, size, padding, windows_size, kernel, dilation):
    """For stride 1: for each pixel (y, x) of the unpadded image and kernel position (ki, kj), the
    flat index into (OH, OW, KH, KW) of the window value landing there, (y + P - ki*d, x + P - kj*d,
    ki, kj), or OH*OW*KH*KW (the appended zero) where that window does not exist. Cached per
    geometry and device."""
    key = (xp.__name__, size, padding, windows_size, kernel, dilation)
    if key not in _sources_cache:
        (h, w), (ph, pw), (oh, ow), (kh, kw), (dh, dw) = size, padding, windows_size, kernel, dilation
        ki = xp.arange(kh).reshape(1, 1, kh, 1)
        kj = xp.arange(kw).reshape(1, 1, 1, kw)
        i = xp.arange(ph, ph + h).reshape(h, 1, 1, 1) - ki * dh
        j = xp.arange(pw, pw + w).reshape(1, w, 1, 1) - kj * dw
        flat = ((i * ow + j) * kh + ki) * kw + kj
        exists = (i >= 0) & (i < oh) & (j >= 0) & (j < ow)
        _sources_cache[key] = xp.where(exists, flat, oh * ow * kh * kw).reshape(-1)
    return _sources_cache[key]
