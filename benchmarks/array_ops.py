"""Count the array operations of one LeNet-5 training step: on a GPU each is a kernel launch.

    python benchmarks/array_ops.py [--batch-norm] [--by line|op] [--top 25]

At LeNet's size a GPU step is bound by launches (each costs more host time than its
arithmetic), so this count is the number to bring down for the CuPy backend, and it can be
measured without a GPU: the step runs on NumPy arrays of a subclass that counts every ufunc
call (``a + b``, ``x.sum()``), array function (``where``, ``concatenate``), copying method
(``astype``, ``copy``, ``argmax``, a ``reshape`` that copies, writes through ``[...] =``) and
array creation. It runs once along the CPU's code paths and once along the GPU's
(``tinygrad_cnn.testing.gpu_code_paths``), which is what a CuPy step launches, give or take
CuPy's own internals.
"""
import argparse
import collections
import contextlib
import sys

import numpy as np

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import autograd
from tinygrad_cnn.models import LeNet5
from tinygrad_cnn.testing import gpu_code_paths

counts = collections.Counter()  # (source line or operation name) -> number of array operations
counting = False
group_by = "line"


def _record(name):
    if not counting:
        return
    frame = sys._getframe(2)
    while frame is not None and ("numpy" in frame.f_code.co_filename or frame.f_code.co_filename == __file__):
        frame = frame.f_back
    where = frame.f_code.co_filename.split("tinygrad_cnn/")[-1] + f":{frame.f_lineno}" if frame else "?"
    counts[where if group_by == "line" else name] += 1


def _plain(value):
    if isinstance(value, Counted):
        return value.view(np.ndarray)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _counted(value):
    return value.view(Counted) if type(value) is np.ndarray else value


class Counted(np.ndarray):
    """A NumPy array that records each operation on it and hands out Counted results."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _record(f"{ufunc.__name__}{'' if method == '__call__' else '.' + method}")
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        return _counted(getattr(ufunc, method)(*_plain(inputs), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        _record(func.__name__)
        return _counted(func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()}))


def _copying_method(name):
    plain = getattr(np.ndarray, name)

    def method(self, *args, **kwargs):
        array = self.view(np.ndarray)
        result = plain(array, *_plain(args), **kwargs)
        if not (isinstance(result, np.ndarray) and np.may_share_memory(result, array)):  # a view costs no kernel
            _record(name)
        return _counted(result)
    return method


for _name in ("astype", "copy", "argmax", "reshape", "__setitem__"):
    setattr(Counted, _name, _copying_method(_name))


@contextlib.contextmanager
def counted_creation():
    """NumPy's array-creating functions, counted and returning Counted arrays, inside the block."""
    names = ("zeros", "ones", "empty", "full", "zeros_like", "ones_like", "arange", "ascontiguousarray")
    originals = {name: getattr(np, name) for name in names}

    def wrap(name, plain):
        def create(*args, **kwargs):
            result = plain(*_plain(args), **kwargs)
            if name != "ascontiguousarray" or not np.shares_memory(result, args[0]):
                _record(name)
            return _counted(result)
        return create

    for name, plain in originals.items():
        setattr(np, name, wrap(name, plain))
    try:
        yield
    finally:
        for name, plain in originals.items():
            setattr(np, name, plain)


def count_step(batch_norm, gpu, batch=8):
    """(primitives applied, array operations) in the third of three training steps."""
    global counting
    counts.clear()
    tg.manual_seed(0)
    model = LeNet5(batch_norm=batch_norm)
    for t in list(model.parameters()) + list(model.buffers()):
        t.array = t.array.view(Counted)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = tg.tensor(rng.integers(0, 10, batch))
    x.array, y.array = x.array.view(Counted), y.array.view(Counted)
    applied = [0]
    plain_call = autograd.Function.__call__

    def call(self, *inputs):
        applied[0] += counting
        return plain_call(self, *inputs)

    autograd.Function.__call__ = call
    try:
        with gpu_code_paths() if gpu else contextlib.nullcontext(), counted_creation():
            for step in range(3):  # the first steps create the momentum buffers
                counting = step == 2
                optimizer.zero_grad()
                F.cross_entropy(model(x), y).backward()
                optimizer.step()
    finally:
        counting = False
        autograd.Function.__call__ = plain_call
    return applied[0], sum(counts.values())


def main():
    global group_by
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-norm", action="store_true", help="show the breakdown for LeNet-5 with batch norm")
    parser.add_argument("--by", choices=["line", "op"], default="line")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    group_by = args.by
    print("array operations in one LeNet-5 training step (forward, backward, SGD with momentum)")
    print(f"{'':22s} {'primitives':>10s} {'CPU code paths':>15s} {'GPU code paths':>15s}")
    for batch_norm in (False, True):
        applied, on_cpu = count_step(batch_norm, gpu=False)
        _, on_gpu = count_step(batch_norm, gpu=True)
        print(f"{'with' if batch_norm else 'without':>7s} batch norm    {applied:10d} {on_cpu:15d} {on_gpu:15d}")
    count_step(args.batch_norm, gpu=True)
    print(f"\nGPU code paths{', with batch norm' if args.batch_norm else ''}, by {args.by}:")
    for where, n in counts.most_common(args.top):
        print(f"  {n:4d}  {where}")


if __name__ == "__main__":
    main()
