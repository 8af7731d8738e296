"""The interactive page of a drawn graph: one self-contained HTML file that opens offline in any browser.

Pan and zoom; hover a node for its name, module path, shape, dtype, values and gradient; click a module
or composite to collapse or expand it in place; find a module by name; and a player that steps through
the backward pass in the order autograd runs it (``steps.trace_backward``), lighting the primitive, the
gradient it receives, the saved arrays it reads and the gradients it sends on, with their numbers.

The page is a second renderer of the same ``Description`` the graphviz drawing comes from (described
with every primitive, so that any cluster can be expanded; the drawing's grouping is where it starts).
Its script (``assets/page.js``) is hand-written, with no library: it lays the graph out itself, layer by
layer inside each cluster, so that expanding or collapsing lays it out again at once, with nothing to
download and nothing to vendor.
"""
import html
import json
import os
from importlib import resources

from ..atomic import atomic_write
from ..tensor import Tensor
from .description import describe, number_text, size_text, summary_text, value_matrix
from .graph import CONSTANT, MERGE, OP, OUTPUT, PARAMETER, TENSOR, UPSTREAM, Drawing
from .steps import trace_backward

ROLE_COLOURS = {"input": TENSOR, "parameter": PARAMETER, "output": OUTPUT, "primitive": OP, "merge": MERGE,
                "composite": OP, "constant": CONSTANT, "mask": CONSTANT, "upstream": UPSTREAM,
                "stub_in": "#FFFFFF", "stub_out": "#FFFFFF"}
START_COLLAPSED = 40  # a larger graph's page starts with its composites collapsed (LeNet-5's has 60 nodes)


def values_json(array, limit):
    """An array as the page shows it: its shape and dtype, and its values laid out as the drawing lays them
    out (strings, None past the end of a wrapped vector), or a summary where there are more than ``limit``."""
    if array is None:
        return None
    shown = {"shape": size_text(tuple(array.shape)), "dtype": str(array.dtype)}
    laid_out = value_matrix(array, limit)
    if laid_out is None:
        shown["summary"] = summary_text(array)
        return shown
    matrix, whole = laid_out
    size, width = array.size, matrix.shape[1]
    shown["matrix"] = [[number_text(v, whole) if r * width + c < size else None for c, v in enumerate(row)]
                       for r, row in enumerate(matrix)]
    return shown


def _initial_collapse(description, group_composites):
    """The clusters the page starts collapsed, as the drawing grouped them: "collapse" each outermost
    composite op, "modules" each module call inside the model; otherwise none, unless the graph has more
    than ``START_COLLAPSED`` nodes (then as "collapse")."""
    if group_composites is True and len(description.nodes) > START_COLLAPSED:
        group_composites = "collapse"
    collapsed = []
    for node in description.nodes:
        chain = [description.clusters[c] for c in node.cluster]
        if group_composites == "collapse":
            unit = next((c for c in chain if not c.is_module), None)
        elif group_composites == "modules":
            modules = [c for c in chain if c.is_module]
            unit = modules[1] if len(modules) > 1 else next((c for c in chain if not c.is_module), None)
        else:
            unit = None
        if unit is not None and unit.id not in collapsed:
            collapsed.append(unit.id)
    return collapsed


