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
from ..autograd import Function, scope_chain
from ..tensor import Tensor

TENSOR, PARAMETER, OUTPUT, OP, MERGE, CONSTANT = "#FFB366", "#FFE08A", "#9BD69B", "#BFE3F2", "#F6B8D1", "#F2F2F2"
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


def _module_and_param_names(params, model):
    module_names, param_names = {}, {}
    if model is not None:
        module_names = {id(m): name for name, m in model.named_modules() if name}
        params = params if params is not None else dict(model.named_parameters())
    for name, p in (params or {}).items():
        param_names[id(p)] = name
    return module_names, param_names


def draw_graph(output, params=None, show_shapes=True, show_grads=False, group_composites=True, direction="TB",
               model=None, color_by_kind=False, show_values=True, focus=None, max_depth=None, preset=None):
    """A ``graphviz.Digraph`` of the graph that computed ``output``.

    ``params``: a dict name -> tensor (``dict(model.named_parameters())``) to label leaves;
    ``model``: also names module clusters (``Conv2d conv1``) and its parameters;
    ``group_composites``: True draws composites and module calls as nested clusters,
    "collapse" draws each composite op as one node, False draws flat primitives;
    ``show_values``: the values of the inputs, parameters and output in their nodes (up to 25 of
    them; a larger tensor shows its norm, min and max);
    ``show_grads``: the same for the leaves' gradients (after backward);
    ``color_by_kind``: colour primitives by kind (elementwise, reduce, movement, matmul, window),
    with a legend;
    ``focus``: draw only one part, a module (by its name in ``model``, e.g. "conv1") or a composite
    op (e.g. "batch_norm"), with what flows in and out as small stubs;
    ``max_depth``: draw clusters only this many levels deep (deeper ones are merged into their parent);
    ``preset="slide"``: for a slide: composites collapsed, left to right where a row fits (else top to
    bottom), a legend of the kinds of node, larger type, no values.
    """
    import graphviz

    if not isinstance(output, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(output).__name__}")
    if preset not in (None, "slide"):
        raise ValueError(f"draw_graph: preset must be None or 'slide', got {preset!r}")
    if preset == "slide":
        group_composites, show_values = "collapse", False
    if direction not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw_graph: direction must be TB or LR, got {direction!r}")
    module_names, param_names = _module_and_param_names(params, model)
    functions, leaves = _walk(output)
    everything = functions
    if focus is not None:
        functions = [fn for fn in functions if _in_focus(fn, focus, module_names)]
        if not functions:
            names = sorted({s.name for fn in everything for s in scope_chain(fn.scope)} |
                           set(module_names.values()))
            raise ValueError(f"draw_graph: nothing in the graph belongs to {focus!r}; modules and composites: "
                             f"{', '.join(names)}")
        read = {id(p) for fn in functions for p in fn.parents if isinstance(p, Tensor)}
        leaves = [leaf for leaf in leaves if id(leaf) in read]
    kept = {id(fn) for fn in functions}
    if preset == "slide":  # left to right where a row of nodes fits a slide's width, else top to bottom
        drawn = {id(fn.scope) if fn.scope is not None and fn.scope.kind == "function" else id(fn) for fn in functions}
        direction = "LR" if len(drawn) <= 10 else "TB"
    big = len(functions) + len(leaves) > 80
    font = 14 if preset == "slide" else (9 if big else 10)
    graph = graphviz.Digraph("graph", graph_attr={
        "rankdir": direction, "nodesep": "0.2", "ranksep": "0.25", "fontname": "Helvetica",
        "fontsize": str(font + 1), "compound": "true", "newrank": "true"},
        node_attr={"fontname": "Helvetica", "fontsize": str(font), "height": "0.3", "margin": "0.08,0.03"},
        edge_attr={"arrowsize": "0.6", "color": "#555555"})

    collapse = group_composites == "collapse"
    representative = {}  # function id -> the node that stands for it
    members = {}  # outermost composite scope id -> (scope, the Functions inside it)
    for fn in functions:
        chain = [s for s in scope_chain(fn.scope) if s.kind == "function"]
        if collapse and chain:
            representative[id(fn)] = f"s{id(chain[0])}"
            members.setdefault(id(chain[0]), (chain[0], []))[1].append(fn)
        else:
            representative[id(fn)] = f"f{id(fn)}"

    nodes_by_cluster = {}  # tuple of scope ids (outermost first) -> list of (node id, attrs)
    scopes = {}

    def place(scope, node, attrs):
        chain = scope_chain(scope)
        if collapse and not node.startswith("f"):
            chain = [s for s in chain if s.kind == "module"]
        if not group_composites:
            chain = []
        if max_depth is not None:
            chain = chain[:max_depth]
        for s in chain:
            scopes[id(s)] = s
        nodes_by_cluster.setdefault(tuple(id(s) for s in chain), []).append((node, attrs))

    consumers = {}  # function id -> the Functions that read its output
    for fn in everything:
        for parent in fn.parents:
            if isinstance(parent, Function):
                consumers.setdefault(id(parent), []).append(fn)
    param_ids = {id(p) for name, p in (params or {}).items() if name != "input"}
    constant_edges = []
    merges = {id(fn) for fn in functions if _is_merge(fn, param_ids)}
    for fn in functions:
        node = representative[id(fn)]
        if node.startswith("f"):
            label = _primitive_name(fn)
            if show_shapes:
                values = ""
                if show_values and fn.value is not None:
                    values = "<br/>" + _values_text(fn.value).replace("\\l", "<br/>")
                label = f"<<b>{label}</b><br/><font point-size='8'>{_shape_text(fn)} {fn.dtype}{values}</font>>"
            colour = KIND_COLOURS[fn.kind] if color_by_kind else OP
            operands = _constant_operands(fn)
            inline = [f"{_values_text(a)}" for _, a in operands if a.size == 1]
            if inline:  # small constants (an eps, a scale) belong in the op's label
                label = label.replace("</b>", " " + " ".join(inline) + "</b>", 1) if show_shapes else \
                    f"{label} {' '.join(inline)}"
            attrs = {"label": label, "shape": "box", "style": "rounded,filled", "fillcolor": colour}
            if id(fn) in merges:
                attrs.update(style="rounded,filled,bold", fillcolor=MERGE, label=_merge_label(fn, show_shapes))
            place(fn.scope, node, attrs)
            for i, array in operands:  # the operands that need no gradient, drawn apart (dashed, grey)
                if array.size > 1:
                    kind = "mask" if array.dtype.kind == "b" else "constant"
                    text = f"{kind}\n{_size(array.shape)}" + (f"\n{_values_text(array)}" if show_values else "")
                    place(fn.scope, f"c{id(fn)}_{i}", {"label": text, "shape": "ellipse", "style": "dashed,filled",
                                                       "fillcolor": CONSTANT, "fontsize": "8"})
                    constant_edges.append((f"c{id(fn)}_{i}", node))
    for scope_id, (scope, inside) in members.items():
        label = _composite_label(scope, inside, module_names, param_names, consumers, output, show_shapes)
        place(scope.parent, f"s{scope_id}", {"label": label, "shape": "box", "style": "rounded,filled,bold",
                                              "fillcolor": OP})

    consumer_scope = {}  # leaf id -> the innermost module call that reads it
    for fn in functions:
        for parent in fn.parents:
            if isinstance(parent, Tensor) and id(parent) not in consumer_scope:
                modules = [s for s in scope_chain(fn.scope) if s.kind == "module"]
                consumer_scope[id(parent)] = modules[-1] if modules else None
    grad_of = {id(p.grad): name for name, p in (params or {}).items() if p.grad is not None}
    for leaf in leaves:
        name = param_names.get(id(leaf))
        label = name or "input"
        if show_shapes:
            label += f"\n{_size(leaf.shape)}"
        if show_values:
            label += "\n" + _values_text(leaf.array)
        if show_grads and leaf.grad is not None:
            label += "\ngrad " + _values_text(leaf.grad.array)
        is_param = name is not None and name != "input"
        attrs = {"label": label, "shape": "ellipse", "style": "filled", "fillcolor": PARAMETER if is_param else TENSOR}
        if is_param:  # drawn inside the module that owns it
            place(consumer_scope.get(id(leaf)), f"t{id(leaf)}", attrs)
        else:
            graph.node(f"t{id(leaf)}", **attrs)

    title = f"{grad_of[id(output)]}.grad" if id(output) in grad_of else ("loss" if output.numel() == 1 else "output")
    out_label = title + (f"\n{_size(output.shape)}" if show_shapes else "")
    if show_values:
        out_label += "\n" + _values_text(output.array)
    draws_output = focus is None or (output.creator is not None and id(output.creator) in kept)
    if draws_output:
        graph.node("output", out_label, shape="ellipse", style="filled,bold", fillcolor=OUTPUT)

    _emit_clusters(graph, nodes_by_cluster, scopes, module_names)
    if color_by_kind:
        _legend(graph, {fn.kind for fn in functions})
    if preset == "slide":
        _style_legend(graph)

    edges = set()
    for fn in functions:
        target = representative[id(fn)]
        for parent in fn.parents:
            if parent is None:
                continue
            if isinstance(parent, Function) and id(parent) not in kept:  # (focus) what flows in: a stub
                source = f"u{id(parent)}"
                graph.node(source, f"from {_stub_text(parent, module_names)}\n{_size(parent.shape)}", shape="note",
                           style="dashed", fontsize="8")
            else:
                source = f"t{id(parent)}" if isinstance(parent, Tensor) else representative[id(parent)]
            if source != target and (source, target) not in edges:
                edges.add((source, target))
                graph.edge(source, target, **({"color": "#C2185B", "penwidth": "1.8"} if id(fn) in merges else {}))
    for source, target in constant_edges:
        graph.edge(source, target, style="dashed", color="#999999")
    if focus is not None:  # what flows out of the part: stubs toward the Functions that read it
        for fn in functions:
            outside = [c for c in consumers.get(id(fn), ()) if id(c) not in kept]
            if outside and (representative[id(fn)], f"d{id(fn)}") not in edges:
                edges.add((representative[id(fn)], f"d{id(fn)}"))
                graph.node(f"d{id(fn)}", f"to {_stub_text(outside[0], module_names)}", shape="note",
                           style="dashed", fontsize="8")
                graph.edge(representative[id(fn)], f"d{id(fn)}")
    if draws_output and output.creator is not None:  # (a tensor computed from nothing that needs a
        graph.edge(representative[id(output.creator)], "output")  # gradient is drawn alone)
    return graph


