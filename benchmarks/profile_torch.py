"""Where PyTorch CPU eager spends a training step, or with ``--eval`` an eval-mode forward, of the
same networks: its profiler's self time per operator, the mean of the steps. The
counterpart of profile_program.py, to say what PyTorch does where our replay spends its time.

    python benchmarks/profile_torch.py [--model lenet5|lenet5-bn|resnet8] [--batch 64] [--steps 20] [--eval]
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lenet  # noqa: E402
import resnet  # noqa: E402


def main():
    parser = harness.profile_arguments(__doc__)
    args = parser.parse_args()
    torch.set_num_threads(harness.cpu_count())
    torch.manual_seed(0)
    model = resnet.torch_resnet8() if args.model == "resnet8" else lenet.torch_lenet(args.model == "lenet5-bn")
    shape = (1, 28, 28) if args.model.startswith("lenet") else (3, 32, 32)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((args.batch, *shape)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, args.batch))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    model.train(not args.eval)
    run = (lambda: lenet.torch_inference(model, x)) if args.eval else (lambda: lenet.torch_step(model, opt, x, y))
    for _ in range(3):
        run()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            run()
    rows = [(e.self_cpu_time_total / args.steps / 1000, e.count // args.steps, e.key) for e in prof.key_averages()]
    whole = sum(ms for ms, _, _ in rows)
    what = "eval forward" if args.eval else "step"
    print(f"PyTorch {torch.__version__} {args.model}, batch {args.batch}: {whole:.1f} ms per {what} in operators "
          f"(profiler self time, mean of {args.steps}; the profiler adds its own cost per operator)")
    for ms, count, name in sorted(rows, reverse=True)[:20]:
        print(f"  {name:44s} {count:4d} calls {ms:8.2f} ms  {100 * ms / whole:5.1f}%")


if __name__ == "__main__":
    main()
