"""Batch norm's backward pass, in training and in eval, and its folding into the conv before it.

Batch norm is composed from mean, var and elementwise primitives, so autograd's dx comes from
theirs; here it is set next to the closed form one derives by hand:

    dx = gamma / sqrt(var + eps) * (dy - mean(dy) - x_hat * mean(dy * x_hat))

(means over the batch). The lecture writes the normalisation as (x - mu) / (sigma + 0.001);
PyTorch and this library use (x - mu) / sqrt(var + eps) with eps = 1e-5 and the *biased* batch
variance, and move the running variance with the *unbiased* one.

    python examples/batchnorm_backward.py [--out DIR]   (pictures: DIR, else a temporary folder)
"""
import argparse
import os
import tempfile

import numpy as np

import tinygrad_cnn as tg
from tinygrad_cnn import nn
from tinygrad_cnn.viz.graph import draw_graph, save
from tinygrad_cnn.viz.lecture import batchnorm_slides

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None, help="folder for the pictures (default: a new temporary folder)")
args = parser.parse_args()
np.set_printoptions(precision=5, suppress=True)

# 1. One channel, a batch of 4 values; gamma = 2, beta = 0.5.
bn = nn.BatchNorm1d(1).double()
with tg.no_grad():
    bn.weight.fill_(2.0)
    bn.bias.fill_(0.5)
x = tg.tensor([[1.0], [2.0], [4.0], [9.0]], dtype=tg.float64, requires_grad=True)
y = bn(x)
mean, var = x.detach().numpy().mean(), x.detach().numpy().var()  # biased, as in training
x_hat = (x.detach().numpy() - mean) / np.sqrt(var + bn.eps)
print(f"batch mean {mean}, biased variance {var}")
print("y = gamma * x_hat + beta:", y.detach().numpy().ravel(), "by hand:", (2 * x_hat + 0.5).ravel())
assert np.allclose(y.detach().numpy(), 2 * x_hat + 0.5)

# 2. Backward: autograd's dx, dgamma, dbeta next to the closed forms.
dy = np.array([[0.1], [-0.3], [0.2], [0.4]])
upstream = tg.tensor(dy, requires_grad=True)  # so that the drawing of dx shows where it goes
y.backward(upstream, create_graph=True)
dx_by_hand = 2.0 / np.sqrt(var + bn.eps) * (dy - dy.mean() - x_hat * (dy * x_hat).mean())
print("\ndx by hand (closed form):", dx_by_hand.ravel())
print("dx from autograd:        ", x.grad.detach().numpy().ravel())
assert np.allclose(dx_by_hand, x.grad.detach().numpy())
print("dgamma = sum(dy * x_hat):", (dy * x_hat).sum(), " autograd:", bn.weight.grad.item())
print("dbeta = sum(dy):         ", dy.sum(), " autograd:", bn.bias.grad.item())
assert np.isclose((dy * x_hat).sum(), bn.weight.grad.item()) and np.isclose(dy.sum(), bn.bias.grad.item())
print("dx sums to zero over the batch:", np.isclose(x.grad.detach().numpy().sum(), 0))

# 3. Training vs eval: the running statistics moved by momentum 0.1 (unbiased variance),
#    and eval normalises with them instead of the batch's.
unbiased = x.detach().numpy().var(ddof=1)
print(f"\nrunning mean {bn.running_mean.item():.5f} = 0.9 * 0 + 0.1 * {mean}")
print(f"running var  {bn.running_var.item():.5f} = 0.9 * 1 + 0.1 * {unbiased:.5f} (unbiased)")
assert np.isclose(bn.running_mean.item(), 0.1 * mean) and np.isclose(bn.running_var.item(), 0.9 + 0.1 * unbiased)
bn.eval()
y_eval = bn(x.detach())
by_hand = 2 * (x.detach().numpy() - bn.running_mean.item()) / np.sqrt(bn.running_var.item() + bn.eps) + 0.5
print("eval output (running statistics):", y_eval.detach().numpy().ravel())
assert np.allclose(y_eval.detach().numpy(), by_hand)

# 4. Folding into the conv before it (eval only): one conv computes conv then batch norm.
tg.manual_seed(0)
conv, bn2 = nn.Conv2d(1, 3, 3).double(), nn.BatchNorm2d(3).double()
bn2(conv(tg.randn(8, 1, 6, 6, dtype=tg.float64)))  # one training step moves the running statistics
conv.eval()
bn2.eval()
image = tg.randn(2, 1, 6, 6, dtype=tg.float64)
fused = nn.utils.fuse_conv_bn(conv, bn2)
difference = (fused(image) - bn2(conv(image))).abs().max().item()
print(f"\nfused conv: W' = W * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta; "
      f"largest difference from conv then batch norm: {difference:.1e}")
assert difference < 1e-12

# 5. The graphs: the forward pass of batch norm, and the backward pass that computes dx.
out_dir = args.out or tempfile.mkdtemp(prefix="batchnorm_backward_")
os.makedirs(out_dir, exist_ok=True)
names = {"x": x, "gamma": bn.weight, "beta": bn.bias, "upstream": upstream}
forward = save(draw_graph(y, params=names, group_composites="collapse"), os.path.join(out_dir, "bn_forward.svg"))
backward = save(draw_graph(x.grad, params=names), os.path.join(out_dir, "bn_backward.svg"))
slides = [save(graph, os.path.join(out_dir, f"{stem}_slide.png")) for stem, _, graph in batchnorm_slides()]
print(f"\nwrote {forward} and {backward}, and the slide {', '.join(slides)}")
