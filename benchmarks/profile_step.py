"""Profile LeNet-5 training steps with cProfile: where the Python time goes, function by function.

    python benchmarks/profile_step.py [--device cpu|cuda] [--batch 256] [--batch-norm] [--steps 20]
"""
import argparse
import cProfile
import pstats

import numpy as np

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.models import LeNet5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--batch-norm", action="store_true")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    tg.manual_seed(0)
    model = LeNet5(batch_norm=args.batch_norm).to(args.device)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((args.batch, 1, 28, 28)).astype(np.float32), device=args.device)
    y = tg.tensor(rng.integers(0, 10, args.batch), device=args.device)

    def steps(n):
        for _ in range(n):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        tg.cuda.synchronize()

    steps(3)
    profile = cProfile.Profile()
    profile.runcall(steps, args.steps)
    stats = pstats.Stats(profile)
    print(f"{args.steps} steps, batch {args.batch}, {'BN, ' if args.batch_norm else ''}device {args.device}: "
          f"{stats.total_tt / args.steps * 1000:.2f} ms per step under the profiler")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
