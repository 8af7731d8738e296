"""Max pooling's backward pass, the lecture's 4x4 example: the gradient lands only on the maxima.

Max pooling is composed (im2col, then a max over each window); its gradient comes from the max
primitive, which routes each output's gradient to the one input that won its window, the first
maximal one where values tie, as PyTorch does.

    python examples/maxpool_backward.py [--out DIR]   (pictures: DIR, else a temporary folder)
"""
import argparse
import os
import tempfile

import numpy as np

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.viz.graph import draw_graph, save
from tinygrad_cnn.viz.lecture import maxpool_slides

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None, help="folder for the pictures (default: a new temporary folder)")
args = parser.parse_args()


def show(title, array):
    print(f"\n{title}\n{np.asarray(array)}")


# 1. The lecture's 4x4 input, 2x2 windows with stride 2.
x = tg.tensor([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=tg.float32)
x = x.reshape(1, 1, 4, 4).requires_grad_()
out, indices = F.max_pool2d(x, 2, return_indices=True)
show("input (4x4)", x.detach().numpy()[0, 0])
show("max pooled (2x2): the largest value of each window", out.detach().numpy()[0, 0])
assert out.tolist()[0][0] == [[6, 8], [3, 4]]

# 2. Backward with an upstream gradient: each value goes to where its window's maximum was.
upstream = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
upstream_tensor = tg.tensor(upstream, requires_grad=True)  # so that the drawing of dX shows where it goes
out.backward(upstream_tensor.reshape(1, 1, 2, 2), create_graph=True)
mask = np.zeros((4, 4), np.float32)  # the routing mask, by hand: 1 where a window's maximum sits
by_hand = np.zeros((4, 4), np.float32)
for i in range(2):
    for j in range(2):
        window = x.detach().numpy()[0, 0, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        r, c = np.unravel_index(np.argmax(window), window.shape)  # the first maximum, row by row
        mask[2 * i + r, 2 * j + c] = 1
        by_hand[2 * i + r, 2 * j + c] += upstream[i, j]
show("routing mask (argmax of each window)", mask)
show("upstream gradient (2x2)", upstream)
show("dX by hand: each upstream value placed on its window's maximum", by_hand)
show("dX from autograd", x.grad.detach().numpy()[0, 0])
assert np.array_equal(by_hand, x.grad.detach().numpy()[0, 0])
print("dX by hand equals autograd's: the other 12 inputs get exactly 0")
print("PyTorch's indices of the maxima (row * 4 + column):", indices.tolist()[0][0])

# 3. Ties: a window whose maximum appears twice gives the whole gradient to the first one.
tie = tg.tensor([[2.0, 2.0], [1.0, 0.0]]).reshape(1, 1, 2, 2).requires_grad_()
F.max_pool2d(tie, 2).sum().backward()
show("a window with a tie [[2, 2], [1, 0]]: its gradient", tie.grad.numpy()[0, 0])
assert tie.grad.tolist()[0][0] == [[1.0, 0.0], [0.0, 0.0]]
print("the first maximal element (reading row by row) gets it all, as in PyTorch")

# 4. The graphs: forward (im2col, then max over each window) and the backward pass of dX.
out_dir = args.out or tempfile.mkdtemp(prefix="maxpool_backward_")
os.makedirs(out_dir, exist_ok=True)
names = {"input": x, "upstream": upstream_tensor}
forward = save(draw_graph(out.sum(), params=names), os.path.join(out_dir, "maxpool_forward.svg"))
backward = save(draw_graph(x.grad, params=names), os.path.join(out_dir, "maxpool_backward.svg"))
slides = [save(graph, os.path.join(out_dir, f"{stem}_slide.png")) for stem, _, graph in maxpool_slides()]
print(f"\nwrote {forward} and {backward}, and the slide {', '.join(slides)}")
