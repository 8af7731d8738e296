"""Drawings for 16:9 slides: 1920x1080 pixels, names at 21 px and numbers at 15 px, never shrunk.

A graph is laid out at the slide's type sizes, measured with graphviz, and kept only if it fits the
slide at that scale with no edge through a cluster's title; it is then centered on the 1920x1080
canvas (graphviz's viewport), enlarged where it is small. A graph that does not fit is *summarised*,
step by step (top to bottom instead of left to right; fewer nested clusters; each module call as one
node; no parameter nodes; and last, shapes without their numbers), and one that still does not fit
is *split*: ``slides`` puts as many consecutive top-level modules of the model on each slide as fit,
with stubs where they meet the rest.
"""
import re

from ..autograd import Function, scope_chain
from .description import describe, walk
from .graph import dot_available, to_graphviz

WIDTH, HEIGHT, DPI = 1920, 1080, 96
INCHES = (WIDTH / DPI, HEIGHT / DPI)  # 20 x 11.25
NAME_POINTS, SMALL_POINTS, NUMBER_POINTS = 16, 12, 11  # 21, 16 and 15 px at 96 dpi
MAX_ZOOM = 1.5  # a small drawing is enlarged this much at most
MARGIN = 0.25  # inches left free around the drawing (graphviz pads it a little beyond its plain size)


class DoesNotFit(ValueError):
    """A part of the graph is too large for one slide even summarised (or a model to split it by is missing)."""


def natural_size(graph):
    """The layout's size in inches at scale 1 (graphviz's plain output), or None without ``dot``."""
    if not dot_available():
        return None
    first = graph.pipe(format="plain").decode("utf-8").splitlines()[0]
    width, height = first.split()[2:4]  # "graph <scale> <width> <height>"
    return float(width), float(height)


def _ladder(kwargs):
    """Ever more summarised versions of the drawing's arguments, most detailed first: left to right, then
    top to bottom; fewer levels of nested clusters; composites as nodes, then whole module calls, then
    without the parameters' nodes; and only where nothing else fits, shapes without their numbers."""
    values = kwargs.pop("show_values", True)
    grouping = kwargs.pop("group_composites", "collapse")
    depths = [kwargs.pop("max_depth", None)]
    depths += [d for d in (2, 1) if depths[0] is None or d < depths[0]]
    groupings = [(grouping, True)] + ([("modules", True), ("modules", False)] if grouping == "collapse" else [])
    for show_values in ([True, False] if values else [False]):
        for group, show_params in groupings:
            for depth in depths:
                for direction in ("LR", "TB"):
                    yield dict(kwargs, group_composites=group, show_values=show_values, show_params=show_params,
                               max_depth=depth, direction=direction)


def slide(output, **kwargs):
    """One 16:9 slide (a ``graphviz.Digraph``) of the graph that computed ``output``, summarised as far as
    needed to fit at full type size with no edge through a cluster's title (cluster titles are tried at
    the top, then at the bottom); raises DoesNotFit where no summary fits. ``kwargs`` are
    ``draw_graph``'s (params, model, group_composites, focus, show_grads, max_values, ...)."""
    tried, crossed = [], None
    for attempt in _ladder(dict(kwargs)):
        for titles in ("t", "b"):
            description = describe(output, legend="roles", **attempt)
            description.font, description.small_font, description.number_font = \
                NAME_POINTS, SMALL_POINTS, NUMBER_POINTS
            description.show_dtypes = False  # (float32 throughout: the room goes to the numbers)
            description.cluster_titles = titles
            graph = to_graphviz(description)
            size = natural_size(graph)
            if size is None:  # no dot to measure with: the most detailed version, unchecked
                return _on_canvas(graph, None)
            if size[0] > INCHES[0] - MARGIN or size[1] > INCHES[1] - MARGIN:
                tried.append(size)
                break  # too large: moving the titles will not help
            graph = _on_canvas(graph, size)
            if not title_crossings(graph.pipe(format="svg").decode("utf-8")):
                return graph
            crossed = crossed or graph
    if crossed is not None:  # every version that fits has an edge through a title: the most detailed one
        return crossed
    sizes = ", ".join(f"{w:.1f}x{h:.1f}" for w, h in tried[-2:])
    raise DoesNotFit(f"slide: the graph is {sizes} inches even summarised, more than a {INCHES[0]:g}x{INCHES[1]:g} "
                     f"inch slide; draw it with slides(...), which splits it by module, or focus on a part")


