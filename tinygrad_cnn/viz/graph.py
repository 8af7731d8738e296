"""Draw computation graphs with graphviz: primitives as boxes, tensors as ellipses, and every
composite op and module call as a labelled cluster around the primitives it made.

Colours follow DeZero: tensors orange, ops light blue; parameters gold, the output green.
Where paths of the graph meet outside any composite op (a residual add, a concatenation of
branches), the op is pink and the paths arrive on bold pink edges.
"""
import html
import os
import shutil
from dataclasses import replace

import graphviz

from .. import backend
from ..atomic import atomic_write
from .description import describe, number_text, size_text, summary_text, value_matrix

TENSOR, PARAMETER, OUTPUT, OP, MERGE, CONSTANT = "#FFB366", "#FFE08A", "#9BD69B", "#BFE3F2", "#F6B8D1", "#F2F2F2"
UPSTREAM = "#F4CCCC"  # the gradient a backward pass starts from
KIND_COLOURS = {"elementwise": "#BFE3F2", "reduce": "#D9C2F0", "movement": "#E3E3E3", "matmul": "#F7B7A3",
                "window": "#B8E6B8"}
INSTALL_DOT = ("graphviz's `dot` program is not installed, so only the DOT source was written; install it "
               "(apt-get install graphviz, brew install graphviz or conda install graphviz) to get SVG or PNG")


def draw_graph(output, params=None, show_shapes=True, show_grads=False, group_composites=True, direction="TB",
               model=None, color_by_kind=False, show_values=True, focus=None, max_depth=None, preset=None,
               max_values=81):
    """A ``graphviz.Digraph`` of the graph that computed ``output``.

    ``params``: a dict name -> tensor (``dict(model.named_parameters())``) to label leaves;
    ``model``: also names module clusters (``Conv2d conv1``) and its parameters;
    ``group_composites``: True draws composites and module calls as nested clusters,
    "collapse" draws each composite op as one node, False draws flat primitives;
    ``show_values``: the values of the inputs, parameters, the output and every result small enough to
    have been kept (up to ``max_values`` of them, as a matrix of aligned numbers: a 9x9 windows matrix
    shows all 81; a larger tensor shows its norm, min and max);
    ``show_grads``: the same for the gradients of the leaves and of tensors that retained theirs;
    ``color_by_kind``: colour primitives by kind (elementwise, reduce, movement, matmul, window),
    with a legend;
    ``focus``: draw only one part, a module (by its name in ``model``, e.g. "conv1") or a composite
    op (e.g. "batch_norm"), with what flows in and out as small stubs;
    ``max_depth``: draw clusters only this many levels deep (deeper ones are merged into their parent);
    ``preset="slide"``: one 16:9 slide, 1920x1080 pixels at type that stays readable (``slides.slide``:
    composites collapsed, summarised as far as needed to fit, never shrunk; ``slides.slides`` splits
    a graph too large for one).

    What is drawn is decided by ``description.describe``; this function renders it with graphviz.

    ``output`` may also be a compiled function or module (``tg.compile``): then the drawing is of the
    program it replays (``program.describe_program``), each operation with its buffer, grouped by module
    call and by the runs of operations the in-place pass computes in one buffer;
    ``group_composites="collapse"`` draws one node per group.
    """
    from ..compile import CompiledFunction, OptimizedModule
    if isinstance(output, OptimizedModule):
        output, model = output.compiled, output._orig_mod if model is None else model
    if isinstance(output, CompiledFunction):
        from .program import describe_program
        return to_graphviz(describe_program(output, model=model, collapse=group_composites == "collapse"))
    if preset not in (None, "slide"):
        raise ValueError(f"draw_graph: preset must be None or 'slide', got {preset!r}")
    if preset == "slide":
        from .slides import slide
        return slide(output, params=params, show_shapes=show_shapes, show_grads=show_grads, model=model,
                     show_values=show_values, focus=focus, max_depth=max_depth, max_values=max_values,
                     group_composites="collapse" if group_composites is True else group_composites)
    options = dict(params=params, group_composites=group_composites, model=model, show_values=show_values,
                   focus=focus, max_depth=max_depth, max_values=max_values)
    description = describe(output, show_shapes=show_shapes, show_grads=show_grads, direction=direction, **options)
    drawing = to_graphviz(description, color_by_kind, Drawing)
    drawing.output, drawing.options = output, options
    return drawing


