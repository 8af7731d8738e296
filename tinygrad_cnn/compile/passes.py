"""Transformations of a recorded program, each one function that a compile option turns off, each
tested against the program without it (and so against eager execution).

``in_place``: an elementwise primitive (add, sub, mul, div) whose operand of the result's shape is read
by no later operation is computed into that operand's buffer, so that a chain of them — batch norm's
``x * alpha + beta``, a residual add, the gradient flowing back through them — runs in one buffer
instead of allocating one per step. Arrays that share memory count as one buffer: an operand is
overwritten only if nothing that shares its memory is read later, and never a parameter, a buffer of
the model, or what the call returns.
"""
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
                        and operand.shape == out.shape and operand.dtype == out.dtype and op.args.count(slot) == 1):
                    op = InPlace(op, UFUNCS[name], slot)
                    break
        result.append(op)
    return result
