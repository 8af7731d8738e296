"""LeNet-5 with and without batch norm, same seed and data, learning curves side by side.

    python examples/batchnorm_effect.py [--epochs 6] [--out batchnorm_effect.png]
"""
import argparse

from tinygrad_cnn.training import TrainConfig, train
from tinygrad_cnn.viz import have_matplotlib, plot_curves

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--lr", type=float, default=0.05, help="a high rate, where batch norm helps most")
parser.add_argument("--limit", type=int, default=0)
parser.add_argument("--out", default="batchnorm_effect.png")
args = parser.parse_args()

runs = {}
for batch_norm in (False, True):
    config = TrainConfig(epochs=args.epochs, lr=args.lr, batch_norm=batch_norm, schedule="constant",
                         train_limit=args.limit, test_limit=args.limit, seed=0)
    name = "with BN" if batch_norm else "without BN"
    runs[name] = train(config, out_dir=f"runs/{name.replace(' ', '_')}", progress=False,
                       log=lambda line: None)
    print(f"{name:>10}: " + "  ".join(f"{r['test_acc']:.1%}" for r in runs[name]) + "  (test accuracy per epoch)")

if have_matplotlib():
    print("wrote", plot_curves(runs, args.out))
else:
    print("matplotlib is not installed: no picture (pip install 'tinygrad_cnn[plot]')")