class Drawing(graphviz.Digraph):
    """What ``draw_graph`` returns: a ``graphviz.Digraph`` that also remembers the graph it draws, so that it
    can become the interactive page (``page.save_html``), which is how a notebook shows it."""

    output = None  # the tensor drawn
    options = None  # draw_graph's options that the page shares

    def static_svg(self):
        """The drawing as SVG text, or None where graphviz's dot is not installed."""
        return self.pipe(format="svg", encoding="utf-8") if dot_available() else None

    def _repr_html_(self):
        """The interactive page, inline (over the static SVG, which stays where scripts are off)."""
        from .page import notebook_html
        return notebook_html(self, self.static_svg())

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        """In Jupyter: the interactive page, and the static SVG for viewers that show no HTML (dot runs once)."""
        from .page import notebook_html
        svg = self.static_svg()
        bundle = {"text/html": notebook_html(self, svg)}
        if svg is not None:
            bundle["image/svg+xml"] = svg
        return bundle


def to_graphviz(description, color_by_kind=False, cls=graphviz.Digraph):
    """Render a Description as a ``graphviz.Digraph`` (or the subclass ``cls``)."""
    font = description.font
    graph = cls("graph", graph_attr={
        "rankdir": description.direction, "nodesep": "0.2", "ranksep": "0.25", "fontname": "Helvetica",
        "fontsize": str(font + 1), "compound": "true", "newrank": "true"},
        node_attr={"fontname": "Helvetica", "fontsize": str(font), "height": "0.3", "margin": "0.08,0.03"},
        edge_attr={"arrowsize": "0.6", "color": "#555555"})
    free = [n for n in description.nodes if n.role in ("input", "output")]  # outside every cluster
    placed = [n for n in description.nodes if n.role not in ("input", "output", "stub_in", "stub_out")]
    for node in free:
        graph.node(node.id, **_attributes(node, description, color_by_kind))
    _emit_clusters(graph, placed, description, color_by_kind)
    if color_by_kind:
        _legend(graph, description.kinds)
    if description.legend == "roles":
        _style_legend(graph, {node.role for node in description.nodes})
    stubs = {n.id: n for n in description.nodes if n.role in ("stub_in", "stub_out")}
    for edge in description.edges:
        for end in (edge.source, edge.target):
            if end in stubs:
                graph.node(end, **_attributes(stubs.pop(end), description, color_by_kind))
        text = edge.operand or edge.carries
        extra = {"label": text, "fontsize": str(description.small_font), "fontcolor": "#555555"} if text else {}
        graph.edge(edge.source, edge.target, **EDGE_STYLES[edge.style], **extra)
    return graph


EDGE_STYLES = {"data": {}, "merge": {"color": "#C2185B", "penwidth": "1.8"},
               "constant": {"style": "dashed", "color": "#999999"}}


