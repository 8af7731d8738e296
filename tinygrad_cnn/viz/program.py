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
        leaf = f"input {op.argument}" if op.argument is not None else param_names.get(id(op.leaf), "leaf")
        return f"{leaf}.grad +="
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
    groups = {}  # cluster id -> (title, indices of its operations)
    seen, recomputed = set(), set()  # recomputed: operations that run a primitive's forward again (rematerialize)
    for k, op in enumerate(program.ops):
        if isinstance(op, Call):
            if id(op.fn) in seen:
                recomputed.add(k)
            seen.add(id(op.fn))
    for k, (op, (phase, scope)) in enumerate(zip(program.ops, program.places)):
        if not isinstance(op, Release):  # (letting saved arrays go: nothing to see)
            cluster_id, title = _group(phase, scope, module_names)
            groups.setdefault(cluster_id, (title, []))[1].append(k)
    node_of = {}  # operation index -> the id of the node that draws it
    for cluster_id, (title, indices) in groups.items():
        out.clusters[cluster_id] = Cluster(cluster_id, title, True)
        if collapse:
            out.nodes.append(_group_node(cluster_id, title, [program.ops[k] for k in indices], program))
            node_of.update((k, cluster_id) for k in indices)
        else:
            for k, node in _operation_nodes(cluster_id, indices, program, param_names, out.clusters, recomputed):
                out.nodes.append(node)
                node_of[k] = node.id
    producer = {}  # slot -> the node that computes it (or the input's node)
    for slot, binding in enumerate(program.bindings):
        if binding is not None and binding[0] == "input":
            producer[slot] = f"in{slot}"
            out.nodes.append(Node(f"in{slot}", "input", f"input {binding[1]}", shape=program.layouts[slot][0]))
    edges = set()
    for k, op in enumerate(program.ops):
        if k in node_of:
            for slot in op.reads():
                source = producer.get(slot)
                if source is not None and source != node_of[k] and (source, node_of[k]) not in edges:
                    edges.add((source, node_of[k]))
                    out.edges.append(Edge(source, node_of[k]))
            producer.update((slot, node_of[k]) for slot in op.writes())
    return out


def _group_node(cluster_id, title, ops, program):
    """One node for a whole group: how many operations, how many in place, how much memory allocated (the
    optimizer's: the calls it makes again)."""
    if all(isinstance(op, CallAgain) for op in ops):
        return Node(cluster_id, "composite", title, note=", then ".join(_name(op, {}) for op in ops))
    allocated = sum(_megabytes(program.layouts[op.out]) for op in ops if type(op) is Call)
    in_place = sum(isinstance(op, InPlace) for op in ops)
    count = f"{len(ops)} operation{'s' if len(ops) != 1 else ''}"
    return Node(cluster_id, "composite", title, note=f"{count}, {in_place} in place, {allocated:.1f} MB allocated")


def _operation_nodes(cluster_id, indices, program, param_names, clusters, recomputed):
    """(index, Node) of each operation of a group; a run of operations computed in one buffer (the in-place
    pass) gets a cluster of its own, added to ``clusters``; ``recomputed``: operations that run a forward
    again (its name says so)."""
    run, previous = None, None  # the current run's cluster; the buffer the previous operation wrote in place
    for k in indices:
        op = program.ops[k]
        cluster = (cluster_id,)
        if isinstance(op, InPlace):
            if previous != op.target:  # a new run starts
                run = f"cluster_buffer{k}"
                clusters[run] = Cluster(run, f"one buffer: {_buffer_text(program.layouts[op.out])}", False)
            cluster = (cluster_id, run)
        role = "primitive" if isinstance(op, (Call, InPlace)) else "composite"
        kind = getattr(getattr(op, "fn", None), "kind", None)
        name = _name(op, param_names) + (" (again)" if k in recomputed else "")
        yield k, Node(f"op{k}", role, name, note=_note(op, program), kind=kind, cluster=cluster)
        previous = op.out if isinstance(op, InPlace) else None


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