def title_crossings(svg):
    """(cluster title, edge) pairs where the edge's path passes through the title's text in an SVG
    (the text's box estimated from its position, size and length; the path sampled between its points)."""
    found = []
    titles = re.findall(r'<g id="clust\d+" class="cluster">(?:(?!</g>).)*?<text text-anchor="(start|middle)" '
                        r'x="([\d.-]+)" y="([\d.-]+)"[^>]*font-size="([\d.]+)">([^<]*)</text>', svg, re.S)
    edges = re.findall(r'<g id="edge\d+" class="edge">\s*<title>([^<]*)</title>\s*<path [^>]*d="([^"]+)"', svg)
    for anchor, x, y, size, text in titles:
        x, y, size = float(x), float(y), float(size)
        width = 0.6 * size * len(text)
        left = x if anchor == "start" else x - width / 2
        box = (left, y - size, left + width, y + 0.2 * size)
        for name, path in edges:
            numbers = [float(v) for v in re.findall(r"-?[\d.]+", path)]
            points = list(zip(numbers[0::2], numbers[1::2]))
            samples = ((x0 + (x1 - x0) * t / 20, y0 + (y1 - y0) * t / 20)
                       for (x0, y0), (x1, y1) in zip(points, points[1:]) for t in range(21))
            if any(box[0] <= px <= box[2] and box[1] <= py <= box[3] for px, py in samples):
                found.append((text, name))
    return found


def _on_canvas(graph, size):
    """Center the drawing on a 1920x1080 canvas (graphviz's viewport), enlarged up to MAX_ZOOM where it is
    smaller than the slide: the type never shrinks."""
    zoom = 1.0 if size is None else min((INCHES[0] - MARGIN) / size[0], (INCHES[1] - MARGIN) / size[1], MAX_ZOOM)
    graph.graph_attr.update(dpi=str(DPI), viewport=f"{INCHES[0] * 72:g},{INCHES[1] * 72:g},{zoom:.4f}")
    return graph


def slides(output, model=None, **kwargs):
    """The graph on as many 16:9 slides as it needs: one if it fits (summarised as ``slide`` does), else
    the top-level modules of ``model`` in order, as many consecutive ones on each slide as fit (each
    slide focused on them, with stubs where they meet the rest; what lies outside the model, such as
    the loss, is left out). Returns a list of (title, graphviz.Digraph)."""
    try:
        return [("the whole graph", slide(output, model=model, **kwargs))]
    except DoesNotFit:
        if model is None or kwargs.pop("focus", None) is not None:
            raise
    present = _modules_in(output)
    names = [name for name, module in model.named_children() if id(module) in present]
    parts, group = [], []
    for name in names:
        try:
            slide(output, model=model, focus=group + [name], **kwargs)
            group.append(name)
        except DoesNotFit:
            if not group:
                raise
            parts.append(group)
            group = [name]
    if group:
        parts.append(group)
    return [(", ".join(part), slide(output, model=model, focus=part, **kwargs)) for part in parts]


def _modules_in(output):
    """The ids of the modules whose calls the graph of ``output`` passes through (for a backward pass:
    those of the forward Function it differentiates)."""
    found = set()
    for fn in walk(output)[0]:
        scope = fn.scope
        if scope is not None and isinstance(scope.owner, Function):
            scope = scope.owner.scope
        found |= {id(s.owner) for s in scope_chain(scope) if s.kind == "module"}
    return found


def pixel_scale(svg):
    """Pixels of the rendered slide per unit of the SVG's drawing (the points font sizes are given in):
    the scale graphviz applies to the drawing, dpi and zoom together."""
    return float(re.search(r'<g id="graph0" class="graph" transform="scale\(([\d.]+)', svg).group(1))


def font_pixels(svg):
    """(text, size in pixels on the rendered slide) of every text in a slide's SVG."""
    scale = pixel_scale(svg)
    return [(text, float(size) * scale)
            for size, text in re.findall(r'<text [^>]*font-size="([\d.]+)"[^>]*>([^<]*)</text>', svg)]
