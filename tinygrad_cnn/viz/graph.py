"""Draw computation graphs with graphviz: primitives as boxes, tensors as ellipses, and every
composite op and module call as a labelled cluster around the primitives it made.

Colours follow DeZero: tensors orange, ops light blue; parameters gold, the output green.
Where paths of the graph meet outside any composite op (a residual add, a concatenation of
branches), the op is pink and the paths arrive on bold pink edges.
"""
import os
import shutil

from .. import backend
from ..atomic import atomic_write
from ..autograd import Function
from ..tensor import Tensor

TENSOR, PARAMETER, OUTPUT, OP, MERGE = "#FFB366", "#FFE08A", "#9BD69B", "#BFE3F2", "#F6B8D1"
KIND_COLOURS = {"elementwise": "#BFE3F2", "reduce": "#D9C2F0", "movement": "#E3E3E3", "matmul": "#F7B7A3",
                "window": "#B8E6B8"}
HIDDEN_DEFAULTS = {"d": (1, 1), "g": 1}  # composite arguments left out of cluster titles when default
INSTALL_DOT = ("graphviz's `dot` program is not installed, so only the DOT source was written; install it "
               "(apt-get install graphviz, brew install graphviz or conda install graphviz) to get SVG or PNG")


def _size(shape):
    return "x".join(str(n) for n in shape) if len(shape) else "scalar"


def _format_value(value):
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def scope_title(scope, module_names):
    """'Conv2d conv1' for a module call, 'conv2d k=5 s=1 p=2' for a composite op."""
    if scope.kind == "module":
        name = module_names.get(id(scope.owner))
        return f"{scope.name} {name}" if name else scope.name
    args = " ".join(f"{k}={_format_value(v)}" for k, v in scope.args if HIDDEN_DEFAULTS.get(k, object()) != v)
    return f"{scope.name} {args}".strip()


def _walk(output):
    """Every Function reachable from ``output`` and every leaf tensor they read."""
    functions, leaves, stack, seen = [], [], [output.creator] if output.creator else [], set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        functions.append(fn)
        for parent in fn.parents:
            if isinstance(parent, Tensor):
                if id(parent) not in seen:
                    seen.add(id(parent))
                    leaves.append(parent)
            elif isinstance(parent, Function):
                stack.append(parent)
    return functions, leaves


def _is_merge(fn, param_ids):
    """A primitive written at model level (outside composites) that joins two or more computed paths."""
    if fn.scope is not None and fn.scope.kind != "module":
        return False
    paths = [p for p in fn.parents if isinstance(p, Function) or (isinstance(p, Tensor) and id(p) not in param_ids)]
    return len(paths) >= 2


def _scope_chain(scope):
    chain = []
    while scope is not None:
        chain.append(scope)
        scope = scope.parent
    return chain[::-1]  # outermost first


def _module_and_param_names(params, model):
    module_names, param_names = {}, {}
    if model is not None:
        module_names = {id(m): name for name, m in model.named_modules() if name}
        params = params if params is not None else dict(model.named_parameters())
    for name, p in (params or {}).items():
        param_names[id(p)] = name
    return module_names, param_names


