"""im2col on the GPU, measured two ways for LeNet-5's windows: CuPy's copy of a strided view (what
tinygrad_cnn's Im2Col does) and one elementwise kernel that gathers each window value straight
from the image (no padded copy). The library keeps whichever is faster; see benchmarks/README.md.

    python benchmarks/gpu_im2col.py
"""
import time

import numpy as np

import tinygrad_cnn as tg
from tinygrad_cnn import backend
from tinygrad_cnn.ops import Im2Col

CASES = [  # name, input (N, C, H, W), kernel, stride, padding, layout
    ("conv1 (batch 256)", (256, 1, 28, 28), (5, 5), (1, 1), (2, 2), "rows"),
    ("pool1 (batch 256)", (256, 20, 28, 28), (2, 2), (2, 2), (0, 0), "kernel"),
    ("conv2 (batch 256)", (256, 20, 14, 14), (5, 5), (1, 1), (2, 2), "rows"),
    ("pool2 (batch 256)", (256, 50, 14, 14), (2, 2), (2, 2), (0, 0), "kernel"),
]

GATHER = r"""
long long t = i;
int c = t % C; t /= C;
int kh, kw, n, oh, ow;
if (rows_layout) {
    kw = t % KW; t /= KW; kh = t % KH; t /= KH; ow = t % OW; t /= OW; oh = t % OH; n = t / OH;
} else {
    ow = t % OW; t /= OW; oh = t % OH; t /= OH; n = t % N; t /= N; kw = t % KW; kh = t / KW;
}
int h = oh * SH - PH + kh;
int w = ow * SW - PW + kw;
y = (h >= 0 && h < H && w >= 0 && w < W) ? x[n * sN + c * sC + h * sH + w * sW] : (T)0;
"""


def gather_kernel():
    return backend.cupy.ElementwiseKernel(
        "raw T x, int32 N, int32 C, int32 H, int32 W, int32 OH, int32 OW, int32 KH, int32 KW, int32 SH, int32 SW, "
        "int32 PH, int32 PW, int64 sN, int64 sC, int64 sH, int64 sW, bool rows_layout", "T y", GATHER, "im2col_gather")


def im2col_gather(kernel_fn, x, kernel, stride, padding, layout):
    """The windows of a channels-last (N, C, H, W) view, gathered by one kernel."""
    n, c, h, w = x.shape
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    shape = (n, oh, ow, *kernel, c) if layout == "rows" else (*kernel, n, oh, ow, c)
    out = backend.cupy.empty(shape, x.dtype)
    strides = [s // x.itemsize for s in x.strides]
    kernel_fn(x.transpose(0, 2, 3, 1).reshape(-1), n, c, h, w, oh, ow, *kernel, *stride, *padding, *strides,
              layout == "rows", out)
    return out


def median_ms(fn, repeats=50):
    fn()
    tg.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        tg.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def main():
    if not tg.cuda.is_available():
        print("no CUDA GPU: nothing to measure")
        return
    kernel_fn = gather_kernel()
    print(f"{'windows':20s} {'gather kernel ms':>17s} {'strided copy ms':>16s}")
    for name, shape, kernel, stride, padding, layout in CASES:
        x = backend.to_device(np.random.default_rng(0).standard_normal(shape).astype(np.float32), "cuda")
        x = backend.cupy.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # as a conv's output
        op = Im2Col(kernel=kernel, stride=stride, padding=padding, dilation=(1, 1), layout=layout)
        assert bool((im2col_gather(kernel_fn, x, kernel, stride, padding, layout) == op.forward(x)).all())
        gather = median_ms(lambda: im2col_gather(kernel_fn, x, kernel, stride, padding, layout))
        strided = median_ms(lambda: op.forward(x))
        print(f"{name:20s} {gather:17.3f} {strided:16.3f}")


if __name__ == "__main__":
    main()
