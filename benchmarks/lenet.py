"""LeNet-5 training and inference speed, tinygrad_cnn against PyTorch.

    python benchmarks/lenet.py [--rounds 5] [--steps 20] [--batches 64 256] [--device cpu|cuda] [--interleaved]

Same initial weights and data for both libraries. By default each library runs in a process of
its own, the processes alternating round by round (harness.py): in one process on 2 cores their
thread pools fight and PyTorch loses about 2x. ``--interleaved`` runs both in this process,
alternating step by step (the old way, kept for comparison). Prints median/min/max milliseconds per training step
(forward + backward + SGD-momentum step) and per inference batch, the ratio
tinygrad_cnn / PyTorch, peak memory of a training step (each measured in a fresh
subprocess), a breakdown of one tinygrad_cnn step by primitive, and the per-op overhead of
the graph machinery.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tinygrad_cnn as tg  # noqa: E402
import tinygrad_cnn.nn.functional as F  # noqa: E402
from tinygrad_cnn.models import LeNet5  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


# ---- the two models, twinned --------------------------------------------------------
def torch_lenet(batch_norm):
    nn = torch.nn
    layers = [nn.Conv2d(1, 20, 5, padding=2)] + ([nn.BatchNorm2d(20)] if batch_norm else []) + [
        nn.ReLU(), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5, padding=2)] + (
        [nn.BatchNorm2d(50)] if batch_norm else []) + [
        nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, 10)]
    return nn.Sequential(*layers)


def twins(batch_norm, device):
    tg.manual_seed(0)
    ours = LeNet5(batch_norm=batch_norm)
    theirs = None
    if torch is not None:
        theirs = torch_lenet(batch_norm)
        state = [v for k, v in ours.state_dict().items() if not k.endswith("num_batches_tracked")]
        tensors = [t for k, t in theirs.state_dict().items() if not k.endswith("num_batches_tracked")]
        with torch.no_grad():
            for t, v in zip(tensors, state):
                t.copy_(torch.from_numpy(v.numpy()))
        theirs = theirs.to(device)
    return ours.to(device), theirs


def batch(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, n)


def sync(device):
    if device == "cuda":
        tg.cuda.synchronize()
        if torch is not None:
            torch.cuda.synchronize()


# ---- one step of each ----------------------------------------------------------------
def our_step(model, opt, x, y):
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


def torch_step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def our_inference(model, x):
    with tg.no_grad():
        model(x)


def torch_inference(model, x):
    with torch.no_grad():
        model(x)


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return (time.perf_counter() - start) * 1000


def compare(batch_size, batch_norm, steps, device):
    """Interleaved training-step and inference timings (ms) for both libraries."""
    ours, theirs = twins(batch_norm, device)
    x, y = batch(batch_size)
    tx, ty = tg.tensor(x, device=device), tg.tensor(y, device=device)
    opt = tg.optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    results = {"ours_train": [], "ours_infer": []}
    if theirs is not None:
        px, py = torch.tensor(x, device=device), torch.tensor(y, device=device)
        topt = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)
        results.update(torch_train=[], torch_infer=[])
    for i in range(steps + 3):  # 3 warm-up steps
        ours.train()
        t = timed(lambda: our_step(ours, opt, tx, ty), device)
        if i >= 3:
            results["ours_train"].append(t)
        if theirs is not None:
            theirs.train()
            t = timed(lambda: torch_step(theirs, topt, px, py), device)
            if i >= 3:
                results["torch_train"].append(t)
    ours.eval()
    if theirs is not None:
        theirs.eval()
    for i in range(steps + 3):
        t = timed(lambda: our_inference(ours, tx), device)
        if i >= 3:
            results["ours_infer"].append(t)
        if theirs is not None:
            t = timed(lambda: torch_inference(theirs, px), device)
            if i >= 3:
                results["torch_infer"].append(t)
    return results


def separate(batch_size, batch_norm, steps, device, rounds):
    """The same measurements, each library in processes of its own (alternating rounds): every entry
    is the list of per-round medians."""
    results = {}
    for kind in ("train", "infer"):
        case = dict(kind=kind, batch=batch_size, batch_norm=batch_norm, steps=steps, device=device)
        per_round = harness.alternate(__file__, case, rounds,
                                      ("ours", "compiled", "torch") if torch is not None else ("ours", "compiled"))
        for lib, values in per_round.items():
            results[f"{lib}_{kind}"] = values
    return results


def worker(library, case):
    """One case in this process: print {"ms": [...]} as JSON."""
    ours, theirs = twins(case["batch_norm"], case["device"])
    x, y = batch(case["batch"])
    device = case["device"]
    if library in ("ours", "compiled"):
        model, args = ours, (tg.tensor(x, device=device), tg.tensor(y, device=device))
        opt = tg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        train, infer = (lambda: our_step(model, opt, *args)), (lambda: our_inference(model, args[0]))
        if library == "compiled":  # recorded at the first warm-up step, proven at the second, replayed after
            train, infer = tg.compile(train), tg.compile(infer)
    else:
        torch.set_num_threads(harness.cpu_count())
        model, args = theirs, (torch.tensor(x, device=device), torch.tensor(y, device=device))
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        train, infer = (lambda: torch_step(model, opt, *args)), (lambda: torch_inference(model, args[0]))
    model.train(case["kind"] == "train")
    run = train if case["kind"] == "train" else infer
    times = [timed(run, device) for _ in range(case["steps"] + 3)][3:]
    print(json.dumps({"ms": times}))


# ---- peak memory, each library in a fresh process -------------------------------------
def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_probe(library, batch_size, batch_norm):
    """Peak resident memory during 3 training steps, above the resident memory before them (bytes)."""
    ours, theirs = twins(batch_norm, "cpu")
    x, y = batch(batch_size)
    if library == "ours":
        model, opt, args, step = ours, tg.optim.SGD(ours.parameters(), lr=0.01, momentum=0.9), \
            (tg.tensor(x), tg.tensor(y)), our_step
    else:
        model, opt, args, step = theirs, torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9), \
            (torch.tensor(x), torch.tensor(y)), torch_step
    del ours, theirs
    before = rss_bytes()
    for _ in range(3):
        step(model, opt, *args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return max(peak - before, 0)


def peak_memory(library, batch_size, batch_norm):
    out = subprocess.run([sys.executable, __file__, "--memory-probe", library, str(batch_size), str(int(batch_norm))],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


# ---- where the time of one step goes --------------------------------------------------
CATEGORIES = {"MatMul": "matmul", "Im2Col": "im2col", "Col2Im": "col2im", "MaxDim": "max", "AMax": "max"}


def breakdown(batch_size, batch_norm, steps=5):
    """Seconds per step in each primitive's forward (all array work runs there: backward passes
    are themselves primitives), the optimizer, and the rest (graph bookkeeping, Python)."""
    ours, _ = twins(batch_norm, "cpu")
    x, y = batch(batch_size)
    tx, ty = tg.tensor(x), tg.tensor(y)
    opt = tg.optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    original_step = type(opt).step
    totals = {}

    def timed_step(self, *a, **k):
        start = time.perf_counter()
        out = original_step(self, *a, **k)
        totals["optimizer"] = totals.get("optimizer", 0.0) + time.perf_counter() - start
        return out
    type(opt).step = timed_step
    try:
        for _ in range(3):  # warm-up: the first steps still grow the heap
            our_step(ours, opt, tx, ty)
        with harness.primitive_timers(totals, lambda name: CATEGORIES.get(name, "elementwise & movement")):
            totals.clear()
            start = time.perf_counter()
            for _ in range(steps):
                our_step(ours, opt, tx, ty)
            total = time.perf_counter() - start
    finally:
        type(opt).step = original_step
    rows = {k: v / steps for k, v in totals.items()}
    rows["graph bookkeeping & Python"] = total / steps - sum(rows.values())
    return total / steps, rows


# ---- graph overhead -------------------------------------------------------------------
def graph_overhead(ops_count=1000, repeats=20):
    """Microseconds per op for forward + backward of a chain of tiny-tensor multiplications,
    for tinygrad_cnn and (where installed) PyTorch: the same lines run on either library."""
    def per_op(lib):
        x = lib.randn(4, requires_grad=True)

        def run():
            y = x
            for _ in range(ops_count):
                y = y * 1.0001
            y.sum().backward()
            x.grad = None

        run()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return statistics.median(times) / ops_count * 1e6

    return per_op(tg), (per_op(torch) if torch is not None else None)


stats, fmt = harness.summary, harness.cell


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of separate processes")
    parser.add_argument("--interleaved", action="store_true",
                        help="both libraries in this process, step by step (flatters tinygrad_cnn on few cores)")
    parser.add_argument("--memory-probe", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the results as JSON here")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], json.loads(args.worker[1]))
        return
    if args.memory_probe:
        library, batch_size, batch_norm = args.memory_probe
        print(memory_probe(library, int(batch_size), bool(int(batch_norm))))
        return
    if torch is not None:
        torch.set_num_threads(harness.cpu_count())
    print(harness.threads_line(torch).replace("each library in its own process, alternating",
                                              "both in one process, step by step" if args.interleaved else
                                              f"each library in its own process, {args.rounds} alternating rounds")
          + f"; device {args.device}")
    warning = harness.kernel_override_warning()
    if warning:
        print(warning)
    if args.device == "cuda":
        print(f"GPU: {tg.backend.cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}")
    if torch is None:
        print("PyTorch is not installed: no comparison (pip install torch==2.13.0)")
    header = (f"{'batch':>5} {'BN':>3} | {'train ms: ours':>22} {'torch':>22} {'ratio':>6} | "
              f"{'infer ms: ours':>22} {'torch':>22} {'ratio':>6} | {'peak MB: ours':>13} {'torch':>6} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    report = []
    for batch_size in args.batches:
        for batch_norm in (False, True):
            r = (compare(batch_size, batch_norm, args.steps, args.device) if args.interleaved
                 else separate(batch_size, batch_norm, args.steps, args.device, args.rounds))
            row = {"batch": batch_size, "batch_norm": batch_norm,
                   **{k: stats(v) for k, v in r.items()}}
            train_ratio = infer_ratio = mem_ratio = float("nan")
            line = f"{batch_size:>5} {'yes' if batch_norm else 'no':>3} | {fmt(r['ours_train']):>22} "
            if torch is not None:
                train_ratio = stats(r["ours_train"])[0] / stats(r["torch_train"])[0]
                infer_ratio = stats(r["ours_infer"])[0] / stats(r["torch_infer"])[0]
                line += f"{fmt(r['torch_train']):>22} {train_ratio:6.2f} | {fmt(r['ours_infer']):>22} " \
                        f"{fmt(r['torch_infer']):>22} {infer_ratio:6.2f} | "
            else:
                line += f"{'-':>22} {'-':>6} | {fmt(r['ours_infer']):>22} {'-':>22} {'-':>6} | "
            if not args.no_memory and args.device == "cpu":
                ours_mb = peak_memory("ours", batch_size, batch_norm) / 2 ** 20
                row["ours_peak_mb"] = ours_mb
                if torch is not None:
                    torch_mb = peak_memory("torch", batch_size, batch_norm) / 2 ** 20
                    mem_ratio = ours_mb / torch_mb
                    row["torch_peak_mb"] = torch_mb
                    line += f"{ours_mb:13.0f} {torch_mb:6.0f} {mem_ratio:6.2f}"
                else:
                    line += f"{ours_mb:13.0f} {'-':>6} {'-':>6}"
            if "compiled_train" in r and torch is not None:  # tg.compile: the same step, recorded and replayed
                row["compiled_train_ratio"] = stats(r["compiled_train"])[0] / stats(r["torch_train"])[0]
                row["compiled_infer_ratio"] = stats(r["compiled_infer"])[0] / stats(r["torch_infer"])[0]
                line += (f" | compiled: train {fmt(r['compiled_train'])} {row['compiled_train_ratio']:.2f}, "
                         f"infer {fmt(r['compiled_infer'])} {row['compiled_infer_ratio']:.2f}")
            row.update(train_ratio=train_ratio, infer_ratio=infer_ratio, memory_ratio=mem_ratio)
            report.append(row)
            print(line, flush=True)
    if args.device == "cpu":
        total, rows = breakdown(args.batches[-1], False)
        print(f"\nwhere one tinygrad_cnn training step goes (batch {args.batches[-1]}, no BN, {total * 1000:.1f} ms):")
        for name, seconds in sorted(rows.items(), key=lambda kv: -kv[1]):
            print(f"  {name:28s} {seconds * 1000:7.1f} ms  {100 * seconds / total:5.1f}%")
    ours_us, torch_us = graph_overhead()
    print(f"\ngraph overhead, forward+backward of a 1,000-op chain of tiny tensors: {ours_us:.2f} us/op"
          + (f" (PyTorch {torch_us:.2f} us/op)" if torch_us else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": report, "graph_overhead_us": ours_us, "torch_graph_overhead_us": torch_us}, f, indent=1)


if __name__ == "__main__":
    main()