def _composite_label(scope, inside, module_names, param_names, consumers, output, show_shapes):
    """The label of a collapsed composite: its name (a backward pass: what it is made of) and the shape
    of what leaves it."""
    label = scope_title(scope, module_names)
    if scope.name.endswith(" backward"):  # say what the backward pass is made of (col2im for im2col's)
        kinds = list(dict.fromkeys(_primitive_name(fn) for fn in reversed(inside)))
        label += ": " + ", ".join(kinds[:3]) + (", ..." if len(kinds) > 3 else "")
    if not show_shapes:
        return label
    # the shape of what leaves the composite: its Function read outside it (or the output)
    inside_ids = {id(fn) for fn in inside}
    leaving = [fn for fn in inside if fn is output.creator or any(
        id(c) not in inside_ids for c in consumers.get(id(fn), ()))]
    # the composite's own result is read only outside it (a weight matrix it made may be read by both)
    result = next((fn for fn in leaving if not any(id(c) in inside_ids for c in consumers.get(id(fn), ()))),
                  leaving[0] if leaving else inside[0])
    shape = _size(result.shape)
    leaves_read = [p for fn in inside for p in fn.parents if isinstance(p, Tensor)]
    if leaves_read and all(fn.kind == "movement" and all(
            isinstance(p, Tensor) or id(p) in inside_ids for p in fn.parents if p is not None)
            for fn in inside):  # only the part that reshapes a weight: say so (a backward graph reuses it)
        shape = f"{param_names.get(id(leaves_read[0]), 'its input')} as {shape}"
    elif not scope.name.endswith(" backward") and result is not output.creator and all(
            _is_backward(c) for c in consumers.get(id(result), ()) if id(c) not in inside_ids):
        shape += " (a part, read by the backward pass)"  # the composite's own output is not in the graph
    return f"<<b>{label}</b><br/><font point-size='8'>{shape}</font>>"


