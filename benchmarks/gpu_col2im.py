"""col2im for a stride-1 convolution's input gradient, measured two ways: one in-place add per
kernel position (what Col2Im does on the CPU) and one gather + one sum (what it does on a GPU,
where each add is a kernel launch). Wall-clock milliseconds per call, launches included.

    python benchmarks/gpu_col2im.py            # on the GPU where there is one, else on the CPU
"""
import numpy as np

import tinygrad_cnn as tg
from tinygrad_cnn import backend
from tinygrad_cnn.ops import Col2Im

from gpu_im2col import median_ms  # this script's folder is on the path when run as shown above

CASES = [  # name, windows (N, OH, OW, KH, KW, C), image size, padding
    ("conv2 of LeNet-5 (batch 64)", (64, 14, 14, 5, 5, 20), (14, 14), (2, 2)),
    ("conv2 of LeNet-5 (batch 256)", (256, 14, 14, 5, 5, 20), (14, 14), (2, 2)),
    ("3x3 'same', 64 channels, 32x32 (batch 64)", (64, 32, 32, 3, 3, 64), (32, 32), (1, 1)),
]


def main():
    device = "cuda" if tg.cuda.is_available() else "cpu"
    print(f"col2im on {device}: ms per call")
    print(f"{'windows':45s} {'adds':>8s} {'gather':>8s}")
    for name, shape, size, padding in CASES:
        windows = backend.to_device(np.random.default_rng(0).standard_normal(shape).astype(np.float32), device)
        op = Col2Im(input_size=size, kernel=shape[3:5], stride=(1, 1), padding=padding, dilation=(1, 1))
        added, gathered = op._add_shifted(windows), op._gather(windows)
        np.testing.assert_allclose(backend.to_numpy(gathered), backend.to_numpy(added), rtol=1e-5, atol=1e-4)
        print(f"{name:45s} {median_ms(lambda: op._add_shifted(windows), repeats=30):8.3f} "
              f"{median_ms(lambda: op._gather(windows), repeats=30):8.3f}")


if __name__ == "__main__":
    main()
