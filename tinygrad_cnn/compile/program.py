"""A recorded call as a flat program: a list of operations on numbered array slots, replayed without
Tensor objects or graph recording.

Each operation reads and writes slots: a primitive's ``forward`` (``Call``), an array computation done
outside any primitive (``Computed``), an in-place write into a buffer (``Write``), a leaf's gradient
added into ``.grad`` (``Accumulate``), a primitive's saved arrays let go after its backward pass
(``Release``), or a call that is made again as it is (``CallAgain``: an optimizer's step, which updates
its arrays in place). A replay binds the slots that come from outside (the inputs, the parameters'
arrays, constants), runs the operations in order and frees each array after its last use.
"""
import time

from ..backend import module_of, quiet_numpy
from ..cuda import synchronize
from ..tensor import Tensor


class Call:
    """``out = fn.forward(*args)`` of a recorded primitive. ``before``: its attributes that hold arrays of
    the program (a where's mask), set first; ``after``: arrays its forward keeps (saved for its backward,
    max's indices) that later operations read; ``drop_saved``: no backward pass of it runs, so what its
    forward saves is let go at once."""

    __slots__ = ("fn", "args", "out", "before", "after", "drop_saved")

    def __init__(self, fn, args, out, before, after):
        self.fn, self.args, self.out, self.before, self.after = fn, args, out, before, after
        self.drop_saved = False

    def reads(self):
        return list(self.args) + [slot for _, _, slot in self.before]

    def writes(self):
        return [self.out] + [slot for _, _, slot in self.after]

    def run(self, slots):
        fn = self.fn
        for name, index, slot in self.before:
            _set(fn, name, index, slots[slot])
        out = fn.forward(*[slots[i] for i in self.args])
        slots[self.out] = out if out.ndim else module_of(out).asarray(out)
        for name, index, slot in self.after:
            slots[slot] = _get(fn, name, index)
        if self.drop_saved:
            fn.saved = ()


class Computed:
    """``outs = func(*args)``: an array computation outside any primitive (``autograd.computed``); an
    argument is a slot or, where ``is_slot`` says not, a constant."""

    __slots__ = ("func", "args", "is_slot", "outs")

    def __init__(self, func, args, is_slot, outs):
        self.func, self.args, self.is_slot, self.outs = func, args, is_slot, outs

    def reads(self):
        return [a for a, s in zip(self.args, self.is_slot) if s]

    def writes(self):
        return list(self.outs)

    def run(self, slots):
        result = self.func(*[slots[a] if s else a for a, s in zip(self.args, self.is_slot)])
        if len(self.outs) == 1:
            slots[self.outs[0]] = result
        else:
            for slot, array in zip(self.outs, result):
                slots[slot] = array


class Write:
    """``target[...] = value``: an in-place operation's new value written into a buffer."""

    __slots__ = ("target", "value")

    def __init__(self, target, value):
        self.target, self.value = target, value

    def reads(self):
        return [self.target, self.value]

    def writes(self):
        return []

    def run(self, slots):
        slots[self.target][...] = slots[self.value]


class Accumulate:
    """``leaf.grad = grad`` where it has none, else ``leaf.grad + grad``, as a backward pass does.
    ``argument``: the leaf is the call's tensor argument of that number, so each replay sets ``leaf``
    to its own argument (a gradient with respect to the input)."""

    __slots__ = ("leaf", "grad", "argument")

    def __init__(self, leaf, grad, argument=None):
        self.leaf, self.grad, self.argument = leaf, grad, argument

    def reads(self):
        return [self.grad]

    def writes(self):
        return []

    def run(self, slots):
        self.add_into(self.leaf, slots[self.grad])

    @staticmethod
    def add_into(leaf, grad):
        leaf.grad = Tensor._from_array(grad if leaf.grad is None else leaf.grad.array + grad)


class Release:
    """A primitive's saved arrays let go after its backward pass (as ``backward()`` does)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def reads(self):
        return []

    def writes(self):
        return []

    def run(self, slots):
        self.fn.release()


class CallAgain:
    """``func(*args)`` made again as it was recorded: an optimizer's ``step`` or ``zero_grad``."""

    __slots__ = ("func", "args")

    def __init__(self, func, args):
        self.func, self.args = func, args

    def reads(self):
        return []

    def writes(self):
        return []

    def run(self, slots):
        self.func(*self.args)