def _is_backward(fn):
    """Whether ``fn`` was recorded by a backward pass (run with create_graph)."""
    return fn.scope is not None and fn.scope.kind == "function" and fn.scope.name.endswith(" backward")


def _in_focus(fn, focus, module_names):
    """Whether ``fn`` was recorded inside the module named ``focus`` or a composite op named ``focus``."""
    for scope in scope_chain(fn.scope):
        if scope.name == focus or (scope.kind == "module" and module_names.get(id(scope.owner)) == focus):
            return True
    return False


def _stub_text(fn, module_names):
    """Where a Function outside the drawn part belongs: its innermost module or composite, else its name."""
    chain = scope_chain(fn.scope)
    return scope_title(chain[-1], module_names) if chain else type(fn).__name__.lower()


# im2col's layouts (window.py)
AXES = {"rows": "N,OH,OW,KH,KW,C", "kernel": "KH,KW,N,OH,OW,C", "columns": "KH,KW,C,OH,OW,N"}
MAX_VALUES = 25


def _primitive_name(fn):
    """'pow 2' for x ** 2 (the exponent, a constant, is part of the op); the class name otherwise."""
    name = type(fn).__name__.lower()
    exponent = getattr(fn, "exponent", None)
    return f"{name} {exponent:g}" if exponent is not None else name


