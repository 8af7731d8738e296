"""Timing two libraries fairly: each in a process of its own, the processes alternating in rounds.

In one process on 2 cores PyTorch's OpenMP threads and NumPy's OpenBLAS threads spin-wait against
each other and PyTorch loses about 2x, which flatters tinygrad_cnn. Here every measurement runs
in a fresh process of the benchmark script (``--worker LIBRARY CASE``), which prints its
per-step milliseconds as JSON; the rounds alternate the libraries (ours, torch, ours, torch, ...)
so that the machine's drift hits both, and each library's number is the median over rounds of
the per-round medians, with the smallest and largest round.
"""
import argparse
import contextlib
import ctypes
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def run_worker(script, library, case, extra=()):
    """One measurement in a fresh process: the JSON the worker printed on its last line."""
    out = subprocess.run([sys.executable, script, "--worker", library, json.dumps(case), *extra],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"worker {library} {case} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def alternate(script, case, rounds, libraries=("ours", "torch")):
    """{library: [median ms of each round]} with the processes alternating round by round."""
    per_round = {lib: [] for lib in libraries}
    for _ in range(rounds):
        for lib in libraries:
            times = run_worker(script, lib, case)["ms"]
            per_round[lib].append(statistics.median(times))
    return per_round


def summary(values):
    """(median, min, max) of the per-round medians."""
    return statistics.median(values), min(values), max(values)


def cell(values):
    med, lo, hi = summary(values)
    return f"{med:7.1f} ({lo:.1f}-{hi:.1f})"


def cpu_count():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def threads_line(torch):
    """The thread counts both libraries run with, and the machine."""
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads, "
                         f"{i.get('architecture')} kernels)"
                         for i in threadpool_info() if i.get("user_api") == "blas")
    except ImportError:
        blas = "BLAS unknown (pip install threadpoolctl)"
    import numpy

    cores = cpu_count()
    torch_part = (f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch is not None
                  else "PyTorch not installed")
    from tinygrad_cnn import backend

    reuse = "reuses freed memory" if backend.KEEPS_FREED_MEMORY else "system malloc"
    return (f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, numpy "
            f"{numpy.__version__} with {blas} ({reuse}); {torch_part}; each library in its own process, alternating")


def kernel_override_warning():
    """A warning line when the environment forces OpenBLAS's kernels (some machines set OPENBLAS_CORETYPE
    for old OpenBLAS builds; it slows a current NumPy, so the ratios would not be a stock NumPy's), else ''."""
    forced = {name: os.environ[name] for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ}
    if not forced:
        return ""
    settings = " ".join(f"{k}={v}" for k, v in forced.items())
    return (f"WARNING: {settings} is set, so NumPy runs the OpenBLAS kernels it names, not the ones it would choose "
            f"for this CPU; to measure a stock NumPy run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...")


def peak_rss_mb():
    """The process's peak resident memory so far (MB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def profile_arguments(description):
    """The command line of both profile scripts: which network, its batch, how many steps, and a
    training step or (``--eval``) an eval-mode forward."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["lenet5", "lenet5-bn", "resnet8"], default="resnet8")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--eval", action="store_true", help="an eval-mode no_grad forward, not a training step")
    return parser


def _status_mb(field):
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def resident_mb():
    """The process's resident memory now (MB; Linux)."""
    return _status_mb("VmRSS")


def peak_resident_mb_of(call):
    """The peak resident memory while ``call()`` runs (MB; Linux, glibc): the allocator first gives
    back the free memory it keeps (``malloc_trim``), the kernel's high-water mark is reset to the
    resident memory then (``/proc/self/clear_refs``) and read after the call."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    call()
    return _status_mb("VmHWM")


@contextlib.contextmanager
def primitive_timers(totals, key=lambda name: name):
    """Inside, every primitive's forward adds its seconds to ``totals[key(class name)]``. All array work
    runs there: backward passes are made of primitives too."""
    from tinygrad_cnn import ops

    originals = {}
    for name in ops.__all__:
        cls = getattr(ops, name)
        if isinstance(cls, type) and "forward" in cls.__dict__:
            originals[cls] = cls.forward

            def timed(self, *arrays, _key=key(name), _forward=cls.forward):
                start = time.perf_counter()
                out = _forward(self, *arrays)
                totals[_key] = totals.get(_key, 0.0) + time.perf_counter() - start
                return out
            cls.forward = timed
    try:
        yield totals
    finally:
        for cls, forward in originals.items():
            cls.forward = forward
