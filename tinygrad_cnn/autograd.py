"""Reverse-mode automatic differentiation: Function (a primitive), grad mode, and the graph walk.

A ``Function`` runs ``forward`` on raw arrays and remembers, for each input, where its
gradient must go: the input's own creator (another Function), the leaf tensor itself,
or nothing. ``backward`` receives the gradient of the output as a Tensor and returns one
gradient Tensor per input, written with Tensor operations, so that a backward pass run
with ``create_graph=True`` is itself a graph that can be differentiated again.

The graph keeps no intermediate Tensor objects alive: a Function keeps the arrays its
backward needs (``self.saved``) and re-wraps them as tensors on demand
(``self.as_input(i, array)``, ``self.as_output(array)``), which are released after backward
unless ``retain_graph=True``. It also remembers the version of each input and of its output
(the count of in-place operations on them); re-wrapping a saved array checks that the count has
not moved, so a backward never runs on values an in-place operation changed.
"""
import contextlib
import itertools

from .backend import module_of, quiet_numpy
from .tensor import Tensor

_grad_enabled = True
_scope = None  # the innermost Scope (a composite op or module call) being recorded, or None
_anomaly_detection = False
SMALL = 81  # results with at most this many values (a 9x9 windows matrix) are kept for drawings
_sequence = itertools.count()  # creation order of linked Functions: backward runs the latest first
_observer = None  # while a drawing traces a backward pass: told of each step and of each saved array read
_tape = None  # while tg.compile records a call: told of every array computation, so that it can replay them


def computed(func, *arrays):
    """``func(*arrays)``: an array computation done outside any primitive (a comparison's mask, a loss's
    one-hot coefficients, a dropout mask), told to a recording in progress (``tg.compile``) so that its
    replay computes it again instead of reusing the recorded values. ``func`` returns an array or a tuple."""
    out = func(*arrays)
    if _tape is not None:
        _tape.computed(func, arrays, out)
    return out


def is_grad_enabled():
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        global _grad_enabled
        self.previous = _grad_enabled
        _grad_enabled = self.enabled

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.previous
        return False


class no_grad(_GradMode):
    """Context manager and decorator: operations inside build no graph."""

    def __init__(self):
        super().__init__(False)


class inference_mode(_GradMode):
    """As ``no_grad`` here (PyTorch's inference mode also skips version counting)."""

    def __init__(self, mode=True):
        super().__init__(not mode)


