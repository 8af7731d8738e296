"""Recording one call as a Program: autograd tells the tape of every array computation while the call
runs eagerly (``autograd._tape``), and the tape numbers the arrays and writes down the operations.

An array is known by its identity: one an operation computed has a slot; one read for the first time is
bound to where it came from (the call's tensor arguments, else the tensor holding it, read afresh at each
replay; else it is a constant). The tape holds arrays only weakly (a recording needs no more memory than
the eager call), so an id is trusted only while its array lives. What cannot be replayed — a value read
back into Python (``item()``), which could steer a branch — is noted, and the call then stays eager.
"""
import weakref
from dataclasses import dataclass

from .. import autograd
from ..backend import is_array
from ..tensor import Tensor
from . import passes
from .program import Accumulate, Call, CallAgain, Computed, OutputSlot, Program, Release, Write, output_slots

# a primitive's attributes that belong to the graph or to drawings, never read by its forward
GRAPH_ATTRIBUTES = {"parents", "constants", "shape", "dtype", "scope", "sequence", "value", "versions",
                    "output_version", "retained", "saved"}


class Unsupported(Exception):
    """The call did something a replay cannot repeat (the reason is the message)."""


@dataclass
class Facts:
    """What the passes and drawings need to know of a slot's array, noted when it got its slot."""

    shape: tuple
    dtype: object
    strides: tuple  # its memory layout (an operation computed into it must lay its result out the same)
    buffer: int  # the number of the memory it sees (arrays that share memory share it)
    is_view: bool  # it sees the memory of another array of the program
    writable: bool  # it can be written in place: writeable, and no two of its elements share memory


