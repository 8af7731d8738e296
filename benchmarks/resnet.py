"""ResNet-8 (3x32x32, CIFAR-style) training and inference speed, tinygrad_cnn against PyTorch.

    python benchmarks/resnet.py [--rounds 5] [--steps 10] [--train-batches 64 128] [--infer-batch 256]

Both libraries get the same weights and data; each measurement runs in a process of its own and
the processes alternate round by round (see harness.py). Prints per training step (forward +
backward + SGD-momentum step) and per eval-mode no_grad forward: the median milliseconds over the
rounds (with the smallest and largest round) of tinygrad_cnn eager, compiled (``tg.compile``) and
compiled with ``rematerialize=True``, and of PyTorch, with the ratios to PyTorch; the memory of a
batch-128 training step; and where one tinygrad_cnn step spends its time.
"""
import argparse
import json
import os
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def torch_resnet8():
    """The same network as tinygrad_cnn.models.resnet8, with the same state-dict keys."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
            self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
            self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
            self.layer1 = nn.Sequential(Block(16, 16, 1))
            self.layer2 = nn.Sequential(Block(16, 32, 2))
            self.layer3 = nn.Sequential(Block(32, 64, 2))
            self.avgpool, self.dropout, self.fc = nn.AdaptiveAvgPool2d(1), nn.Dropout(0.0), nn.Linear(64, 10)

        def forward(self, x):
            x = self.layer3(self.layer2(self.layer1(torch.relu(self.bn1(self.conv1(x))))))
            return self.fc(self.dropout(self.avgpool(x).flatten(1)))

    return Net()


def build(library, batch_size):
    """(model, optimizer, x, y, step, inference) for one library, with tinygrad_cnn's initial weights."""
    import tinygrad_cnn as tg
    import tinygrad_cnn.nn.functional as F

    tg.manual_seed(0)
    ours = tg.models.resnet8()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((batch_size, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, batch_size)
    if library in ("ours", "compiled", "compiled-remat"):
        opt = tg.optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad()
            F.cross_entropy(ours(tx), ty).backward()
            opt.step()

        def inference():
            with tg.no_grad():
                ours(tx)

        tx, ty = tg.tensor(x), tg.tensor(y)
        if library != "ours":  # recorded at the first warm-up call, proven at the second, replayed after
            remat = library == "compiled-remat"  # the windows computed again in the backward pass
            return ours, tg.compile(step, rematerialize=remat), tg.compile(inference, rematerialize=remat)
        return ours, step, inference
    torch.set_num_threads(harness.cpu_count())
    theirs = torch_resnet8()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    opt = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.tensor(x), torch.tensor(y)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(theirs(tx), ty).backward()
        opt.step()

    def inference():
        with torch.no_grad():
            theirs(tx)

    return theirs, step, inference


def worker(library, case):
    """Run one case in this process and print its times and memory as JSON: "peak_mb", the growth of
    the peak resident memory over all calls (a compiled step's recording and proof among them);
    "later_peak_mb", the peak resident memory during one more call, above the resident memory before
    the first (the allocator's free memory given back first: see harness.peak_resident_mb_of); and
    for tinygrad_cnn "live_mb", the peak of NumPy arrays alive during one more call above those alive
    before it (tracemalloc)."""
    model, step, inference = build(library, case["batch"])
    if case["kind"] == "train":
        model.train()
        run = step
    else:
        model.eval()
        run = inference
    before, resident = harness.peak_rss_mb(), harness.resident_mb()
    for _ in range(3):  # warm-up
        run()
    times = []
    for _ in range(case["steps"]):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    result = {"ms": times, "peak_mb": harness.peak_rss_mb() - before,
              "later_peak_mb": harness.peak_resident_mb_of(run) - resident}
    if library != "torch":
        tracemalloc.start()
        alive = tracemalloc.get_traced_memory()[0]
        run()
        result["live_mb"] = (tracemalloc.get_traced_memory()[1] - alive) / 2 ** 20
        tracemalloc.stop()
    print(json.dumps(result))


def breakdown(batch_size, steps=5):
    """Milliseconds per step in each primitive's forward (backward passes are primitives too) and the rest."""
    _, step, _ = build("ours", batch_size)
    for _ in range(3):  # warm-up, as the timed workers: the first steps still grow the heap
        step()
    with harness.primitive_timers({}) as totals:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        total = (time.perf_counter() - start) / steps
    rows = {k: v / steps for k, v in totals.items()}
    rows["optimizer, graph bookkeeping & Python"] = total - sum(rows.values())
    return total, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--train-batches", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--infer-batch", type=int, default=256)
    parser.add_argument("--memory-batch", type=int, default=128)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], json.loads(args.worker[1]))
        return
    if torch is None:
        sys.exit("PyTorch is not installed: nothing to compare with (pip install torch==2.13.0)")
    torch.set_num_threads(harness.cpu_count())
    print(harness.threads_line(torch))
    warning = harness.kernel_override_warning()
    if warning:
        print(warning)
    cases = [dict(kind="train", batch=b, steps=args.steps) for b in args.train_batches]
    cases.append(dict(kind="infer", batch=args.infer_batch, steps=args.steps))
    ours = ("ours", "compiled", "compiled-remat")
    print(f"{'ResNet-8':18} | {'tinygrad_cnn eager ms':>22} | {'compiled ms':>22} | {'compiled, remat ms':>22} | "
          f"{'PyTorch ms':>22} | ratios eager / compiled / remat")
    for case in cases:
        rounds = harness.alternate(__file__, case, args.rounds, ours + ("torch",))
        theirs = harness.summary(rounds["torch"])[0]
        what = f"{'training step' if case['kind'] == 'train' else 'eval forward'}, b{case['batch']}"
        cells = " | ".join(f"{harness.cell(rounds[lib]):>22}" for lib in ours + ("torch",))
        ratios = " / ".join(f"{harness.summary(rounds[lib])[0] / theirs:.2f}" for lib in ours)
        print(f"{what:18} | {cells} | {ratios}", flush=True)
    print(f"\nmemory of training steps, batch {args.memory_batch} (MB, ratio to PyTorch's): growth of the peak "
          f"resident memory over all steps | peak resident memory of a later step | peak of arrays alive "
          f"during a later step (tracemalloc)")
    memory = {lib: harness.run_worker(__file__, lib, dict(kind="train", batch=args.memory_batch, steps=3))
              for lib in ("ours", "compiled", "compiled-remat", "torch")}
    for lib, name in (("ours", "tinygrad_cnn eager"), ("compiled", "compiled"),
                      ("compiled-remat", "compiled, rematerialize=True"), ("torch", "PyTorch")):
        peak, later, live = memory[lib]["peak_mb"], memory[lib]["later_peak_mb"], memory[lib].get("live_mb")
        print(f"  {name:30s} {peak:6.0f} ({peak / memory['torch']['peak_mb']:.2f}) | "
              f"{later:6.0f} ({later / memory['torch']['later_peak_mb']:.2f}) | "
              f"{'n/a' if live is None else f'{live:.0f}':>6}")
    total, rows = breakdown(args.train_batches[-1])
    print(f"\nwhere one tinygrad_cnn training step goes (batch {args.train_batches[-1]}, {total * 1000:.1f} ms):")
    for name, seconds in sorted(rows.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {name:38s} {seconds * 1000:7.1f} ms  {100 * seconds / total:5.1f}%")


if __name__ == "__main__":
    main()