class enable_grad(_GradMode):
    """Context manager and decorator: operations inside build a graph again."""

    def __init__(self):
        super().__init__(True)


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` works like ``no_grad()``."""


def _set_anomaly_detection(mode):
    """Switch anomaly detection on or off; returns the previous setting."""
    global _anomaly_detection
    previous, _anomaly_detection = _anomaly_detection, mode
    return previous


class set_detect_anomaly(contextlib.ContextDecorator):
    """``set_detect_anomaly(True)`` (also as a context manager): every backward pass checks each
    gradient a primitive returns and raises, naming the primitive, the composite op and module it was
    recorded in and its forward shapes, as soon as one holds a NaN or an infinity."""

    def __init__(self, mode):
        self.previous = _set_anomaly_detection(bool(mode))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set_anomaly_detection(self.previous)
        return False


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager and decorator: backward passes inside raise at the first NaN or infinite gradient."""

    def __enter__(self):
        self.previous = _set_anomaly_detection(True)
        return self

    def __exit__(self, *exc):
        _set_anomaly_detection(self.previous)
        return False


def is_anomaly_enabled():
    return _anomaly_detection


class observe_backward(contextlib.ContextDecorator):
    """Inside, backward passes report what they do to ``observer`` (for the step-by-step player of a
    drawing): ``observer.read(fn, i, array)`` when ``fn``'s backward reads its saved input ``i`` (None: its
    output), then ``observer.step(fn, grad, input_grads)`` with the gradient it received and those it sends."""

    def __init__(self, observer):
        self.observer = observer

    def __enter__(self):
        global _observer
        self.previous, _observer = _observer, self.observer
        return self.observer

    def __exit__(self, *exc):
        global _observer
        _observer = self.previous
        return False


class Scope:
    """A composite op or module call in progress; Functions created inside remember it (for drawing)."""

    __slots__ = ("parent", "kind", "name", "args", "owner", "upstream")

    def __init__(self, parent, kind, name, args, owner, upstream=None):
        self.parent = parent
        self.kind = kind  # "function" or "module"
        self.name = name
        self.args = args  # a tuple of (key, value) pairs, formatted only when drawn
        self.owner = owner  # the Module object for module calls; the forward Function for a backward pass
        self.upstream = upstream  # a backward pass's incoming gradient where it is a constant (dY), for drawings


class scope(contextlib.ContextDecorator):
    """Record that the Functions created inside belong to a composite op or module call."""

    __slots__ = ("kind", "name", "args", "owner", "previous")

    def __init__(self, name, args=(), kind="function", owner=None):
        self.name, self.args, self.kind, self.owner = name, args, kind, owner

    def __enter__(self):
        global _scope
        self.previous = _scope
        _scope = Scope(_scope, self.kind, self.name, self.args, self.owner)
        if _tape is not None and self.kind == "module":  # (a recording's guards include the modules it ran)
            _tape.enter_module(self.owner)

    def __exit__(self, *exc):
        global _scope
        _scope = self.previous
        return False


class Function:
    """A differentiable primitive: ``forward`` on arrays, ``backward`` on Tensors.

    Subclasses set ``self.saved`` in forward to what backward needs; ``parents``,
    ``shape``, ``dtype`` and ``scope`` are filled in by ``apply``.
    """

    kind = "elementwise"  # for drawing: elementwise, reduce, movement, matmul, window
    returns_view = False  # True where forward may return a view of input 0's memory (reshape, permute, ...)
    saved = ()
    constants = ()  # the arrays of inputs that need no gradient (None for the others), for drawings
    value = None  # the output array where it is small (at most SMALL values), for drawings
    retained = None  # a weak reference to the output tensor, when it asked to retain its grad

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """``cls(**params)(*inputs)``: make the primitive and run it on Tensors."""
        return (cls(**params) if params else cls())(*inputs)

    def __call__(self, *inputs):
        """Run on Tensors and, where a gradient is needed, link the result into the graph."""
        with quiet_numpy():  # log(0) = -inf, 1/0 = inf: computed silently, as PyTorch does
            out = self.forward(*[x.array for x in inputs])
        if out.ndim == 0:  # numpy returns scalars from 0-d arithmetic; keep arrays
            out = module_of(out).asarray(out)
        result = None
        if _grad_enabled:
            for x in inputs:
                if x._requires_grad:  # at least one input wants a gradient: link the output
                    self.parents = tuple((x.creator or x) if x._requires_grad else None for x in inputs)
                    if any(p is None for p in self.parents):  # constant operands, kept for drawings
                        self.constants = tuple(None if p is not None else x.array
                                               for p, x in zip(self.parents, inputs))
                    self.shape, self.dtype, self.scope = out.shape, out.dtype, _scope
                    self.sequence = next(_sequence)
                    if out.size <= SMALL:  # a small result is kept so that drawings can show its values
                        self.value = out
                    self.versions = tuple((x._version_cell, x._version_cell[0]) for x in inputs)
                    result = Tensor._from_function(out, self)
                    break
        if result is None:
            result = Tensor._from_array(out)
        if self.returns_view and _same_memory(out, inputs[0].array):  # a view changes with its base
            result._version_cell = inputs[0]._version_cell
        if result.creator is not None:
            self.output_version = (result._version_cell, result._version_cell[0])
        if _tape is not None:
            _tape.call(self, inputs, out)
        return result

    def name(self):
        """PyTorch's style of name for this node of the backward graph: ``MulBackward0``."""
        return f"{type(self).__name__}Backward0"

    @property
    def next_functions(self):
        """Where each input's gradient goes, as PyTorch's ``grad_fn.next_functions``: ``(node, 0)`` pairs,
        an ``AccumulateGrad`` for a leaf, ``(None, 0)`` for an input that needs no gradient."""
        return tuple((p if isinstance(p, Function) else AccumulateGrad(p) if p is not None else None, 0)
                     for p in self.parents)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    def needs_grad(self, i):
        """Whether input ``i`` wants a gradient (backward may skip the others)."""
        return self.parents[i] is not None

    def saved_arrays(self):
        if self.saved is None:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time (or to use saved "
                "arrays after they have already been freed). Saved intermediate values of the graph are freed "
                "when you call .backward(). Specify retain_graph=True if you need to backward through the "
                "graph a second time."
            )
        return self.saved

    def check_version(self, i, array):
        """Raise, as PyTorch does, if input ``i`` (or the output, for i = None) was changed in place since
        this primitive saved it. Every backward checks each saved array it reads, so this is also where an
        observer (``observe_backward``) learns what a step reads."""
        if _observer is not None:
            _observer.read(self, i, array)
        cell, version = self.output_version if i is None else self.versions[i]
        if cell[0] != version:
            which = "the output" if i is None else f"input {i}"
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: a {array.dtype} tensor of shape {tuple(array.shape)}, {which} of "
                f"{type(self).__name__.lower()}, is at version {cell[0]}; expected version {version} instead. "
                "Hint: make that operation out of place (y = y * 2, not y.mul_(2)), or clone the tensor first."
            )

    def as_input(self, i, array):
        """Saved input ``i`` as a Tensor (the leaf itself, a tensor made by its creator, or a constant),
        after checking that no in-place operation changed it."""
        self.check_version(i, array)
        parent = self.parents[i]
        if parent is None:
            return Tensor._from_array(array)
        if isinstance(parent, Tensor):
            return parent
        return Tensor._from_function(array, parent)

    def as_output(self, array):
        """This Function's saved output as a Tensor linked to the graph, after checking that no in-place
        operation changed it."""
        self.check_version(None, array)
        return Tensor._from_function(array, self)

    def release(self):
        """Free the saved arrays (after backward, unless the graph is retained)."""
        if self.saved:
            self.saved = None


class AccumulateGrad:
    """The end of a path in ``next_functions``: the leaf whose ``.grad`` the gradient is added into."""

    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


class _VariableType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableType):
    """Deprecated, as in PyTorch: ``Variable(t, requires_grad=True)`` returns a Tensor (``t`` itself, with
    requires_grad set); every Tensor counts as a Variable."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        t = data if isinstance(data, Tensor) else Tensor(data)
        if requires_grad:
            t.requires_grad_(True)
        return t


def _same_memory(a, b):
    """Whether two arrays are views of the same buffer."""
    return (a.base if a.base is not None else a) is (b.base if b.base is not None else b)


def _backward_order(roots):
    """Functions reachable from ``roots``, the latest created first.

    A Function's consumers were all created after it, so this order is topological; it is also
    the order PyTorch's engine runs (of the Functions ready to run, the latest created), so that
    gradients arriving at one place are summed in PyTorch's order, bit for bit.
    """
    reachable, stack = set(roots), list(roots)
    while stack:
        for parent in stack.pop().parents:
            if isinstance(parent, Function) and parent not in reachable:
                reachable.add(parent)
                stack.append(parent)
    return sorted(reachable, key=lambda fn: fn.sequence, reverse=True)


def _add_into(table, key, grad):
    """Gradients arriving at one place add up, in the order they arrive."""
    previous = table.get(key)
    table[key] = grad if previous is None else previous + grad


def _accumulate_leaf(leaf, grad, create_graph):
    """Add a leaf's summed gradient of one backward pass into ``.grad``: ``old + (g1 + g2 + ...)``."""
    if _tape is not None and not create_graph:  # (a recording replays it on whatever .grad holds then)
        _tape.accumulate(leaf, grad.array)
        return
    if not create_graph:
        grad = Tensor._from_array(grad.array)
    leaf.grad = grad if leaf.grad is None else leaf.grad + grad


def run_backward(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None):
    """Walk the graph from ``outputs`` back to the leaves.

    Everything one place receives is summed first (in arrival order, as PyTorch's engine does), then
    used once: a Function's backward runs on the sum of its output's gradients, and a leaf's ``.grad``
    gets ``old + (g1 + g2)``, never ``(old + g1) + g2``. Without ``inputs``, the sums are accumulated
    into the leaves' ``.grad``; with ``inputs`` (tensors), they are returned instead (``tg.autograd.grad``).
    """
    global _grad_enabled, _scope
    wanted = None if inputs is None else {id(x.creator if x.creator is not None else x): None for x in inputs}
    grads = {}  # Function -> gradient of its output
    leaf_grads = {}  # id(leaf) -> gradient summed over this pass
    leaves = {}  # id(leaf) -> leaf, in arrival order

    def send(parent, g):
        if isinstance(parent, Function):
            _add_into(grads, parent, g)
        elif wanted is None:
            leaves[id(parent)] = parent
            _add_into(leaf_grads, id(parent), g)
        elif id(parent) in wanted:
            _add_into(wanted, id(parent), g)

    for out, g in zip(outputs, grad_outputs):
        send(out.creator or out, g)
    order = _backward_order(list(grads))

    previous_mode, previous_scope = _grad_enabled, _scope
    _grad_enabled = create_graph
    try:
        for fn in order:
            if _tape is not None:  # (whose backward pass the operations recorded now belong to)
                _tape.differentiate(fn)
            grad = grads.pop(fn)
            if wanted is not None and id(fn) in wanted:
                wanted[id(fn)] = grad
            if fn.retained is not None and fn.retained() is not None:  # accumulated, as a leaf's (PyTorch's rule)
                _accumulate_leaf(fn.retained(), grad, create_graph)
            if create_graph:  # group the ops of each backward pass, for drawings of the backward graph
                upstream = None if grad.requires_grad else grad.array
                _scope = Scope(None, "function", f"{type(fn).__name__.lower()} backward", (), fn, upstream)
            input_grads = fn.backward(grad)
            if _observer is not None:
                _observer.step(fn, grad, input_grads)
            if _anomaly_detection:
                _check_finite(fn, input_grads)
            if not retain_graph:
                fn.release()
                if _tape is not None:
                    _tape.release(fn)
            for parent, g in zip(fn.parents, input_grads):
                if parent is not None and g is not None:
                    send(parent, g)
        for key, leaf in leaves.items():
            _accumulate_leaf(leaf, leaf_grads[key], create_graph)
    finally:
        _grad_enabled, _scope = previous_mode, previous_scope
        if _tape is not None:
            _tape.differentiate(None)
    if wanted is not None:
        return [wanted[id(x.creator if x.creator is not None else x)] for x in inputs]
    return None


def _check_finite(fn, input_grads):
    """Anomaly detection: raise at the first gradient with a NaN or an infinity, saying where it came from."""
    for i, g in enumerate(input_grads):
        if g is None or bool(g.xp.isfinite(g.array).all()):
            continue
        bad = "nan" if bool(g.xp.isnan(g.array).any()) else "inf"
        name = type(fn).__name__
        shapes = ", ".join("a constant" if p is None else str(tuple(p.shape)) for p in fn.parents)
        raise RuntimeError(
            f"Function '{name}Backward' returned {bad} values in its {i}th output (the gradient of its input "
            f"{i}). The primitive {name.lower()} took inputs of shapes {shapes} and gave {tuple(fn.shape)} "
            f"{fn.dtype}; it was recorded in {describe_scope(fn.scope)}."
        )


def scope_chain(scope):
    """The scopes a Function was recorded in, outermost first."""
    chain = []
    while scope is not None:
        chain.append(scope)
        scope = scope.parent
    return chain[::-1]


def describe_scope(scope):
    """'composite batch_norm, in module bn1 (BatchNorm2d), in module LeNet5' for a Function's scope."""
    chain = scope_chain(scope)[::-1]  # innermost first
    if not chain:
        return "no composite op or module (a plain tensor operation)"
    root = chain[-1].owner if chain[-1].kind == "module" else None
    names = {id(m): n for n, m in root.named_modules() if n} if root is not None else {}
    parts = []
    for s in chain:
        if s.kind == "module":
            name = names.get(id(s.owner))
            parts.append(f"module {name} ({s.name})" if name else f"module {s.name}")
        else:
            parts.append(f"composite {s.name}")
    return ", in ".join(parts)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad`` (nothing goes into .grad)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    grad_outputs = [_initial_grad(out, g) for out, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    grads = run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs)
    for x, g in zip(inputs, grads):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: one of the differentiated tensors (shape {tuple(x.shape)}) appears not to have been used "
                "in the graph. Set allow_unused=True if this is the desired behavior."
            )
    return tuple(grads)


def _initial_grad(output, gradient):
    """The gradient a backward pass starts from: ones for a scalar, else the one the caller gave."""
    if not output.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if output.numel() != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs (got shape {tuple(output.shape)}); "
                "pass backward(gradient) with the output's shape"
            )
        return Tensor._from_array(output.xp.ones_like(output.array))
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient, dtype=output.dtype, device=output.device)
    if gradient.shape != output.shape:
        raise RuntimeError(f"backward: gradient has shape {tuple(gradient.shape)} but the output has shape "
                           f"{tuple(output.shape)}")
    return gradient
