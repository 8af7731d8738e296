"""Where a compiled training step (``tg.compile``), or with ``--eval`` an eval-mode forward, spends
its time: each operation of the replayed program timed, summed by kind (a primitive's forward, in
place or not; an array computation outside the primitives; the optimizer's step), median over steps.

    python benchmarks/profile_program.py [--model lenet5|lenet5-bn|resnet8] [--batch 64] [--steps 20]
                                         [--eval] [--rematerialize] [--device cpu|cuda]
"""
import os
import statistics
import sys

import numpy as np

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.compile.passes import InPlace
from tinygrad_cnn.compile.program import Call, CallAgain, Computed
from tinygrad_cnn.models import LeNet5, resnet8

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def kind(op):
    """What an operation is called in the table."""
    if isinstance(op, (Call, InPlace)):
        return type(op.fn).__name__ + (" (in place)" if isinstance(op, InPlace) else "")
    if isinstance(op, CallAgain):
        return f"{type(op.func.__self__).__name__}.{op.func.__name__}"
    if isinstance(op, Computed):
        return "computed: " + getattr(op.func, "__qualname__", "?").split(".<locals>")[0]
    return type(op).__name__


def main():
    parser = harness.profile_arguments(__doc__)
    parser.add_argument("--rematerialize", action="store_true")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    tg.manual_seed(0)
    model = {"lenet5": LeNet5, "lenet5-bn": lambda: LeNet5(batch_norm=True), "resnet8": resnet8}[args.model]()
    model.to(args.device)
    opt = tg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    shape = (1, 28, 28) if args.model.startswith("lenet") else (3, 32, 32)
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((args.batch, *shape)).astype(np.float32), device=args.device)
    y = tg.tensor(rng.integers(0, 10, args.batch), device=args.device)

    def step(x, y):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    def forward(x, y):
        with tg.no_grad():
            model(x)

    model.train(not args.eval)
    compiled = tg.compile(forward if args.eval else step, rematerialize=args.rematerialize)
    for _ in range(3):  # recorded, proven, replayed
        compiled(x, y)
    program = next(e.program for entries in compiled.cache.values() for e in entries if e.program is not None)
    per_step = []
    for _ in range(args.steps):
        seconds = [0.0] * len(program.ops)
        program.replay([x, y], seconds)
        per_step.append(seconds)
    totals = {}
    for k, op in enumerate(program.ops):
        name = kind(op)
        count, times = totals.get(name, (0, [0.0] * args.steps))
        totals[name] = (count + 1, [t + s[k] for t, s in zip(times, per_step)])
    whole = statistics.median(sum(s) for s in per_step)
    what = "eval forward" if args.eval else "step"
    print(f"{args.model}, batch {args.batch}, {len(program.ops)} operations: {whole * 1000:.1f} ms a replayed "
          f"{what} (median of {args.steps}, each operation timed)")
    rows = sorted(((statistics.median(t), n, name) for name, (n, t) in totals.items()), reverse=True)
    for median, count, name in rows[:20]:
        ops = "ops" if count != 1 else "op "
        print(f"  {name:38s} {count:4d} {ops} {median * 1000:8.2f} ms  {100 * median / whole:5.1f}%")


if __name__ == "__main__":
    main()
