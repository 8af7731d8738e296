"""The window primitives: im2col gathers every kernel-sized window of an image into a
row, col2im adds rows back into an image. Each is the other's adjoint, so each one's
backward is the other.

Layouts: ``im2col`` maps an image batch (N, C, H, W) to its windows as either
- "rows" (N, OH, OW, KH, KW, C): one row per output pixel, channels innermost. A
  convolution is then one 2-d matrix product, ``windows.reshape(N*OH*OW, KH*KW*C) @ W``,
  and an image stored channels-last in memory (as a conv's output is here) is gathered
  in long contiguous runs;
- "kernel" (KH, KW, N, OH, OW, C): one contiguous block per kernel position, so a
  reduction over the window (pooling) is an elementwise max or sum of KH*KW blocks.
``F.unfold``/``F.fold`` present PyTorch's (N, C*KH*KW, L) layout on top.
"""
from ..autograd import Function
from ..backend import as_strided, is_launch_bound, module_of


def conv_output_size(size, kernel, stride, padding, dilation):
    """(W - K + 2P) / S + 1 with dilation: how many windows fit along one axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# where each axis of the windows array comes from: (n, oh, ow, kh, kw, c) in the layout's order
LAYOUTS = {"rows": (0, 1, 2, 3, 4, 5), "kernel": (3, 4, 0, 1, 2, 5)}


def _channels_last_buffer(xp, n, c, h, w, dtype):
    """A zeroed (N, C, H, W) array whose memory is ordered (N, H, W, C)."""
    return xp.zeros((n, h, w, c), dtype).transpose(0, 3, 1, 2)


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
        order = LAYOUTS[self.layout]
        if ph or pw:
            padded = _channels_last_buffer(module_of(x), n, c, h + 2 * ph, w + 2 * pw, x.dtype)
            padded[:, :, ph:ph + h, pw:pw + w] = x
            x = padded
        s_n, s_c, s_h, s_w = x.strides
        shape, strides = (n, oh, ow, kh, kw, c), (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c)
        windows = as_strided(x, [shape[i] for i in order], [strides[i] for i in order])
        return module_of(x).ascontiguousarray(windows)  # the one copy

    def backward(self, g):
        return (Col2Im.apply(g, input_size=self.input_size, kernel=self.kernel, stride=self.stride,
                             padding=self.padding, dilation=self.dilation, layout=self.layout),)


class Col2Im(Function):
    """x[n, c, i*s + ki*d, j*s + kj*d] += windows[n, i, j, ki, kj, c] (then the padding is cut off);
    dwindows = im2col(g). A loop of strided-slice additions, never element by element."""

    kind = "window"

    def __init__(self, input_size, kernel, stride, padding, dilation, layout="rows"):
        self.input_size, self.kernel, self.stride = input_size, kernel, stride
        self.padding, self.dilation, self.layout = padding, dilation, layout

    def forward(self, windows):
        order = LAYOUTS[self.layout]
        inverse = [order.index(i) for i in range(6)]
        windows = windows.transpose(inverse)  # a view in (N, OH, OW, KH, KW, C) order
        n, oh, ow, kh, kw, c = windows.shape
        (h, w), (sh, sw), (ph, pw), (dh, dw) = self.input_size, self.stride, self.padding, self.dilation
        if (kh, kw) != tuple(self.kernel) or (oh, ow) != (conv_output_size(h, kh, sh, ph, dh),
                                                           conv_output_size(w, kw, sw, pw, dw)):
            raise ValueError(
                f"col2im: windows of shape {windows.shape} do not match a {h}x{w} output with kernel "
                f"{tuple(self.kernel)}, stride {tuple(self.stride)}, padding {tuple(self.padding)} and "
                f"dilation {tuple(self.dilation)}"
            )
        xp = module_of(windows)
        out = _channels_last_buffer(xp, n, c, h + 2 * ph, w + 2 * pw, windows.dtype)
        s_n, s_c, s_h, s_w = out.strides
        if sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1:
            # windows that do not overlap (2x2 pooling with stride 2): every pixel is in at most one
            # window, so the adjoint is one strided copy into a view of the image shaped like the windows
            targets = as_strided(out, windows.shape, (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c), writeable=True)
            targets[...] = windows
            return out[:, :, ph:ph + h, pw:pw + w]
        out_nhwc = out.transpose(0, 2, 3, 1)
        for i in range(kh):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            if self.layout == "rows" and dw == 1 and not is_launch_bound(windows):
                # one add per (kernel row, output column): a window's row is KW*C contiguous values on
                # both sides, which numpy adds several times faster than C-long runs (on a GPU, fewer
                # and larger adds, one per kernel position, are better)
                for o in range(ow):
                    target = out_nhwc[:, rows, o * sw:o * sw + kw, :]
                    target += windows[:, :, o, i]  # in place through a view: one operation, no write-back
            else:  # one add per kernel position: a contiguous block in the "kernel" layout
                for j in range(kw):
                    target = out_nhwc[:, rows, slice(j * dw, j * dw + sw * (ow - 1) + 1, sw), :]
                    target += windows[:, :, :, i, j, :]
        return out[:, :, ph:ph + h, pw:pw + w]

    def backward(self, g):
        return (Im2Col.apply(g, kernel=self.kernel, stride=self.stride, padding=self.padding,
                             dilation=self.dilation, layout=self.layout),)
