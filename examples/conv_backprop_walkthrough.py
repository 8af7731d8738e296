"""The lecture's worked example, step by step: a conv is im2col + one matrix product, and its
backward pass is two matrix products + col2im.

One convention throughout, the library's own (and the drawings'): the windows matrix has one
*row* per output pixel (its 9 values read row by row), and the conv is that matrix times the
filter as a *column*.

    python examples/conv_backprop_walkthrough.py [--out DIR]   (pictures: DIR, else a temporary folder)
"""
import argparse
import os
import tempfile

import numpy as np

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.viz.graph import draw_graph, save
from tinygrad_cnn.viz.lecture import conv_slides

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None, help="folder for the forward and backward graph pictures "
                                                 "(default: a new temporary folder)")
args = parser.parse_args()
np.set_printoptions(linewidth=120)


def show(title, tensor):
    print(f"\n{title}\n{tensor.detach().numpy()}")


# 1. The 5x5 image and the 3x3 filter from the lecture.
image = tg.tensor([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
                  dtype=tg.float32).reshape(1, 1, 5, 5).requires_grad_()
kernel = tg.nn.Parameter(tg.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=tg.float32).reshape(1, 1, 3, 3))
show("image (5x5)", image[0, 0])
show("filter (3x3)", kernel[0, 0])

# 2. im2col: every 3x3 window becomes one row, so a 5x5 image gives 9 rows of 9 values.
windows = F.unfold(image, kernel_size=3)[0].t()  # (9 windows, 9 values per window)
show("windows matrix (im2col): row j is window j, read row by row", windows)

# 3. The convolution is now one matrix product: the windows matrix times the filter as a column.
filter_column = kernel.reshape(9, 1)
by_matmul = (windows @ filter_column).reshape(3, 3)
show("windows @ filter column, reshaped to 3x3", by_matmul)
output = F.conv2d(image, kernel)
assert by_matmul.tolist() == output[0, 0].tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
print("equals F.conv2d and the lecture's [[4,3,4],[2,4,3],[2,3,4]]")

# 4. Backward: pretend the loss sends this gradient to each of the 9 outputs.
upstream = tg.tensor([[1, 0, -1], [2, 1, 0], [0, -1, 1]], dtype=tg.float32)
output.backward(upstream.reshape(1, 1, 3, 3), create_graph=True)
show("upstream gradient dL/dout (3x3)", upstream)
upstream_column = upstream.reshape(9, 1)

# 5. dW by hand: each filter weight met one value of each window, so
#    dW = windows^T @ upstream column.
dw_by_hand = (windows.detach().t() @ upstream_column).reshape(3, 3)
show("dW by hand = windows^T @ upstream", dw_by_hand)
show("dW from autograd", kernel.grad[0, 0])
assert np.array_equal(dw_by_hand.numpy(), kernel.grad[0, 0].detach().numpy())
print("dW by hand equals autograd's dW")

# 6. dX by hand: each window's gradient is its upstream value times the filter (a 9x9 matrix,
#    one row per window: upstream column @ filter row); col2im adds every row back onto the
#    pixels its window covered.
window_grads = upstream_column @ kernel.detach().reshape(1, 9)
dx_by_hand = F.fold(window_grads.t().reshape(1, 9, 9), output_size=(5, 5), kernel_size=3)[0, 0]
show("dX by hand = col2im(upstream @ filter row)", dx_by_hand)
show("dX from autograd", image.grad[0, 0])
assert np.array_equal(dx_by_hand.numpy(), image.grad[0, 0].detach().numpy())
print("dX by hand equals autograd's dX: col2im is im2col run backwards")

# 6b. That product-then-col2im is exactly a transposed convolution: F.conv_transpose2d is conv2d's
#     input gradient run forward (it paints each upstream value times the filter back onto the image).
dx_transposed = F.conv_transpose2d(upstream.reshape(1, 1, 3, 3), kernel.detach())[0, 0]
assert np.array_equal(dx_transposed.numpy(), dx_by_hand.numpy())
print("F.conv_transpose2d(upstream, filter) gives the same dX: a transposed conv is a conv's input gradient")

# 7. Receptive field: backprop from one output pixel of L stacked 3x3 convs; the input pixels
#    with a nonzero gradient form a (1 + L(K-1)) square.
print("\nreceptive field of stacked 3x3 convs, seen through the gradient:")
for layers in range(1, 5):
    x = tg.zeros(1, 1, 15, 15, requires_grad=True)
    y = x
    for _ in range(layers):
        y = F.conv2d(y, tg.ones(1, 1, 3, 3), padding=1)
    y[0, 0, 7, 7].backward()
    rows = np.nonzero(x.grad.numpy()[0, 0].any(axis=1))[0]
    side = rows.max() - rows.min() + 1
    assert side == 1 + layers * 2
    print(f"  L={layers}: {side}x{side} input pixels = 1 + L(K-1) = 1 + {layers}*2")

# 8. The graphs: forward (conv2d = im2col -> reshape -> matmul) and the backward pass of dX
#    (built because backward ran with create_graph=True), where col2im appears; and the lecture's
#    slides (16:9, every number): X_cols and the product, dX = col2im(dY . W^T), dW = X_cols^T . dY.
out = args.out or tempfile.mkdtemp(prefix="conv_walkthrough_")
os.makedirs(out, exist_ok=True)
names = {"image": image, "filter": kernel}
forward = save(draw_graph(output, params=names), os.path.join(out, "walkthrough_forward.svg"))
backward = save(draw_graph(image.grad, params=names), os.path.join(out, "walkthrough_backward.svg"))
slides = [save(graph, os.path.join(out, f"{stem}.png")) for stem, _, graph in conv_slides()]
print(f"\nwrote {forward} and {backward}, and the slides {', '.join(slides)}")
