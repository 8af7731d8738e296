"""The transposed convolution is the convolution's input gradient, run forward.

A stride-2 3x3 conv maps a 5x5 image to 2x2 (the lecture's strided conv). Its backward pass sends
a 2x2 gradient back to 5x5 by one matrix product (each value times the filter) and col2im
(overlapping windows add up). ``F.conv_transpose2d`` is exactly those two steps, used forward:
it upsamples 2x2 to 5x5, and its own gradient is the conv again (col2im's adjoint is im2col).

    python examples/transposed_conv.py [--out DIR]   (pictures: DIR, else a temporary folder)
"""
import argparse
import os
import tempfile

import numpy as np

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.viz.graph import draw_graph, save

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None, help="folder for the pictures (default: a new temporary folder)")
args = parser.parse_args()

# 1. The forward conv: 5x5 -> 2x2 with a 3x3 filter, stride 2: (W - K + 2P) / S + 1 = (5 - 3) / 2 + 1 = 2.
image = tg.arange(25, dtype=tg.float32).reshape(1, 1, 5, 5).requires_grad_()
kernel = tg.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=tg.float32).reshape(1, 1, 3, 3)
out = F.conv2d(image, kernel, stride=2)
print("conv 5x5 -> 2x2 with stride 2:\n", out.detach().numpy()[0, 0])

# 2. Its input gradient for an upstream gradient g ...
g = tg.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
out.backward(g)
print("\nd(conv)/d(image) applied to g = [[1, 2], [3, 4]]:\n", image.grad.numpy()[0, 0])

# 3. ... is the transposed conv of g with the same filter: each value of g paints the filter,
#    scaled, onto the 5x5 output at stride 2, and the overlaps add up.
up = F.conv_transpose2d(g, kernel, stride=2)
print("\nconv_transpose2d(g, filter, stride=2), 2x2 -> 5x5:\n", up.numpy()[0, 0])
assert np.array_equal(up.numpy(), image.grad.numpy())
print("the same: a transposed conv is a conv's input gradient (output size (H - 1) * S - 2P + K = 5)")

# 4. By hand: place g[i, j] * filter at rows 2i..2i+2, columns 2j..2j+2 and add.
by_hand = np.zeros((5, 5), np.float32)
for i in range(2):
    for j in range(2):
        by_hand[2 * i:2 * i + 3, 2 * j:2 * j + 3] += g.numpy()[0, 0, i, j] * kernel.numpy()[0, 0]
assert np.array_equal(by_hand, up.numpy()[0, 0])
print("and by hand: g[i, j] * filter placed at (2i, 2j), overlaps added")

# 5. The graph of the transposed conv: one matmul, then col2im (no backward pass of its own).
out_dir = args.out or tempfile.mkdtemp(prefix="transposed_conv_")
os.makedirs(out_dir, exist_ok=True)
g_leaf = g.clone().requires_grad_()
w_leaf = kernel.clone().requires_grad_()
graph = draw_graph(F.conv_transpose2d(g_leaf, w_leaf, stride=2).sum(), params={"g": g_leaf, "filter": w_leaf})
picture = save(graph, os.path.join(out_dir, "transposed_conv.svg"))
print(f"\nwrote {picture}")
