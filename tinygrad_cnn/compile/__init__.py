"""``tg.compile``: a function (a training step, a model's forward) recorded once as a flat program of
array operations, then replayed without Tensor objects, graph recording or per-op dispatch.

    step = tg.compile(train_step)      # def train_step(x, y): ... loss.backward(); opt.step(); return loss
    loss = step(x, y)                  # 1st call: runs eagerly and records; 2nd: proves the replay equal
                                       # to eager execution; later calls: replay

A recording is kept per guard: the shapes, strides, dtypes, devices and requires_grad of the tensor
arguments, the other arguments' values, the plain values (numbers, strings, None) of the globals and
closure variables the function's code names, grad mode, the plain attributes of every module it ran
(its train/eval mode, dropout's p, ...), and the requires_grad of every tensor it read from outside. A
changed guard records again. The second call with a guard runs both ways from the same state and
compares every result and every tensor, gradient and optimizer state it touched, bit for bit; a replay
that differs is dropped with a warning (and the function stays eager), as is a call a replay cannot
repeat (one that reads a tensor's value into Python).

The primitive rule is untouched: a recording is the eager run itself, primitive by primitive, and the
program replays those same primitives' forward code; only how they are dispatched changes.
"""
import copy
import dis
import numbers
import types
import warnings

from .. import autograd, backend
from ..nn.modules.module import Module
from ..tensor import Tensor
from .program import Accumulate, CallAgain
from .tape import Tape, Unsupported

MAX_RECORDINGS = 16  # a function whose guards change this often (a new object argument each call) stays eager


class _Entry:
    """What the cache holds for one guard: the program (None where it cannot replay) and its state.
    ``modules``: (module, its attributes) for each module the recording ran, the attributes as they were
    before the call where the function was recorded before with that module, else as the recording
    first saw them (a call that sets ``model.train()`` itself is then kept for the mode before it)."""

    def __init__(self, program, modules, tensors, problem=None):
        self.program, self.tensors, self.problem = program, tensors, problem
        self.modules = [module for module, _ in modules]
        self.proven = False
        self.settings = _module_settings(modules)
        self.requires = tuple(t._requires_grad for t in tensors)

    def matches(self):
        return (all(attributes.get(name, ...) == value for attributes, name, value in self.settings) and
                all(t._requires_grad == r for t, r in zip(self.tensors, self.requires)))