def page_data(output, params=None, model=None, group_composites=True, show_values=True, max_values=81,
              focus=None, max_depth=None, title=None):
    """Everything the page shows, as JSON-ready data: the nodes, clusters and edges of ``output``'s graph
    (every primitive), the clusters to start collapsed, and the steps of its backward pass."""
    full = describe(output, params=params, model=model, group_composites=bool(group_composites),
                    show_values=show_values, max_values=max_values, focus=focus, max_depth=max_depth)
    names = {node.id: node.name for node in full.nodes}
    try:
        steps = trace_backward(output, names)
        freed = None
    except RuntimeError as error:  # backward() already freed the saved arrays
        steps, freed = [], str(error).split(". ")[0]
    drawn = set(names)
    steps = [step for step in steps if step.node in drawn]
    grads = {}
    for step in steps:  # what each node's gradient is: what its step received (a leaf's: the sum)
        grads[step.node] = step.grad
    parents = {}
    for node in full.nodes:
        for outer, inner in zip(node.cluster, node.cluster[1:]):
            parents[inner] = outer
        if node.cluster:
            parents.setdefault(node.cluster[0], None)
    nodes = []
    for node in full.nodes:
        path = [full.clusters[c].title for c in node.cluster]
        grad = grads.get(node.id, node.grad)
        nodes.append({"id": node.id, "role": node.role, "name": node.name, "kind": node.kind,
                      "shape": None if node.shape is None else size_text(node.shape) +
                      (f" ({node.axes})" if node.axes else ""),
                      "dtype": None if node.dtype is None else str(node.dtype), "note": node.note,
                      "inline": [number_text(float(a.reshape(-1)[0]), False) for a in node.inline],
                      "cluster": list(node.cluster), "path": " › ".join(path),
                      "values": values_json(node.values, max_values),
                      "grad": values_json(grad, max_values)})
    clusters = [{"id": c.id, "title": c.title, "module": c.is_module, "parent": parents.get(c.id)}
                for c in full.clusters.values()]
    edges = [{"source": e.source, "target": e.target, "style": e.style, "label": e.operand or e.carries}
             for e in full.edges]
    what = next((node.name for node in full.nodes if node.role == "output"), "output")
    title = title or f"{type(model).__name__ if model is not None else 'A graph'}: {what}"
    return {"title": title, "nodes": nodes, "clusters": clusters, "edges": edges,
            "collapsed": _initial_collapse(full, group_composites), "colours": ROLE_COLOURS, "freed": freed,
            "steps": [{"node": s.node, "title": s.title, "formula": s.formula,
                       "grad": values_json(s.grad, max_values),
                       "reads": [{"node": n, "what": what, "values": values_json(a, max_values)}
                                 for n, what, a in s.reads],
                       "sends": [{"node": n, "what": what, "grad": values_json(a, max_values)}
                                 for n, what, a in s.sends]}
                      for s in steps]}


def _asset(name):
    return resources.files("tinygrad_cnn.viz").joinpath("assets", name).read_text(encoding="utf-8")


def _script_json(data):
    """JSON that can sit inside a <script> element (no '</' to end it early)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def page_html(output, animation=None, **options):
    """The whole page, as one HTML string (``draw_graph``'s options; ``animation``: frames from
    ``animation.conv_frames`` to show beside the graph)."""
    data = page_data(output, **options)
    if animation is not None:
        data["frames"] = [{"title": f.title, "caption": f.caption, "svg": f.svg} for f in animation]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(data['title'])}</title><style>{_asset('page.css')}</style></head>\n"
            f"<body>{_asset('page.html')}\n"
            f"<script id='graph-data' type='application/json'>{_script_json(data)}</script>\n"
            f"<script>{_asset('page.js')}</script></body></html>\n")


def save_html(what, path, animation=None, **options):
    """Write the interactive page of ``what`` (``draw_graph``'s result, or a tensor with ``draw_graph``'s
    options) to ``path``: one file, nothing to download. Returns the path."""
    if isinstance(what, Drawing):
        output, options = what.output, {**what.options, **options}
    elif isinstance(what, Tensor):
        output = what
    else:
        raise TypeError(f"save_html: expected draw_graph's result or a Tensor, got {type(what).__name__}")
    text = page_html(output, animation=animation, **options)
    with atomic_write(path, suffix=".html") as f:
        f.write(text.encode("utf-8"))
    return os.fspath(path)


def notebook_html(drawing, svg):
    """What a notebook shows for a drawing: its static ``svg`` (None without dot), which a script replaces by
    the interactive page (in an iframe, so that pages do not share styles or scripts); where scripts are
    off, the SVG stays."""
    page = page_html(drawing.output, **drawing.options)
    static = svg if svg is not None else "<pre>(graphviz's dot is not installed: no static drawing)</pre>"
    element = f"tgviz{id(drawing)}"
    return (f"<div id='{element}'>{static}</div><script>(function () {{ var box = document.getElementById("
            f"'{element}'); var frame = document.createElement('iframe'); frame.srcdoc = {_script_json(page)}; "
            "frame.style.width = '100%'; frame.style.height = '640px'; frame.style.border = '1px solid #ddd'; "
            "box.replaceChildren(frame); })();</script>")