def _attributes(node, description, color_by_kind):
    """The graphviz attributes (label first) of one node."""
    show_shapes = description.show_shapes
    small = description.small_font
    dtype = f" {node.dtype}" if description.show_dtypes and node.dtype is not None else ""
    if node.role not in ("constant", "mask", "stub_in", "stub_out"):  # text that goes into HTML-like labels
        node = replace(node, name=html.escape(node.name, quote=False),
                       note=None if node.note is None else html.escape(node.note, quote=False))
    shown = node.values is not None or node.grad is not None
    if node.role == "primitive":
        name = node.name
        if node.inline:  # small constants (an eps, a scale) belong in the op's label
            name += " " + " ".join(_number(a) for a in node.inline)
        shape = node.note or size_text(node.shape) + (f" ({node.axes})" if node.axes else "")
        if show_shapes and shown:
            label = _table_label(f"<b>{name}</b>", f"{shape}{dtype}", node, description)
        elif show_shapes:
            label = f"<<b>{name}</b><br/><font point-size='{small}'>{shape}{dtype}</font>>"
        else:
            label = name
        colour = KIND_COLOURS[node.kind] if color_by_kind else OP
        return {"label": label, "shape": "box", "style": "rounded,filled", "fillcolor": colour}
    if node.role == "merge":
        detail = f"{size_text(node.shape)}{dtype}<br/>" if show_shapes else ""
        label = f"<<b>{node.name}</b><br/><font point-size='{small}'>{detail}{node.note}</font>>"
        return {"label": label, "shape": "box", "style": "rounded,filled,bold", "fillcolor": MERGE}
    if node.role in ("constant", "mask"):
        shape = size_text(node.shape) + (f", {node.note}" if node.note else "")
        if shown:
            return {"label": _table_label(node.name, html.escape(shape, quote=False), node, description),
                    "shape": "box", "style": "rounded,dashed,filled", "fillcolor": CONSTANT, "fontsize": str(small)}
        return {"label": f"{node.name}\n{shape}", "shape": "ellipse", "style": "dashed,filled",
                "fillcolor": CONSTANT, "fontsize": str(small)}
    if node.role == "upstream":
        title = f"<b>{node.name}</b> <font point-size='{small}'>{node.note}</font>"
        if shown:
            label = _table_label(title, size_text(node.shape), node, description)
        else:
            label = f"<{title}<br/><font point-size='{small}'>{size_text(node.shape)}</font>>"
        return {"label": label, "shape": "box", "style": "rounded,dashed,filled", "fillcolor": UPSTREAM}
    if node.role == "composite":
        label = node.name if not show_shapes else \
            f"<<b>{node.name}</b><br/><font point-size='{small}'>{node.note}</font>>"
        return {"label": label, "shape": "box", "style": "rounded,filled,bold", "fillcolor": OP}
    if node.role in ("stub_in", "stub_out"):
        label = node.name + (f"\n{size_text(node.shape)}" if node.shape is not None else "")
        return {"label": label, "shape": "note", "style": "dashed", "fontsize": str(small)}
    colour = {"output": OUTPUT, "parameter": PARAMETER}.get(node.role, TENSOR)  # a leaf or the output
    style = "filled,bold" if node.role == "output" else "filled"
    shape = size_text(node.shape)
    if node.role == "parameter" and len(node.shape) == 2:
        shape += " (out x in)"  # PyTorch's order, which tg.summary's table turns round as the lecture does
    if shown:
        label = _table_label(f"<b>{node.name}</b>", shape if show_shapes else "", node, description)
        return {"label": label, "shape": "box", "style": "rounded," + style, "fillcolor": colour}
    label = node.name + (f"\n{shape}" if show_shapes else "")
    return {"label": label, "shape": "ellipse", "style": style, "fillcolor": colour}


def _table_label(title, shape, node, description):
    """An HTML-like label: the title, the shape line, then the values (and the gradient) as aligned numbers."""
    small = description.small_font
    rows = [f"<tr><td>{title}</td></tr>"]
    if shape:
        rows.append(f"<tr><td><font point-size='{small}'>{shape}</font></td></tr>")
    for caption, array in (("", node.values), ("grad", node.grad)):
        if array is None:
            continue
        if caption:
            rows.append(f"<tr><td><font point-size='{small}'>{caption}</font></td></tr>")
        rows.append(f"<tr><td>{_values_html(array, description)}</td></tr>")
    return f"<<table border='0' cellborder='0' cellspacing='0' cellpadding='1'>{''.join(rows)}</table>>"


def _number(array):
    """One value, compactly: 4, -0.5, 1e-05."""
    value = float(backend.to_numpy(array).reshape(-1)[0])
    return f"{value:.4g}"


def _values_html(array, description):
    """The values as a table of right-aligned monospace numbers, laid out by ``value_matrix`` (more than
    ``max_values`` of them: the norm, min and max)."""
    small, numbers = description.small_font, description.number_font
    values = backend.to_numpy(array)
    if values.size == 1:
        return f"<font face='monospace' point-size='{numbers}'>{float(values.reshape(-1)[0]):.4g}</font>"
    laid_out = value_matrix(values, description.max_values)
    if laid_out is None:
        return f"<font point-size='{small}'>{summary_text(values)}</font>"
    matrix, whole = laid_out

    def cell(i, v):
        if i >= values.size:
            return "<td></td>"  # the end of a wrapped vector's last row
        return f"<td align='right'>&nbsp;{number_text(v, whole)}</td>"  # at least a space apart

    width = matrix.shape[1]
    rows = "".join("<tr>" + "".join(cell(r * width + c, v) for c, v in enumerate(row)) + "</tr>"
                   for r, row in enumerate(matrix))
    return (f"<font face='monospace' point-size='{numbers}'><table border='0' cellborder='0' cellspacing='0' "
            f"cellpadding='1'>{rows}</table></font>")


