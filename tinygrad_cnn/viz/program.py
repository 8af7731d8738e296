"""A drawing of a compiled step (``tg.compile``): what the engine actually runs when it replays it.

Each operation of the program is a node — a primitive's forward (from the forward pass or from a backward
pass), an array computation done outside the primitives, a write into a buffer, a gradient added into
``.grad``, the optimizer's step — with the buffer it writes (shape, dtype, size). Operations are grouped
by the module call they come from, forward and backward apart; consecutive operations that the in-place
pass runs in one buffer are boxed together, with that buffer's size. With ``collapse``, each group is one
node that says how many operations it runs, how many in place, and how much memory it allocates.
"""
from ..autograd import scope_chain
from ..compile import CompiledFunction
from ..compile.passes import InPlace
from ..compile.program import Accumulate, Call, CallAgain, Computed, Release, Write
from .description import Cluster, Description, Edge, Node, primitive_name, scope_title, size_text


def _megabytes(layout):
    """The memory an array of this layout allocates (none for a view of another's)."""
    shape, dtype, is_view = layout
    size = 1
    for n in shape:
        size *= n
    return 0.0 if is_view else size * dtype.itemsize / 2 ** 20


def _buffer_text(layout):
    shape, dtype, is_view = layout
    return f"{size_text(shape)} {dtype}, " + ("a view" if is_view else f"{_megabytes(layout):.2f} MB")


def _name(op, param_names):
    if isinstance(op, (Call, InPlace)):
        return primitive_name(op.fn) + (" (in place)" if isinstance(op, InPlace) else "")
    if isinstance(op, Computed):
        return getattr(op.func, "__name__", "computed").strip("_").replace("_", " ").replace("<lambda>", "computed")
    if isinstance(op, Write):
        return "write into buffer"
    if isinstance(op, Accumulate):
        return f"{param_names.get(id(op.leaf), 'leaf')}.grad +="
    if isinstance(op, CallAgain):
        owner = getattr(op.func, "__self__", None)
        return f"{type(owner).__name__}.{op.func.__name__}()" if owner is not None else op.func.__name__
    return type(op).__name__


def _note(op, program):
    """What an operation's node says under its name: the buffer it writes (or reads, or updates)."""
    if isinstance(op, CallAgain):
        return "updates parameters and state in place"
    slot = op.writes()[0] if op.writes() else op.reads()[-1] if op.reads() else None
    if slot is None:
        return "no buffer"
    where = {Accumulate: "adds ", Write: "writes "}.get(type(op), "")
    return where + _buffer_text(program.layouts[slot])


def program_of(compiled):
    """The proven program of a compiled function (the first one cached), or a clear error."""
    for entries in compiled.cache.values():
        for entry in entries:
            if entry.program is not None:
                return entry.program
    reasons = [e.problem for entries in compiled.cache.values() for e in entries if e.problem]
    raise ValueError("draw_graph: this compiled function has no program yet" +
                     (f" (it stays eager: {reasons[0]})" if reasons else " (call it once first)"))


def describe_program(compiled, model=None, collapse=False):
    """The Description of a compiled function's program (see the module's docstring)."""
    if not isinstance(compiled, CompiledFunction):
        raise TypeError(f"describe_program: expected tg.compile's result, got {type(compiled).__name__}")
    program = program_of(compiled)
    module_names = {id(m): name for name, m in model.named_modules() if name} if model is not None else {}
    param_names = {id(p): name for name, p in model.named_parameters()} if model is not None else {}
    out = Description(show_values=False, show_dtypes=False, font=10)
    producer = {}  # slot -> node id that computes it
    group_of, group_ops = {}, {}
    for k, (op, (phase, scope)) in enumerate(zip(program.ops, program.places)):
        if isinstance(op, Release):
            continue
        group = _group(phase, scope, module_names)
        group_ops.setdefault(group[0], (group, []))[1].append(k)
        group_of[k] = group
    nodes = {}
    for gid, (group, ks) in group_ops.items():
        out.clusters[gid] = Cluster(gid, group[1], True)
        if collapse:
            ops = [program.ops[k] for k in ks]
            allocated = sum(_megabytes(program.layouts[op.out]) for op in ops
                            if isinstance(op, Call) and not isinstance(op, InPlace))
            in_place = sum(isinstance(op, InPlace) for op in ops)
            nodes.update((k, gid) for k in ks)
            count = f"{len(ops)} operation{'s' if len(ops) != 1 else ''}"
            out.nodes.append(Node(gid, "composite", group[1], note=f"{count}, {in_place} in place, "
                                                                  f"{allocated:.1f} MB allocated"))
    in_place_run = None  # the cluster of the current chain of operations in one buffer
    for gid, (group, ks) in group_ops.items():
        if collapse:
            break
        previous_out = None  # the buffer the previous operation of the group wrote in place, if it did
        for k in ks:
            op = program.ops[k]
            cluster = (gid,)
            if isinstance(op, InPlace) and previous_out == op.target:  # the chain goes on in the same buffer
                cluster = (gid, in_place_run)
            elif isinstance(op, InPlace):
                in_place_run = f"cluster_buffer{k}"
                out.clusters[in_place_run] = Cluster(in_place_run, f"one buffer: {_buffer_text(program.layouts[op.out])}",
                                                     False)
                cluster = (gid, in_place_run)
            node = Node(f"op{k}", "primitive" if isinstance(op, (Call, InPlace)) else "composite", _name(op, param_names),
                        note=_note(op, program), kind=getattr(getattr(op, "fn", None), "kind", None), cluster=cluster)
            out.nodes.append(node)
            nodes[k] = node.id
            previous_out = op.out if isinstance(op, InPlace) else None
    for slot, binding in enumerate(program.bindings):  # the inputs, as the program reads them
        if binding is not None and binding[0] == "input":
            out.nodes.append(Node(f"in{slot}", "input", f"input {binding[1]}", shape=program.layouts[slot][0]))
            producer[slot] = f"in{slot}"
    edges = set()
    for k, op in enumerate(program.ops):
        if k not in nodes:
            continue
        for slot in op.reads():
            source = producer.get(slot)
            if source is not None and source != nodes[k] and (source, nodes[k]) not in edges:
                edges.add((source, nodes[k]))
                out.edges.append(Edge(source, nodes[k]))
        for slot in op.writes():
            producer[slot] = nodes[k]
    return out


def _group(phase, scope, module_names):
    """(cluster id, title) of the group an operation is drawn in: the innermost module call it comes from
    (or whose backward pass it is part of), else the outermost composite op (cross_entropy), else the step."""
    if phase in ("optimizer", "gradients"):
        return f"cluster_{phase}", "optimizer" if phase == "optimizer" else "gradients into .grad"
    chain = scope_chain(scope)
    modules = [s for s in chain if s.kind == "module"]
    unit = modules[-1] if modules else chain[0] if chain else None
    title = scope_title(unit, module_names) if unit is not None else "outside any module or composite"
    return f"cluster_{phase[0]}{id(unit)}", title + (", backward" if phase == "backward" else "")