class CompiledFunction:
    """``tg.compile(fn)``: call it as ``fn``. Each transformation of the program can be turned off (to
    measure it, or to rule it out): ``free_memory=False`` keeps every array of a replay until its end,
    ``in_place=False`` gives every elementwise primitive a buffer of its own (``passes.in_place``),
    ``rematerialize=True`` holds each conv's image instead of its windows between forward and backward
    (``passes.rematerialize``: less memory, one more im2col per conv). ``fullgraph=True``: where a call
    would stay eager, raise instead of warning (as PyTorch raises at a graph break)."""

    def __init__(self, fn, free_memory=True, in_place=True, rematerialize=False, fullgraph=False):
        self.fn, self.free_memory, self.in_place, self.rematerialize = fn, free_memory, in_place, rematerialize
        self.fullgraph = fullgraph
        self.named = _named_places(fn)
        self.cache = {}  # guard key -> [_Entry, ...] (one per module-mode / requires_grad state)
        self.records = 0  # how many times a call was recorded (a test and a benchmark read it)
        self.gave_up = False  # eager from then on (too many recordings, or an argument that cannot be a guard)

    def __call__(self, *args, **kwargs):
        if autograd._tape is not None:  # inside another compiled call's recording: that one records it all
            return self.fn(*args, **kwargs)
        try:
            key = (_guard_key(args, kwargs), _plain_values(self.named))
        except TypeError as error:  # an argument whose value cannot be a guard: eager
            self._give_up(str(error))
            return self.fn(*args, **kwargs)
        entry = next((e for e in self.cache.get(key, ()) if e.matches()), None)
        if entry is None and self.records >= MAX_RECORDINGS:
            self._give_up(f"it was recorded {MAX_RECORDINGS} times (its guards keep changing: new shapes, new "
                          "argument values)")
            return self.fn(*args, **kwargs)
        if entry is None:
            result, entry = self._record(args, kwargs)
            self.cache.setdefault(key, []).append(entry)
            return result
        if entry.program is None:
            return self.fn(*args, **kwargs)
        arguments = _tensors(args, kwargs)
        if not entry.proven:
            return self._prove(entry, args, kwargs, arguments)
        return entry.program.replay(arguments)

    def _give_up(self, reason):
        """Run eagerly from now on, saying why once."""
        if not self.gave_up:
            self.gave_up = True
            self._stays_eager(f"runs eagerly: {reason}")

    def _stays_eager(self, why):
        """Say why a call runs eagerly: a warning, or with ``fullgraph=True`` an error."""
        message = f"tg.compile: {getattr(self.fn, '__name__', type(self.fn).__name__)} {why}"
        if self.fullgraph:
            raise RuntimeError(message + " (fullgraph=True)")
        warnings.warn(message, stacklevel=4)

    def _record(self, args, kwargs):
        self.records += 1
        before = {id(m): dict(vars(m)) for entries in self.cache.values() for e in entries for m in e.modules}
        tape = Tape(_tensors(args, kwargs))
        previous, autograd._tape = autograd._tape, tape
        try:
            result = self.fn(*args, **kwargs)
        finally:
            autograd._tape = previous
        try:
            program, problem = tape.program(result, self.free_memory, self.in_place, self.rematerialize), None
        except Unsupported as error:
            program, problem = None, str(error)
            self._stays_eager(f"stays eager: {problem}")
        modules = [(m, before.get(id(m), seen)) for m, seen in tape.modules.values()]
        return result, _Entry(program, modules, list(tape.tensors.values()), problem)

    def _prove(self, entry, args, kwargs, arguments):
        """Run the replay, then eager execution from the same state; keep the program only if both give
        the same results and leave the same state, bit for bit. Returns eager execution's results."""
        state = _State(entry.program, arguments)
        before = state.snapshot()
        try:
            replayed = entry.program.replay(arguments)
            after_replay, problem = state.snapshot(), None
        except Exception as error:  # a replay that cannot even run: eager, saying why
            problem = f"its replay fails ({type(error).__name__}: {error})"
        state.restore(before)
        result = self.fn(*args, **kwargs)
        if problem is None:
            difference = _difference(_flatten(replayed), _flatten(result)) or \
                _difference(after_replay, state.snapshot())
            problem = None if difference is None else f"its replay differs from eager execution ({difference})"
        if problem is None:
            entry.proven = True
        else:
            entry.program, entry.problem = None, problem
            self._stays_eager(f"stays eager: {problem}")
        return result


MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
BACKENDS = ("inductor", "cudagraphs", "eager", "aot_eager")  # PyTorch's names; here one engine runs them all


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None, name=None,
            disable=False, shapes_spec=None, free_memory=True, in_place=True, rematerialize=False):
    """Record ``model`` (a function, or a module: an ``OptimizedModule``) once per guard and replay it
    afterwards; see the module's docstring. Usable as a decorator, with or without arguments.

    PyTorch's arguments are taken as ``torch.compile`` takes them (checked as it checks them):
    ``disable=True`` returns ``model`` itself; ``fullgraph=True`` raises where a call would stay eager;
    ``backend`` names one of PyTorch's, ``mode`` one of its modes (each runs the same recorded program
    here); ``dynamic``, ``options``, ``name`` and ``shapes_spec`` change nothing: every recording is
    specialized to its shapes, and a new shape records again. ``free_memory``, ``in_place`` and
    ``rematerialize`` are this engine's own (``CompiledFunction``)."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(MODES)}")
    if callable(backend):
        raise NotImplementedError("tg.compile: a backend function is given a torch.fx graph, which this engine "
                                  f"does not make; pass one of {', '.join(BACKENDS)}")
    if backend not in BACKENDS:
        raise RuntimeError(f"Invalid backend: {backend!r}, one of {', '.join(BACKENDS)} (all run the same program)")
    settings = dict(free_memory=free_memory, in_place=in_place, rematerialize=rematerialize, fullgraph=fullgraph)
    if model is None:
        return lambda f: compile(f, backend=backend, mode=mode, options=options, disable=disable, **settings)
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model, **settings)
    return CompiledFunction(model, **settings)


class OptimizedModule(Module):
    """What ``tg.compile(module)`` returns, as PyTorch's: a module that holds the original as
    ``_orig_mod`` (so its parameters and state_dict keys start with ``_orig_mod.``), runs its calls
    through the compiled forward (``compiled``, a CompiledFunction), and reads any other attribute from
    the original (``compiled_model.fc1``)."""

    def __init__(self, module, **settings):
        super().__init__()
        self._orig_mod = module
        self.compiled = CompiledFunction(module, **settings)

    def forward(self, *args, **kwargs):
        return self.compiled(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "_orig_mod":  # not set yet (a copy being made)
                raise
            return getattr(self._orig_mod, name)


class _State:
    """Everything a program's replay can change: its tensor arguments and the tensors it reads from
    outside (their arrays, which an in-place operation changes, and gradients), the leaves it
    accumulates into, the buffers it writes, the optimizers it steps (their state, and their
    parameters' arrays and gradients) and the random generator."""

    def __init__(self, program, arguments):
        tensors = {id(t): t for t in arguments}
        tensors.update((id(value), value) for kind, value in filter(None, program.bindings) if kind == "tensor")
        self.optimizers = []
        for op in program.ops:
            if isinstance(op, Accumulate) and op.argument is None:  # (arguments are in already)
                tensors[id(op.leaf)] = op.leaf
            elif isinstance(op, CallAgain) and hasattr(op.func, "__self__"):
                optimizer = op.func.__self__
                if all(o is not optimizer for o in self.optimizers):
                    self.optimizers.append(optimizer)
                    for group in optimizer.param_groups:
                        tensors.update((id(p), p) for p in group["params"])
        self.tensors = list(tensors.values())

    def snapshot(self):
        return {"arrays": [t.array.copy() for t in self.tensors],
                "grads": [t.grad for t in self.tensors],
                "grad_values": [None if t.grad is None else t.grad.array.copy() for t in self.tensors],
                "optimizers": [_copy_state(o.state) for o in self.optimizers],
                "random": backend.generator().bit_generator.state}

    def restore(self, saved):
        for t, array, grad in zip(self.tensors, saved["arrays"], saved["grads"]):
            t.array[...] = array
            t.grad = grad
        for t, grad_values in zip(self.tensors, saved["grad_values"]):
            if t.grad is not None:
                t.grad.array[...] = grad_values
        for o, state in zip(self.optimizers, saved["optimizers"]):
            o.state = _copy_state(state)
        backend.generator().bit_generator.state = saved["random"]


def _copy_state(state):
    """An optimizer's state (parameter -> {name: array or number}) with its arrays copied."""
    return {p: {k: v.copy() if backend.is_array(v) else copy.copy(v) for k, v in values.items()}
            for p, values in state.items()}


def _difference(a, b):
    """None where two snapshots (or lists of results) are equal bit for bit, else where they differ."""
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return "different entries"
        for key in a:
            found = _difference(a[key], b[key])
            if found is not None:
                return f"{key if isinstance(key, str) else type(key).__name__}: {found}"
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return "a different number of values"
        for i, (x, y) in enumerate(zip(a, b)):
            found = _difference(x, y)
            if found is not None:
                return f"[{i}] {found}"
        return None
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        a, b = (x.array if isinstance(x, Tensor) else x for x in (a, b))
    if backend.is_array(a) or backend.is_array(b):
        np = backend.numpy_module()
        x, y = backend.to_numpy(a), backend.to_numpy(b)
        same = x.shape == y.shape and x.dtype == y.dtype and np.array_equal(
            x, y, equal_nan=x.dtype.kind in "fc")
        return None if same else "values differ"
    return None if a == b or (a is None and b is None) else f"{a!r} != {b!r}"


def _flatten(structure):
    if isinstance(structure, (tuple, list)):
        return [x for item in structure for x in _flatten(item)]
    if isinstance(structure, dict):
        return [x for value in structure.values() for x in _flatten(value)]
    return [structure]


def _tensors(args, kwargs):
    """The tensor arguments in a call's order: positional ones, then keyword ones by name (as the guard
    key orders them, so that ``f(x=a, y=b)`` and ``f(y=b, x=a)`` bind the same slots)."""
    return [a for a in _flatten(list(args) + [kwargs[k] for k in sorted(kwargs)]) if isinstance(a, Tensor)]


def _named_places(fn):
    """Where the Python values ``fn`` reads by name live: (its globals, name) for each global its code
    (or code nested in it, or a module's ``forward``) loads, and (cell, None) for each closure variable.
    A recording bakes the values it saw into the program, so the plain ones are guards. (Globals by
    the instructions that load them: ``opt.step()`` names ``step`` too, as an attribute, and a global
    loop counter called ``step`` is no guard.)"""
    target = type(fn).forward if isinstance(fn, Module) else getattr(fn, "__func__", fn)
    code = getattr(target, "__code__", None)
    if code is None:  # a callable object without code of its own
        return []
    names, codes = set(), [code]
    while codes:
        code = codes.pop()
        names.update(i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME"))
        codes.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    places = [(cell, None) for cell in target.__closure__ or ()]
    return places + [(target.__globals__, name) for name in sorted(names)]


PLAIN_TYPES = frozenset({bool, int, float, complex, str, bytes, type(None)})


def _plain(value):
    """A plain value (a number, string, None, or a tuple of them) as it is, anything else as ``...``:
    the objects (modules, optimizers, tensors) are not guards, their tensors are read at each replay."""
    kind = type(value)
    if kind in PLAIN_TYPES:
        return value
    if kind is tuple:
        values = tuple(_plain(v) for v in value)
        return ... if ... in values else values
    return value if isinstance(value, numbers.Number) else ...  # (NumPy's scalars)


def _plain_values(places):
    """The plain values at ``places`` (``_named_places``)."""
    values = []
    for place, name in places:
        try:
            values.append(_plain(place.cell_contents if name is None else place.get(name)))
        except ValueError:  # a closure variable not assigned yet
            values.append(...)
    return tuple(values)


def _module_settings(modules):
    """(a module's attributes, name, value) of every plain attribute of (module, attributes) pairs: train/eval
    mode, dropout's p, batch norm's momentum, a conv's stride... (a recording bakes them in)."""
    return [(vars(m), name, value) for m, attributes in modules for name, value in attributes.items()
            if _plain(value) is not ...]


def _guard_key(args, kwargs):
    """What a recording is kept for: each tensor argument's shape, memory layout (strides: operations
    lay their results out after their operands, and a product sums in the order its layout gives),
    dtype, device and requires_grad, each other argument's value, and grad mode. Raises TypeError for
    an argument whose value cannot be hashed (a NumPy array, a dict): a replay could not tell whether it
    changed. A tensor whose array an earlier argument has too is its alias (a recording of ``f(a, a)``
    reads one slot for both)."""
    arrays = []  # the tensor arguments' arrays so far, in the order ``_tensors`` gives them

    def part(value):
        if isinstance(value, Tensor):
            alias = next((k for k, array in enumerate(arrays) if array is value.array), None)
            arrays.append(value.array)
            return ("tensor", tuple(value.shape), value.array.strides, str(value.dtype), str(value.device),
                    value.requires_grad, alias)
        if isinstance(value, (tuple, list)):
            return (type(value).__name__,) + tuple(part(v) for v in value)
        try:
            hash(value)
        except TypeError:
            raise TypeError(f"an argument of type {type(value).__name__} cannot be a guard (pass tensors and "
                            "hashable values)") from None
        return ("value", type(value).__name__, value)
    return (tuple(part(a) for a in args), tuple((k, part(v)) for k, v in sorted(kwargs.items())),
            autograd.is_grad_enabled())