class Tape:
    """What ``tg.compile`` records one call into (``inputs``: its tensor arguments); ``program`` makes the
    Program of it."""

    def __init__(self, inputs):
        self.slots = {}  # id(array) -> (slot, weak reference to the array)
        self.buffers = {}  # id(array owning memory) -> (buffer number, weak reference to it)
        self.buffer_count = 0
        self.facts = []  # slot -> Facts
        self.strong = []  # arrays that cannot be weakly referenced, kept so that their ids stay theirs
        self.bindings = []
        self.ops = []
        self.modules = {}  # id -> (a module called, its attributes when first called)
        self.tensors = {}  # id -> the tensors bound from outside (their requires_grad is a guard)
        self.problem = None
        self.differentiating = None  # the Function whose backward pass is running, else None
        self.differentiated = set()  # ids of the Functions whose backward passes ran
        self.places = []  # for each operation, where it comes from (Program.places, for drawings)
        self.arguments = list(inputs)
        for k, tensor in enumerate(inputs):
            self._add(tensor.array, ("input", k))

    def _append(self, op):
        """Write down an operation, and where it comes from: the forward pass (in the scope recording now),
        the backward pass of a Function (its scope), the leaves' gradients, or the optimizer."""
        forward = self.differentiating
        place = ("optimizer", None) if isinstance(op, CallAgain) else ("gradients", None) if isinstance(
            op, Accumulate) else ("backward", forward.scope) if forward is not None else ("forward", autograd._scope)
        self.ops.append(op)
        self.places.append(place)

    def _slot_of(self, array):
        known = self.slots.get(id(array))
        return known[0] if known is not None and known[1]() is array else None

    def _reference(self, array):
        try:
            return weakref.ref(array)
        except TypeError:
            self.strong.append(array)
            return lambda: array

    def _add(self, array, binding):
        slot = len(self.bindings)
        root, is_view, base = array, False, getattr(array, "base", None)
        while base is not None:  # the array that owns the memory, through the holders that are no arrays
            if hasattr(base, "shape"):  # (as_strided's view has one: its base is not the array it sees)
                is_view = is_view or self._slot_of(base) is not None
                root = base
            base = getattr(base, "base", None)
        known = self.buffers.get(id(root))
        if known is None or known[1]() is not root:  # (an id of a freed array may come again: count anew)
            known = self.buffers[id(root)] = (self.buffer_count, self._reference(root))
            self.buffer_count += 1
        writable = bool(getattr(array, "flags", None) is not None and array.flags.writeable and (
            array.flags.c_contiguous or array.flags.f_contiguous or array.size == root.size))
        strides = tuple(getattr(array, "strides", ()))
        self.facts.append(Facts(tuple(array.shape), array.dtype, strides, known[0], is_view, writable))
        self.slots[id(array)] = (slot, self._reference(array))
        self.bindings.append(binding)
        return slot

    def read(self, array, owner=None):
        """The slot of an array an operation reads, binding it on first sight."""
        slot = self._slot_of(array)
        if slot is not None:
            return slot
        if owner is not None and owner.array is array:
            self.tensors[id(owner)] = owner
            return self._add(array, ("tensor", owner))
        return self._add(array, ("constant", array))

    def _result(self, array):
        """A new slot for an array the program computes (an array seen before keeps its slot: an input
        returned as it is)."""
        slot = self._slot_of(array)
        return slot if slot is not None else self._add(array, None)

    # ---- what autograd reports
    def call(self, fn, inputs, out):
        args = [self.read(x.array, x) for x in inputs]
        before, after = [], []
        for name, index, array in _arrays_in(fn):
            slot = self._slot_of(array)
            if slot is not None and name != "saved":
                before.append((name, index, slot))
        out_slot = self._result(out)
        for name, index, array in _arrays_in(fn, with_saved=True):
            if self._slot_of(array) is None:  # kept by the forward (saved, indices): read later
                after.append((name, index, self._result(array)))
        call = Call(fn, args, out_slot, before, after)
        if "parents" not in vars(fn):  # not linked into a graph (no gradient needed): its backward never runs,
            call.drop_saved, fn.saved = True, ()  # so what it saved goes at once, as it would in eager execution
        self._append(call)

    def enter_module(self, module):
        """A module's call begins: the first time, its attributes as the recording sees them are noted
        (the plain ones, train/eval mode among them, become guards)."""
        if id(module) not in self.modules:
            self.modules[id(module)] = (module, dict(vars(module)))

    def computed(self, func, arrays, out):
        is_slot = [is_array(a) for a in arrays]
        args = [self.read(a) if s else a for a, s in zip(arrays, is_slot)]
        outs = out if isinstance(out, tuple) else (out,)
        results = [self._result(a) for a in outs]
        for slot in set(results) & {a for a, s in zip(args, is_slot) if s}:  # written in place
            if self.bindings[slot] is not None and self.bindings[slot][0] == "constant":
                self.problem = self.problem or ("the call changes in place an array it did not compute nor read "
                                                "from a tensor (a replay would change it again)")
        self._append(Computed(func, args, is_slot, results))

    def write(self, tensor, array):
        self._append(Write(self.read(tensor.array, tensor), self.read(array)))

    def accumulate(self, leaf, grad):
        argument = next((k for k, tensor in enumerate(self.arguments) if tensor is leaf), None)
        self._append(Accumulate(leaf, self.read(grad), argument))
        Accumulate.add_into(leaf, grad)

    def differentiate(self, fn):
        """Autograd runs ``fn``'s backward pass now (None: the backward pass is over)."""
        self.differentiating = fn
        if fn is not None:
            self.differentiated.add(id(fn))

    def release(self, fn):
        self._append(Release(fn))

    def call_again(self, func, *args):
        self._append(CallAgain(func, args))

    def escape(self, what):
        """A value read back into Python: a replay could not follow a branch on it."""
        self.problem = self.problem or f"the call reads a tensor's value into Python ({what})"

    # ---- the result
    def program(self, result, free_memory=True, in_place=True, rematerialize=False):
        """The Program of the recorded call, with the passes asked for (``passes.in_place``,
        ``passes.rematerialize``)."""
        if self.problem:
            raise Unsupported(self.problem)
        outputs = self._outputs(result)
        for op in self.ops:  # a primitive whose backward pass did not run (the graph was not differentiated)
            if isinstance(op, Call) and id(op.fn) not in self.differentiated:  # needs nothing saved either
                op.drop_saved = True
                op.fn.saved = ()
        ops, bindings, facts, places = self.ops, self.bindings, self.facts, self.places
        if rematerialize:  # first: it makes images live longer, which the in-place pass must know
            ops, bindings, facts, places = passes.rematerialize(ops, bindings, facts, places)
        if in_place:
            ops = passes.in_place(ops, bindings, facts, output_slots(outputs))
        return Program(ops, bindings, outputs, free_memory, places, [(f.shape, f.dtype, f.is_view) for f in facts])

    def _outputs(self, structure):
        if isinstance(structure, Tensor):
            if structure.creator is not None and id(structure.creator) not in self.differentiated:
                raise Unsupported("the call returns a tensor that still needs its graph (no backward pass in "
                                  "the call used it): put the backward pass inside the compiled function, or "
                                  "call it under no_grad")
            slot = self._slot_of(structure.array)
            if slot is None:
                raise Unsupported("the call returns a tensor it did not compute")
            return OutputSlot(slot)
        if isinstance(structure, (tuple, list)):
            return type(structure)(self._outputs(item) for item in structure)
        if isinstance(structure, dict):
            return {key: self._outputs(value) for key, value in structure.items()}
        return structure


def _arrays_in(fn, with_saved=False):
    """(attribute, index or None, array) of the arrays a primitive holds in its attributes (one level
    into tuples), leaving out those of the graph (with ``with_saved``: also what it saved)."""
    for name, value in vars(fn).items():
        if name in GRAPH_ATTRIBUTES and not (with_saved and name == "saved"):
            continue
        if is_array(value):
            yield name, None, value
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if is_array(item):
                    yield name, index, item
