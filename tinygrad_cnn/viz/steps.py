"""The backward pass of a drawn graph, step by step, in the order autograd runs it (for the page's player).

``trace_backward(output)`` runs the backward pass once more with an observer (``autograd.observe_backward``)
and keeps, for each primitive it runs, the gradient it received, the saved arrays it read and the
gradients it sent on; then one step per leaf, where what arrived is summed into ``.grad``.
"""
from dataclasses import dataclass, field

from ..autograd import Function, observe_backward, run_backward, scope_chain
from ..creation import ones_like
from .description import walk

# What each primitive's backward computes, in one line (Y its output, dY the gradient it receives)
PRIMITIVE_FORMULAS = {
    "Add": "dA = dY, dB = dY (each summed back to its own shape)",
    "Sub": "dA = dY, dB = −dY",
    "Mul": "dA = dY · B, dB = dY · A (elementwise)",
    "Div": "dA = dY / B, dB = −dY · A / B²",
    "Maximum": "dY goes to the larger input (half each where they tie): relu passes dY where X > 0",
    "Where": "dY goes to A where the mask holds, to B elsewhere",
    "Neg": "dX = −dY",
    "Pow": "dX = dY · p · X^(p−1)",
    "Exp": "dX = dY · Y (Y = exp X, saved)",
    "Log": "dX = dY / X",
    "Sqrt": "dX = dY / (2 · Y)",
    "Abs": "dX = dY · sign(X)",
    "Tanh": "dX = dY · (1 − Y²)",
    "Sigmoid": "dX = dY · Y · (1 − Y)",
    "Erf": "dX = dY · 2/√π · exp(−X²)",
    "Cast": "dX = dY, cast back to X's dtype",
    "MatMul": "dA = dY · Bᵀ, dB = Aᵀ · dY",
    "Reshape": "dX = dY reshaped back to X's shape",
    "Permute": "dX = dY with its axes put back",
    "Expand": "dX = dY summed over the axes that were broadcast",
    "GetItem": "dX = zeros, with dY added at the places that were picked",
    "IndexAdd": "dX = dY read at the places X was added to",
    "Pad": "dX = dY with the padding cut off",
    "Cat": "each input gets its own slice of dY",
    "ToDevice": "dX = dY, moved back to X's device",
    "Sum": "dX = dY broadcast back to X's shape (every element counted once)",
    "Mean": "dX = dY / n, broadcast back to X's shape",
    "Var": "dX = dY · 2 (X − mean) / (n − correction)",
    "MaxDim": "dX = dY at the index of each maximum, 0 elsewhere",
    "AMax": "dX = dY shared evenly among the maxima, 0 elsewhere",
    "Im2Col": "col2im adds each window's gradient back into dX (overlapping windows add up)",
    "Col2Im": "dX = im2col(dY): each window reads its gradient back",
}
CONV_MATMUL = "dX_cols = dY · Wᵀ, dW = X_colsᵀ · dY (X_cols: the windows, a row each; W: the filters as columns)"


def _in_conv(fn):
    return type(fn).__name__ == "MatMul" and any(s.name == "conv2d" for s in scope_chain(fn.scope))


def formula(fn):
    """What ``fn``'s backward computes, in one line (a conv's matrix product in the lecture's names)."""
    return CONV_MATMUL if _in_conv(fn) else PRIMITIVE_FORMULAS.get(type(fn).__name__, "")


def operand_names(fn):
    """The names the formula gives ``fn``'s inputs: X for one, A and B for two (X_cols and W in a conv)."""
    if _in_conv(fn):
        return ("X_cols", "W")
    count = len(fn.parents)
    return ("X",) if count == 1 else ("A", "B") if count == 2 else tuple(f"X{i}" for i in range(count))


@dataclass
class Step:
    """One step of a backward pass, its arrays as NumPy or CuPy arrays."""

    node: str  # the drawn node it belongs to: f<id> of a Function, t<id> of a leaf
    title: str  # "matmul backward", "weight: AccumulateGrad"
    formula: str  # what it computes, in one line
    grad: object  # the gradient it receives (for a leaf: the sum it adds into .grad)
    reads: list = field(default_factory=list)  # (node id, what, array) of each saved array it reads
    sends: list = field(default_factory=list)  # (node id, what, array) of each gradient it sends on


def node_id(parent):
    """The id a drawing gives a Function's node or a leaf's node."""
    return f"f{id(parent)}" if isinstance(parent, Function) else f"t{id(parent)}"


class _Recorder:
    """The observer ``trace_backward`` hands to autograd."""

    def __init__(self):
        self.steps, self.reads = [], []

    def read(self, fn, i, array):
        if i is None:
            self.reads.append((node_id(fn), "Y, its output", array))
        elif fn.parents[i] is None:  # an operand that needs no gradient (drawn as c<fn>_<i>)
            self.reads.append((f"c{id(fn)}_{i}", f"{operand_names(fn)[i]}, a constant", array))
        else:
            self.reads.append((node_id(fn.parents[i]), operand_names(fn)[i], array))

    def step(self, fn, grad, input_grads):
        names = operand_names(fn)
        sends = [(node_id(p), "d" + name, g.array) for p, g, name in zip(fn.parents, input_grads, names)
                 if p is not None and g is not None]
        self.steps.append(Step(node_id(fn), f"{type(fn).__name__.lower()} backward", formula(fn), grad.array,
                               self.reads, sends))
        self.reads = []


def trace_backward(output, names=None):
    """The steps of ``output``'s backward pass (of ``output.sum()``'s where it is not a scalar): each
    primitive latest-created first, as ``backward()`` runs them, then each leaf's sum. The graph is kept
    (retain_graph) and no ``.grad`` is touched. ``names``: node id -> the name a leaf's step shows.

    Raises RuntimeError where ``backward()`` already freed the graph's saved arrays."""
    if output.creator is None:
        return []
    functions, leaves = walk(output)
    retained = [t for t in (fn.retained() for fn in functions if fn.retained is not None) if t is not None]
    grads_before = [t.grad for t in retained]  # (backward fills in a retain_grad tensor's .grad: put back)
    recorder = _Recorder()
    try:
        with observe_backward(recorder):
            sums = run_backward([output], [ones_like(output)], retain_graph=True, inputs=leaves)
    finally:
        for t, grad in zip(retained, grads_before):
            t.grad = grad
    arrivals = {}
    for step in recorder.steps:
        for target, _, _ in step.sends:
            arrivals[target] = arrivals.get(target, 0) + 1
    steps = recorder.steps
    for leaf, total in sorted(zip(leaves, sums), key=lambda pair: _arrival(steps, f"t{id(pair[0])}")):
        name = (names or {}).get(f"t{id(leaf)}", "leaf")
        count = arrivals.get(f"t{id(leaf)}", 0)
        steps.append(Step(f"t{id(leaf)}", f"{name}: AccumulateGrad",
                          f"{name}.grad += the sum of the {count} gradient{'s' if count != 1 else ''} that arrived",
                          total.array))
    return steps


def _arrival(steps, target):
    """The step at which ``target`` received its first gradient (leaves are summed in arrival order)."""
    return next((i for i, step in enumerate(steps) if any(t == target for t, _, _ in step.sends)), len(steps))