def draw_graph(output, params=None, show_shapes=True, show_grads=False, group_composites=True, direction="TB",
               model=None, color_by_kind=False):
    """A ``graphviz.Digraph`` of the graph that computed ``output``.

    ``params``: a dict name -> tensor (``dict(model.named_parameters())``) to label leaves;
    ``model``: also names module clusters (``Conv2d conv1``) and its parameters;
    ``group_composites``: True draws composites and module calls as nested clusters,
    "collapse" draws each composite op as one node, False draws flat primitives;
    ``show_grads``: annotate leaves with their gradient's shape and norm (after backward);
    ``color_by_kind``: colour primitives by kind (elementwise, reduce, movement, matmul, window).
    """
    import graphviz

    if not isinstance(output, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(output).__name__}")
    if direction not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw_graph: direction must be TB or LR, got {direction!r}")
    module_names, param_names = _module_and_param_names(params, model)
    functions, leaves = _walk(output)
    big = len(functions) + len(leaves) > 80
    graph = graphviz.Digraph("graph", graph_attr={
        "rankdir": direction, "nodesep": "0.2", "ranksep": "0.25", "fontname": "Helvetica", "fontsize": "11",
        "compound": "true", "newrank": "true"},
        node_attr={"fontname": "Helvetica", "fontsize": "9" if big else "10", "height": "0.3", "margin": "0.08,0.03"},
        edge_attr={"arrowsize": "0.6", "color": "#555555"})

    collapse = group_composites == "collapse"
    representative = {}  # function id -> the node that stands for it
    collapsed_nodes = {}  # outermost composite scope id -> (scope, its output: the first Function walked)
    for fn in functions:
        chain = [s for s in _scope_chain(fn.scope) if s.kind == "function"]
        if collapse and chain:
            representative[id(fn)] = f"s{id(chain[0])}"
            collapsed_nodes.setdefault(id(chain[0]), (chain[0], fn))
        else:
            representative[id(fn)] = f"f{id(fn)}"

    # the composite that produced the output (in collapse mode) gets the output's shape in its label
    nodes_by_cluster = {}  # tuple of scope ids (outermost first) -> list of (node id, attrs)
    scopes = {}

    def place(scope, node, attrs):
        chain = _scope_chain(scope)
        if collapse and not node.startswith("f"):
            chain = [s for s in chain if s.kind == "module"]
        if not group_composites:
            chain = []
        for s in chain:
            scopes[id(s)] = s
        nodes_by_cluster.setdefault(tuple(id(s) for s in chain), []).append((node, attrs))

    param_ids = {id(p) for name, p in (params or {}).items() if name != "input"}
    merges = {id(fn) for fn in functions if _is_merge(fn, param_ids)}
    for fn in functions:
        node = representative[id(fn)]
        if node.startswith("f"):
            label = type(fn).__name__.lower()
            if show_shapes:
                label = f"<<b>{label}</b><br/><font point-size='8'>{_size(fn.shape)} {fn.dtype}</font>>"
            colour = KIND_COLOURS[fn.kind] if color_by_kind else OP
            attrs = {"label": label, "shape": "box", "style": "rounded,filled", "fillcolor": colour}
            if id(fn) in merges:
                attrs.update(style="rounded,filled,bold", fillcolor=MERGE, label=_merge_label(fn, show_shapes))
            place(fn.scope, node, attrs)
    for scope_id, (scope, last) in collapsed_nodes.items():
        label = scope_title(scope, module_names)
        if show_shapes:
            label = f"<<b>{label}</b><br/><font point-size='8'>{_size(last.shape)}</font>>"
        place(scope.parent, f"s{scope_id}", {"label": label, "shape": "box", "style": "rounded,filled,bold",
                                              "fillcolor": OP})

    consumer_scope = {}  # leaf id -> the innermost module call that reads it
    for fn in functions:
        for parent in fn.parents:
            if isinstance(parent, Tensor) and id(parent) not in consumer_scope:
                modules = [s for s in _scope_chain(fn.scope) if s.kind == "module"]
                consumer_scope[id(parent)] = modules[-1] if modules else None
    grad_of = {id(p.grad): name for name, p in (params or {}).items() if p.grad is not None}
    for leaf in leaves:
        name = param_names.get(id(leaf))
        label = name or "input"
        if show_shapes:
            label += f"\n{_size(leaf.shape)}"
        if show_grads and leaf.grad is not None:
            norm = float(backend.to_numpy((leaf.grad.array.astype("float64") ** 2).sum()) ** 0.5)
            label += f"\ngrad {_size(leaf.grad.shape)} |g|={norm:.3g}"
        is_param = name is not None and name != "input"
        attrs = {"label": label, "shape": "ellipse", "style": "filled", "fillcolor": PARAMETER if is_param else TENSOR}
        if is_param:  # drawn inside the module that owns it
            place(consumer_scope.get(id(leaf)), f"t{id(leaf)}", attrs)
        else:
            graph.node(f"t{id(leaf)}", **attrs)

    title = f"{grad_of[id(output)]}.grad" if id(output) in grad_of else ("loss" if output.numel() == 1 else "output")
    out_label = title + (f"\n{_size(output.shape)}" if show_shapes else "")
    graph.node("output", out_label, shape="ellipse", style="filled,bold", fillcolor=OUTPUT)

    _emit_clusters(graph, nodes_by_cluster, scopes, module_names)

    edges = set()
    for fn in functions:
        target = representative[id(fn)]
        for parent in fn.parents:
            if parent is None:
                continue
            source = f"t{id(parent)}" if isinstance(parent, Tensor) else representative[id(parent)]
            if source != target and (source, target) not in edges:
                edges.add((source, target))
                graph.edge(source, target, **({"color": "#C2185B", "penwidth": "1.8"} if id(fn) in merges else {}))
    if output.creator is not None:  # (a tensor computed from nothing that needs a gradient is drawn alone)
        graph.edge(representative[id(output.creator)], "output")
    return graph


