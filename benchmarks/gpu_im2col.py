"""im2col on the GPU: one gathering kernel against CuPy's copy of a strided view, for LeNet-5's windows.

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
    print(f"{'windows':20s} {'kernel ms':>10s} {'strided copy ms':>16s}")
    for name, shape, kernel, stride, padding, layout in CASES:
        x = backend.to_device(np.random.default_rng(0).standard_normal(shape).astype(np.float32), "cuda")
        x = backend.cupy.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # channels-last, as a conv's output
        op = Im2Col(kernel=kernel, stride=stride, padding=padding, dilation=(1, 1), layout=layout)
        timings = {}
        for use_kernel in (True, False):
            backend.USE_CUDA_IM2COL_KERNEL = use_kernel
            timings[use_kernel] = median_ms(lambda: op.forward(x))
        backend.USE_CUDA_IM2COL_KERNEL = True
        print(f"{name:20s} {timings[True]:10.3f} {timings[False]:16.3f}")


if __name__ == "__main__":
    main()
