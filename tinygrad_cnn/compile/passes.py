"""Transformations of a recorded program, each one function that a compile option turns off, each
tested against the program without it (and so against eager execution).

``in_place``: an elementwise primitive (add, sub, mul, div) whose operand of the result's shape is read
by no later operation is computed into that operand's buffer, so that a chain of them — batch norm's
``x * alpha + beta``, a residual add, the gradient flowing back through them — runs in one buffer
instead of allocating one per step. Arrays that share memory count as one buffer: an operand is
overwritten only if nothing that shares its memory is read later, and never a parameter, a buffer of
the model, or what the call returns; and only if it is laid out in memory as eager execution lays the
result out (a product reading a column-major matrix sums in another order than over a row-major one).

``rematerialize``: an im2col's windows (KH*KW times its image: most of what a training step holds
between forward and backward) are let go after the forward product and computed again from the image
where the backward pass reads them (the weight gradient's product), so that the step holds each conv's
image instead of its windows; it costs one more im2col per conv.
"""
import dataclasses

from ..backend import module_of
from ..ops.elementwise import _broadcast
from .program import Call

UFUNCS = {"Add": "add", "Sub": "subtract", "Mul": "multiply", "Div": "divide"}


class InPlace:
    """``ufunc(a, b)`` written into the buffer of the operand in slot ``target`` (the in-place pass)."""

    __slots__ = ("call", "ufunc", "target")

    def __init__(self, call, ufunc, target):
        self.call, self.ufunc, self.target = call, ufunc, target

    @property
    def fn(self):
        return self.call.fn

    @property
    def out(self):
        return self.call.out

    def reads(self):
        return self.call.reads()

    def writes(self):
        return self.call.writes()

    def run(self, slots):
        a, b = (slots[i] for i in self.call.args)
        slots[self.call.out] = _broadcast(getattr(module_of(a), self.ufunc), a, b, out=slots[self.target])


def in_place(ops, bindings, facts, kept):
    """``ops`` with every elementwise primitive that may overwrite a dying operand replaced by an InPlace.
    ``facts``: each slot's Facts (tape.py); ``kept``: the slots the call returns."""
    buffers = [f.buffer for f in facts]
    protected = {buffers[s] for s, b in enumerate(bindings) if b is not None} | {buffers[s] for s in kept}
    last_read = {}
    for k, op in enumerate(ops):
        for slot in op.reads():
            last_read[buffers[slot]] = k
    result = []
    for k, op in enumerate(ops):
        name = type(op.fn).__name__ if isinstance(op, Call) else None
        if name in UFUNCS and len(op.args) == 2:
            out = facts[op.out]
            for slot in op.args:
                operand = facts[slot]
                if (buffers[slot] not in protected and last_read.get(buffers[slot]) == k and operand.writable
                        and (operand.shape, operand.dtype, operand.strides) == (out.shape, out.dtype, out.strides)
                        and op.args.count(slot) == 1):
                    op = InPlace(op, UFUNCS[name], slot)
                    break
        result.append(op)
    return result


VIEWS = {"Reshape", "Permute", "Expand"}  # movement primitives that give a view of their input


def rematerialize(ops, bindings, facts, places):
    """``(ops, bindings, facts, places)`` with each forward im2col, and the views of its windows the
    backward pass reads, computed again (into new slots) just before the first backward operation that
    reads them; forward products of the windows let go of what they save at once (a replay reads the
    backward pass's arrays from slots, never from what a forward saved)."""
    ops, bindings, facts, places = list(ops), list(bindings), list(facts), list(places)
    for windows in [op for op in ops if _name(op) == "Im2Col"]:
        k = ops.index(windows)
        if places[k][0] != "forward":
            continue
        made = {windows.out: k}  # the windows' slot and its views' -> the operation that makes it
        for j in range(k + 1, len(ops)):
            if places[j][0] == "forward" and _name(ops[j]) in VIEWS and ops[j].args[0] in made:
                made[ops[j].out] = j
        users = [j for j in range(k + 1, len(ops)) if set(ops[j].reads()) & set(made)]
        readers = [j for j in users if places[j][0] != "forward"]
        if not readers or any(not isinstance(ops[j], Call) for j in readers):
            continue
        again, remade, buffer = {}, [], max(f.buffer for f in facts) + 1
        for slot, j in sorted(made.items(), key=lambda item: item[1]):
            again[slot] = len(bindings)
            bindings.append(None)
            facts.append(dataclasses.replace(facts[slot], buffer=buffer))
            remade.append(_renamed(ops[j], again, out=again[slot]))
        for j in users:
            if isinstance(ops[j], Call):
                backward = places[j][0] != "forward"
                ops[j] = _renamed(ops[j], again if backward else {}, drop_saved=ops[j].drop_saved or not backward)
        first = readers[0]
        ops[first:first] = remade
        places[first:first] = [places[first]] * len(remade)
    return ops, bindings, facts, places


def _name(op):
    return type(op.fn).__name__ if isinstance(op, Call) else None


def _renamed(call, slots, out=None, drop_saved=None):
    """A copy of ``call`` reading ``slots[s]`` for each slot s it maps (and writing ``out`` if given)."""
    copy = Call(call.fn, [slots.get(a, a) for a in call.args], call.out if out is None else out,
                [(name, index, slots.get(slot, slot)) for name, index, slot in call.before],
                call.after if out is None else [])
    copy.drop_saved = call.drop_saved if drop_saved is None else drop_saved
    return copy