def _legend(graph, kinds):
    """A small box naming the colour of each kind of primitive in the drawing."""
    rows = "".join(f"<tr><td bgcolor='{KIND_COLOURS[k]}'>{k}</td></tr>" for k in KIND_COLOURS if k in kinds)
    graph.node("legend", f"<<table border='0' cellborder='1' cellspacing='0' cellpadding='3'>"
                         f"<tr><td><b>primitives</b></td></tr>{rows}</table>>", shape="plaintext")


def _style_legend(graph, roles):
    """A row under the drawing saying what each kind of node in it is (for slides): only the kinds present.
    As the graph's own label it takes no column or rank of the layout."""
    rows = [("input", TENSOR, "input"), ("parameter", PARAMETER, "parameter"),
            ("composite", OP, "<b>composite op</b> (conv2d, ...)"), ("primitive", OP, "primitive"),
            ("upstream", UPSTREAM, "upstream gradient dY"), ("constant", CONSTANT, "no gradient needed"),
            ("mask", CONSTANT, "mask (no gradient)"), ("merge", MERGE, "paths meet"), ("output", OUTPUT, "output")]
    cells = "".join(f"<td bgcolor='{colour}'>{text}</td>" for role, colour, text in rows if role in roles)
    graph.attr(label=f"<<table border='0' cellborder='1' cellspacing='0' cellpadding='4'><tr>{cells}</tr></table>>",
               labelloc="b", labeljust="c")


def _emit_clusters(graph, nodes, description, color_by_kind):
    """Write nodes into nested ``subgraph cluster_...`` blocks, one per module call or composite."""
    tree = {}
    for node in nodes:
        branch = tree
        for cluster_id in node.cluster:
            branch = branch.setdefault(cluster_id, {})
        branch.setdefault(None, []).append(node)

    def emit(target, branch):
        for node in branch.get(None, []):
            target.node(node.id, **_attributes(node, description, color_by_kind))
        for cluster_id, sub in branch.items():
            if cluster_id is None:
                continue
            cluster = description.clusters[cluster_id]
            with target.subgraph(name=cluster_id) as box:
                box.attr(label=cluster.title, labeljust="l", labelloc=description.cluster_titles,
                         fontsize=str(description.font),
                         style="rounded" if cluster.is_module else "rounded,dashed",
                         color="#7A7A7A" if cluster.is_module else "#4A90C2",
                         bgcolor="#FAFAFA" if cluster.is_module else "#F0F7FC")
                emit(box, sub)

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


# the lecture's worked example: the 5x5 image, the 3x3 filter, and an upstream gradient for the 3x3 output
LECTURE_IMAGE = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
LECTURE_FILTER = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
LECTURE_UPSTREAM = [[1, 0, -1], [2, 1, 0], [0, -1, 1]]


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
            model.weight.copy_(creation.tensor(LECTURE_FILTER, dtype=float32).reshape(1, 1, 3, 3))
        x = creation.tensor(LECTURE_IMAGE, dtype=float32).reshape(1, 1, 5, 5).requires_grad_()
        upstream = creation.tensor(LECTURE_UPSTREAM, dtype=float32).reshape(1, 1, 3, 3)
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
    what = "backward pass (the graph of the input's gradient)" if args.backward else "forward pass"
    if args.html:  # the interactive page (with the conv demo: its animation too)
        from .animation import conv_frames
        from .page import save_html
        frames = conv_frames() if args.model == "conv-demo" and not args.backward else None
        written = save_html(output, args.html, animation=frames, params=params, model=model,
                            group_composites="collapse" if args.collapse else True, focus=args.focus,
                            max_depth=args.depth)
        print(f"wrote {written}: the {what} of {args.model}, as a page to open in a browser")
        if not args.out:
            return 0
    if args.slide:  # as many 16:9 slides as the graph needs: out.png, or out_1.png, out_2.png, ...
        from .slides import slides
        parts = slides(output, params=params, model=model, focus=args.focus, max_depth=args.depth)
        stem, suffix = os.path.splitext(out_path)
        for i, (title, graph) in enumerate(parts, 1):
            written = save(graph, out_path if len(parts) == 1 else f"{stem}_{i}{suffix}")
            print(f"wrote {written}: the {what} of {args.model}" + (f" ({title})" if len(parts) > 1 else ""))
        return 0
    graph = draw_graph(output, params=params, model=model, group_composites="collapse" if args.collapse else True,
                       direction=args.direction, focus=args.focus, max_depth=args.depth)
    written = save(graph, out_path)
    print(f"wrote {written}: the {what} of {args.model}")
    return 0