def _merge_label(fn, show_shapes):
    paths = sum(1 for p in fn.parents if p is not None)
    detail = f"{_size(fn.shape)} {fn.dtype}<br/>" if show_shapes else ""
    return (f"<<b>{type(fn).__name__.lower()}</b><br/><font point-size='8'>{detail}{paths} paths meet</font>>")


def _emit_clusters(graph, nodes_by_cluster, scopes, module_names):
    """Write nodes into nested ``subgraph cluster_...`` blocks, one per scope."""
    tree = {}
    for path, nodes in nodes_by_cluster.items():
        branch = tree
        for scope_id in path:
            branch = branch.setdefault(scope_id, {})
        branch.setdefault(None, []).extend(nodes)

    def emit(target, branch):
        for node, attrs in branch.get(None, []):
            target.node(node, **attrs)
        for scope_id, sub in branch.items():
            if scope_id is None:
                continue
            scope = scopes[scope_id]
            with target.subgraph(name=f"cluster_{scope_id}") as cluster:
                is_module = scope.kind == "module"
                cluster.attr(label=scope_title(scope, module_names), labeljust="l", fontsize="10",
                             style="rounded,dashed" if not is_module else "rounded",
                             color="#7A7A7A" if is_module else "#4A90C2",
                             bgcolor="#FAFAFA" if is_module else "#F0F7FC")
                emit(cluster, sub)

    emit(graph, tree)


def dot_available():
    return shutil.which("dot") is not None


def save(graph, path, log=print):
    """Render ``graph`` to ``path`` (its suffix picks svg, png or dot); without ``dot``, write the
    DOT source beside it and say how to install dot. Returns the path written."""
    stem, suffix = os.path.splitext(os.fspath(path))
    fmt = suffix.lstrip(".").lower() or "svg"
    if fmt == "dot" or not dot_available():
        target = stem + ".dot"
        with atomic_write(target, mode="w", suffix=".dot") as f:
            f.write(graph.source)
        if fmt != "dot":
            log(f"{INSTALL_DOT}: wrote {target}")
        return target
    data = graph.pipe(format=fmt)
    with atomic_write(path, suffix=f".{fmt}") as f:
        f.write(data)
    return os.fspath(path)


def save_svg(graph, path, log=print):
    return save(graph, os.path.splitext(os.fspath(path))[0] + ".svg", log)


def example_graph(model_name="lenet5", backward=False):
    """(output tensor, model, params) for the CLI's demo graphs; with ``backward``, the output is
    the input's gradient computed with create_graph=True."""
    from .. import creation, nn
    from ..models import BasicBlock, LeNet5
    from ..nn import functional as F

    creation.manual_seed(0)
    if model_name == "lenet5":
        model = LeNet5()
        x = creation.randn(2, 1, 28, 28, requires_grad=True)  # so that the input appears in the drawing
        out = F.cross_entropy(model(x), creation.tensor([3, 7]))
        params = {**dict(model.named_parameters()), "input": x}
    elif model_name == "resnet-block":  # a stride-2 residual block: the main path and a 1x1 shortcut meet at one add
        model = BasicBlock(4, 8, stride=2)
        x = creation.randn(2, 4, 8, 8, requires_grad=True)
        out = model(x).sum()
        params = {**dict(model.named_parameters()), "input": x}
    else:  # the lecture's conv: one 3x3 filter over a 5x5 image
        model = nn.Conv2d(1, 1, 3)
        x = creation.randn(1, 1, 5, 5, requires_grad=True)
        out = model(x).sum()
        params = {**dict(model.named_parameters()), "input": x}
    if backward:
        out.backward(create_graph=True)
        return x.grad, model, params
    return out, model, params


def graph_command(args):
    """``python -m tinygrad_cnn graph``: draw LeNet-5 or the conv demo, forward or backward."""
    fmt = args.format or (os.path.splitext(args.out)[1].lstrip(".") if args.out else "svg") or "svg"
    out_path = args.out or f"{args.model}{'_backward' if args.backward else ''}.{fmt}"
    if os.path.splitext(out_path)[1].lstrip(".") != fmt:
        out_path = os.path.splitext(out_path)[0] + "." + fmt
    output, model, params = example_graph(args.model, args.backward)
    graph = draw_graph(output, params=params, model=model, group_composites="collapse" if args.collapse else True,
                       direction=args.direction)
    written = save(graph, out_path)
    what = "backward pass (the graph of the input's gradient)" if args.backward else "forward pass"
    print(f"wrote {written}: the {what} of {args.model}")
    return 0