def _constant_operands(fn):
    """(input index, array) of each operand that needs no gradient, and where's condition as a mask."""
    operands = [(i, a) for i, a in enumerate(fn.constants) if a is not None]
    condition = getattr(fn, "condition", None)
    if condition is not None and hasattr(condition, "shape") and condition.size > 1:
        operands.append(("mask", condition))
    return operands


def _shape_text(fn):
    """The output shape; im2col's and col2im's window arrays name their axes."""
    layout = getattr(fn, "layout", None)
    if layout is not None and len(fn.shape) == 6:
        return f"{_size(fn.shape)} ({AXES[layout]})"
    return _size(fn.shape)


def _values_text(array):
    """Up to 25 values as nested lists, else the norm, min and max (a picture must stay readable)."""
    np = backend.numpy_module()
    values = backend.to_numpy(array).astype("float64")
    if values.size == 1:
        return f"{values.item():.4g}"
    if values.size <= MAX_VALUES:
        values = values.reshape([n for n in values.shape if n != 1])  # size-1 axes only make it taller
        text = np.array2string(values, precision=3, separator=" ", suppress_small=True, max_line_width=48)
        return "\\l".join(line for line in text.splitlines() if line.strip())
    return f"|x|={np.sqrt((values ** 2).sum()):.3g} min {values.min():.3g} max {values.max():.3g}"


def _legend(graph, kinds):
    """A small box naming the colour of each kind of primitive in the drawing."""
    rows = "".join(f"<tr><td bgcolor='{KIND_COLOURS[k]}'>{k}</td></tr>" for k in KIND_COLOURS if k in kinds)
    graph.node("legend", f"<<table border='0' cellborder='1' cellspacing='0' cellpadding='3'>"
                         f"<tr><td><b>primitives</b></td></tr>{rows}</table>>", shape="plaintext")


def _style_legend(graph):
    """A small box saying what each kind of node is (for slides)."""
    rows = [(TENSOR, "input"), (PARAMETER, "parameter"), (OP, "<b>composite op</b> (conv2d, ...)"),
            (OP, "primitive"), (CONSTANT, "no gradient needed"), (MERGE, "paths meet"), (OUTPUT, "output")]
    cells = "".join(f"<tr><td bgcolor='{colour}'>{text}</td></tr>" for colour, text in rows)
    graph.node("legend", f"<<table border='0' cellborder='1' cellspacing='0' cellpadding='3'>{cells}</table>>",
               shape="plaintext")


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
    from ..autograd import no_grad
    from ..backend import float32
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
    else:  # the lecture's conv: its 3x3 filter over its 5x5 image, and an upstream gradient for the 3x3 output
        model = nn.Conv2d(1, 1, 3, bias=False)
        with no_grad():
            model.weight.copy_(creation.tensor([[1.0, 0, 1], [0, 1, 0], [1, 0, 1]]).reshape(1, 1, 3, 3))
        image = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
        x = creation.tensor(image, dtype=float32).reshape(1, 1, 5, 5).requires_grad_()
        upstream = creation.tensor([[1.0, 0, -1], [2, 1, 0], [0, -1, 1]]).reshape(1, 1, 3, 3)
        out = (model(x) * upstream).sum()  # so that d(out)/d(conv) is the upstream gradient
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
                       direction=args.direction, focus=args.focus, max_depth=args.depth,
                       preset="slide" if args.slide else None)
    written = save(graph, out_path)
    what = "backward pass (the graph of the input's gradient)" if args.backward else "forward pass"
    print(f"wrote {written}: the {what} of {args.model}")
    return 0