def _get(fn, name, index):
    value = getattr(fn, name)
    return value if index is None else value[index]


def _set(fn, name, index, array):
    if index is None:
        setattr(fn, name, array)
    else:
        value = list(getattr(fn, name))
        value[index] = array
        setattr(fn, name, tuple(value))


class Program:
    """The operations of one recorded call, the bindings of its slots, and what it returns.

    ``bindings[slot]``: ("input", k) for the array of the k-th tensor argument, ("tensor", t) for an array
    read from a tensor that existed outside the call (read afresh at each replay: parameters, buffers),
    ("constant", a) for an array made outside the primitives and ``autograd.computed``, or None for an
    array the program computes.
    ``outputs``: the returned structure with slots in place of tensors. For drawings: ``places[k]``, where
    operation k comes from ("forward", the scope it ran in; "backward", the scope of the call whose
    backward pass it is part of; "gradients"; or "optimizer"), and ``layouts[slot]``, the shape and dtype of
    each array and whether it was a view of another's memory.
    """

    def __init__(self, ops, bindings, outputs, free_memory=True, places=None, layouts=None):
        self.ops, self.bindings, self.outputs = ops, bindings, outputs
        self.places, self.layouts = places, layouts
        self.free_after = _last_uses(ops, bindings, outputs) if free_memory else [() for _ in ops]
        self.into_arguments = [op for op in ops if isinstance(op, Accumulate) and op.argument is not None]

    def replay(self, arguments, seconds=None):
        """Run the program on new tensor arguments; returns the outputs' structure with tensors wrapping
        the arrays computed. ``seconds``: a list as long as ``ops`` that each operation's time is added
        to (for profiling; the operations are synchronized on a GPU to be timed)."""
        slots = [None] * len(self.bindings)
        for slot, binding in enumerate(self.bindings):
            if binding is not None:
                kind, value = binding
                slots[slot] = arguments[value].array if kind == "input" else value.array if kind == "tensor" \
                    else value
        for op in self.into_arguments:  # a gradient with respect to an argument: into this call's argument
            op.leaf = arguments[op.argument]
        with quiet_numpy():
            for k, (op, dead) in enumerate(zip(self.ops, self.free_after)):
                if seconds is None:
                    op.run(slots)
                else:
                    start = time.perf_counter()
                    op.run(slots)
                    synchronize()
                    seconds[k] += time.perf_counter() - start
                for slot in dead:
                    slots[slot] = None
        return _fill(self.outputs, slots)


class OutputSlot:
    """In a program's ``outputs``: the tensor computed into ``slot``."""

    __slots__ = ("slot",)

    def __init__(self, slot):
        self.slot = slot


def _fill(structure, slots):
    if isinstance(structure, OutputSlot):
        return Tensor._from_array(slots[structure.slot])
    if isinstance(structure, (tuple, list)):
        return type(structure)(_fill(item, slots) for item in structure)
    if isinstance(structure, dict):
        return {key: _fill(value, slots) for key, value in structure.items()}
    return structure


def output_slots(structure):
    if isinstance(structure, OutputSlot):
        return [structure.slot]
    if isinstance(structure, (tuple, list)):
        return [s for item in structure for s in output_slots(item)]
    if isinstance(structure, dict):
        return [s for value in structure.values() for s in output_slots(value)]
    return []


def _last_uses(ops, bindings, outputs):
    """Memory planning: after each operation, the computed slots no later operation reads (freed there,
    so that a step holds each temporary only as long as it is needed, as eager execution does)."""
    kept = set(output_slots(outputs))
    last = {}
    for k, op in enumerate(ops):
        for slot in op.reads():
            last[slot] = k
        for slot in op.writes():
            last.setdefault(slot, k)  # computed and never read: freed at once
    free_after = [[] for _ in ops]
    for slot, k in last.items():
        if bindings[slot] is None and slot not in kept:
            free_after[k].append(slot)
    return [tuple(slots) for slots in free_after]
