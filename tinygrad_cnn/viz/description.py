"""What a drawing of a computation graph shows, independent of how it is rendered.

``describe(output, ...)`` walks the recorded graph once and decides everything a picture says:
which nodes are drawn (primitives, collapsed composites, leaves, operands that need no gradient,
the output, stubs where a focused part meets the rest), what role each plays, its name, shape,
dtype and values, which module or composite cluster holds it, and the edges between them. A
renderer (graphviz in ``graph.py``) only turns this description into a picture, so that every
renderer shows the same graph.
"""
from dataclasses import dataclass, field

from .. import backend
from ..autograd import Function, Scope, scope_chain
from ..nn.parameter import Parameter
from ..tensor import Tensor

HIDDEN_DEFAULTS = {"d": (1, 1), "g": 1}  # composite arguments left out of cluster titles when default
AXES = {"rows": "N,OH,OW,KH,KW,C", "kernel": "KH,KW,N,OH,OW,C", "columns": "KH,KW,C,OH,OW,N"}  # im2col's layouts


@dataclass
class Node:
    """One drawn node. ``role``: primitive, merge (paths meet outside any composite), composite (a
    collapsed one), constant or mask (an operand that needs no gradient), upstream (the gradient a
    backward pass starts from, dY), input (any leaf that is not an ``nn.Parameter``), parameter,
    output, stub_in / stub_out (what flows into and out of a focused part)."""

    id: str
    role: str
    name: str
    shape: tuple = None
    dtype: object = None
    values: object = None  # the array whose values are shown, or None
    grad: object = None  # the gradient array shown beside them, or None
    kind: str = None  # a primitive's kind: elementwise, reduce, movement, matmul, window
    axes: str = None  # the names of an im2col / col2im window array's axes (N,OH,OW,KH,KW,C)
    inline: tuple = ()  # one-number operands written into the name ("add 1e-05")
    note: str = None  # what the shape line says instead of the shape (a composite's result, "2 paths meet")
    cluster: tuple = ()  # ids of the clusters that hold it, outermost first


@dataclass
class Cluster:
    id: str
    title: str
    is_module: bool


@dataclass
class Edge:
    source: str
    target: str
    style: str = "data"  # data, merge (a path into a merge), constant (an operand that needs no gradient)
    operand: str = None  # "left" or "right" for the two operands of a matrix product
    carries: str = None  # what an edge out of a collapsed node carries where it is not the node's result


@dataclass
class Description:
    nodes: list = field(default_factory=list)
    clusters: dict = field(default_factory=dict)  # id -> Cluster
    edges: list = field(default_factory=list)
    direction: str = "TB"
    font: int = 10  # names (points)
    small_font: int = 8  # shapes, notes and captions
    number_font: int = 9  # the values
    show_shapes: bool = True
    show_dtypes: bool = True
    show_values: bool = True
    max_values: int = 81  # a tensor with more values shows its norm, min and max instead
    legend: str = None  # None, "kinds" (the colours of primitive kinds) or "roles" (what each node is)
    cluster_titles: str = "t"  # where clusters' titles go: "t" (top) or "b" (bottom)
    kinds: set = field(default_factory=set)  # the primitive kinds drawn


def size_text(shape):
    return "x".join(str(n) for n in shape) if len(shape) else "scalar"


def value_matrix(array, limit):
    """How a drawing lays out an array's values: (matrix, whole), a 2-D float64 NumPy array of them (NaN
    where a wrapped vector's last row ends) and whether all are whole numbers; None where it has more than
    ``limit`` values (drawn as its norm, min and max instead). A matrix stays as it is and a 9x1 column a
    column; other shapes lose their size-1 axes, then put the first half of the rest down and the other half
    across (im2col's windows as 9x9); a long vector or column wraps in rows of 9."""
    np = backend.numpy_module()
    values = backend.to_numpy(array).astype("float64")
    if values.size > limit:
        return None
    matrix = values if values.ndim == 2 else values.reshape([n for n in values.shape if n != 1] or [1])  # (9x1 stays)
    if matrix.ndim == 2 and matrix.shape[1] == 1 and matrix.shape[0] > 12:
        matrix = matrix[:, 0]  # a long column is wrapped like a long vector
    if matrix.ndim == 1:
        matrix = matrix[None] if matrix.size <= 12 else np.pad(matrix, (0, -matrix.size % 9),
                                                               constant_values=np.nan).reshape(-1, 9)
    elif matrix.ndim > 2:
        half = matrix.ndim // 2
        matrix = matrix.reshape(int(np.prod(matrix.shape[:half])), -1)
    finite = values[np.isfinite(values)]
    return matrix, bool(np.all(finite == np.round(finite)))


def number_text(value, whole):
    """One value of a drawn matrix: 4, -0.5, 0.333 (never -0)."""
    text = f"{value:.0f}" if whole and value == value and abs(value) != float("inf") else f"{value:.3g}"
    return "0" if text == "-0" else text


def summary_text(array):
    """What a drawing says of an array too large to show: |x|=2.3 min -0.5 max 1.2."""
    np = backend.numpy_module()
    values = backend.to_numpy(array).astype("float64")
    return f"|x|={np.sqrt((values ** 2).sum()):.3g} min {values.min():.3g} max {values.max():.3g}"


def _format_value(value):
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


class BackwardGroup(Scope):
    """In a drawing of a backward graph: the backward passes of everything one forward module call or
    composite recorded ("Conv2d conv1 backward" around "conv2d k=5 s=1 p=2 backward" around the
    "matmul backward", "im2col backward", ... of its primitives)."""

    __slots__ = ("title", "mirrored")

    def __init__(self, parent, forward, title):
        super().__init__(parent, forward.kind, forward.name + " backward", forward.args, forward.owner)
        self.title, self.mirrored = title, forward


def grouped_scopes(functions, module_names):
    """The scope each Function is drawn in: its own, except that a backward pass (recorded with
    create_graph) is placed inside BackwardGroups mirroring the modules and composites of the forward
    Function it differentiates."""
    mirrors, placed = {}, {}

    def mirror(scope):
        if scope is None:
            return None
        if id(scope) not in mirrors:
            mirrors[id(scope)] = BackwardGroup(mirror(scope.parent), scope,
                                               scope_title(scope, module_names) + " backward")
        return mirrors[id(scope)]

    for fn in functions:
        scope = fn.scope
        if _is_backward(fn) and isinstance(scope.owner, Function):
            key = ("pass", id(scope))
            if key not in mirrors:
                mirrors[key] = Scope(mirror(scope.owner.scope), scope.kind, scope.name, scope.args, scope.owner,
                                     scope.upstream)
            scope = mirrors[key]
        placed[id(fn)] = scope
    return placed


def scope_title(scope, module_names):
    """'Conv2d conv1' for a module call, 'conv2d k=5 s=1 p=2' for a composite op."""
    if isinstance(scope, BackwardGroup):
        return scope.title
    if scope.kind == "module":
        name = module_names.get(id(scope.owner))
        return f"{scope.name} {name}" if name else scope.name
    args = " ".join(f"{k}={_format_value(v)}" for k, v in scope.args if HIDDEN_DEFAULTS.get(k, object()) != v)
    return f"{scope.name} {args}".strip()


def primitive_name(fn):
    """'pow 2' for x ** 2 (the exponent, a constant, is part of the op); the class name otherwise."""
    name = type(fn).__name__.lower()
    exponent = getattr(fn, "exponent", None)
    return f"{name} {exponent:g}" if exponent is not None else name


def _axes(fn):
    """The names of the axes of im2col's and col2im's window arrays, else None."""
    layout = getattr(fn, "layout", None)
    return AXES[layout] if layout is not None and len(fn.shape) == 6 else None


def walk(output):
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


def _forward_functions(functions):
    """The ids of the forward Functions that the backward passes among ``functions`` differentiate, and
    of everything those were computed from (not, say, a reshape of the upstream gradient)."""
    owners = [fn.scope.owner for fn in functions if _is_backward(fn)]
    found, stack = set(), [owner for owner in owners if isinstance(owner, Function)]
    while stack:
        fn = stack.pop()
        if id(fn) not in found:
            found.add(id(fn))
            stack.extend(p for p in fn.parents if isinstance(p, Function) and not _is_backward(p))
    return found


def _saved_name(fn, name):
    """A forward result that a backward pass reads: 'reshape: X_cols (saved)' for the windows matrix
    (im2col's result, or a reshape or permute of it), else 'reshape (saved)'."""
    source = fn
    while source is not None and type(source).__name__ != "Im2Col":
        inner = [p for p in source.parents if isinstance(p, Function)]
        source = inner[0] if source.kind == "movement" and len(inner) == 1 else None
    return f"{name}: X_cols (saved)" if source is not None else f"{name} (saved)"


def _operand(fn, i):
    """'left' or 'right' for input ``i`` of a matrix product (whose order matters), else None."""
    return ("left", "right")[i] if type(fn).__name__ == "MatMul" and i in (0, 1) else None


def _upstream_text(fn, module_names):
    """(name, note) of the constant gradient that the backward pass ``fn`` belongs to starts from."""
    forward = fn.scope.owner
    chain = scope_chain(forward.scope)
    what = scope_title(chain[-1], module_names) if chain else primitive_name(forward)
    return "dY", f"d loss / d out of {what}"


def _mask_in_input_layout(mask, scope):
    """(mask, note): max pooling's mask of window positions (KH*KW, N, OH, OW, C) laid back onto the input
    (N, C, H, W), 1 where a window's maximum sits, as the lecture draws it; any other mask as it is."""
    pool = next((s.mirrored for s in scope_chain(scope) if isinstance(s, BackwardGroup)
                 and s.mirrored.name == "max_pool2d"), None)
    if pool is None or mask.ndim != 5:
        return mask, None
    args = dict(pool.args)
    (kh, kw), (sh, sw), (ph, pw) = args["k"], args["s"], args["p"]
    if mask.shape[0] != kh * kw:
        return mask, None
    np = backend.numpy_module()
    windows = backend.to_numpy(mask).astype(np.int64)
    _, n, oh, ow, c = windows.shape
    image = np.zeros((n, c, (oh - 1) * sh + kh, (ow - 1) * sw + kw), np.int64)
    for i in range(kh):
        for j in range(kw):
            image[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += windows[i * kw + j].transpose(0, 3, 1, 2)
    image = image[:, :, ph:image.shape[2] - ph, pw:image.shape[3] - pw]
    return image, "the maxima, in the input's layout"


def _constant_operands(fn):
    """(input index, array) of each operand that needs no gradient, and where's condition as a mask."""
    operands = [(i, a) for i, a in enumerate(fn.constants) if a is not None]
    condition = getattr(fn, "condition", None)
    if condition is not None and hasattr(condition, "shape") and condition.size > 1:
        operands.append(("mask", condition))
    return operands


def _collapsed_unit(chain, group_composites):
    """The scope that one node stands for: with "collapse" the outermost composite op; with "modules" the
    module call just inside the model (the model itself where it has no submodules; outside any module,
    the outermost composite); None: draw primitives."""
    if group_composites == "modules":
        modules = [s for s in chain if s.kind == "module"]
        if modules:
            return modules[1] if len(modules) > 1 else modules[0]
    if group_composites in ("collapse", "modules"):
        return next((s for s in chain if s.kind == "function"), None)
    return None


def _in_focus(scope, focus, module_names):
    """Whether a Function drawn in ``scope`` belongs to the module named ``focus`` or a composite op named
    ``focus`` (or to the backward pass of one); ``focus`` may also be a list of such names."""
    targets = {focus} if isinstance(focus, str) else set(focus)
    for scope in scope_chain(scope):
        if isinstance(scope, BackwardGroup):
            scope = scope.mirrored
        if scope.name in targets or (scope.kind == "module" and module_names.get(id(scope.owner)) in targets):
            return True
    return False


def _stub_text(fn, scope, module_names):
    """Where a Function outside the drawn part belongs: its innermost module call ("ReLU relu1"), else its
    outermost composite ("cross_entropy reduction=mean"), else its own name."""
    chain = scope_chain(scope)
    modules = [s for s in chain if s.kind == "module"]
    if len(modules) > 1 or (modules and len(chain) == len(modules)):
        return scope_title(modules[-1], module_names)
    composites = [s for s in chain if s.kind != "module"]
    return scope_title(composites[0], module_names) if composites else type(fn).__name__.lower()


def _is_backward(fn):
    """Whether ``fn`` was recorded by a backward pass (run with create_graph)."""
    return fn.scope is not None and fn.scope.kind == "function" and fn.scope.name.endswith(" backward")


def describe(output, params=None, show_shapes=True, show_grads=False, group_composites=True, direction="TB",
             model=None, show_values=True, focus=None, max_depth=None, legend=None, max_values=81,
             show_params=True):
    """The Description of the graph that computed ``output`` (``draw_graph``'s arguments; ``show_params=False``
    leaves the parameters out, to summarise a large graph)."""
    if not isinstance(output, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(output).__name__}")
    if direction not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw_graph: direction must be TB or LR, got {direction!r}")
    module_names, param_names = _module_and_param_names(params, model)
    functions, leaves = walk(output)
    everything = functions
    scope_of = grouped_scopes(everything, module_names)
    if focus is not None:
        functions = [fn for fn in functions if _in_focus(scope_of[id(fn)], focus, module_names)]
        if not functions:
            names = sorted({s.name for fn in everything for s in scope_chain(fn.scope)} |
                           set(module_names.values()))
            raise ValueError(f"draw_graph: nothing in the graph belongs to {focus!r}; modules and composites: "
                             f"{', '.join(names)}")
        read = {id(p) for fn in functions for p in fn.parents if isinstance(p, Tensor)}
        leaves = [leaf for leaf in leaves if id(leaf) in read]
    kept = {id(fn) for fn in functions}
    big = len(functions) + len(leaves) > 80
    out = Description(direction=direction, font=9 if big else 10,
                      show_shapes=show_shapes, show_values=show_values, max_values=max_values, legend=legend,
                      kinds={fn.kind for fn in functions})

    collapse = group_composites in ("collapse", "modules")
    representative = {}  # function id -> the node that stands for it
    members = {}  # id of the scope drawn as one node -> (scope, the Functions inside it)
    for fn in functions:
        unit = _collapsed_unit(scope_chain(scope_of[id(fn)]), group_composites)
        if unit is not None:
            representative[id(fn)] = f"s{id(unit)}"
            members.setdefault(id(unit), (unit, []))[1].append(fn)
        else:
            representative[id(fn)] = f"f{id(fn)}"

    def place(scope, node):
        chain = scope_chain(scope)
        if collapse and not node.id.startswith("f"):
            chain = [s for s in chain if s.kind == "module"]
        if not group_composites:
            chain = []
        if max_depth is not None:
            chain = chain[:max_depth]
        for s in chain:
            out.clusters.setdefault(f"cluster_{id(s)}", Cluster(f"cluster_{id(s)}", scope_title(s, module_names),
                                                                s.kind == "module"))
        node.cluster = tuple(f"cluster_{id(s)}" for s in chain)
        out.nodes.append(node)

    consumers = {}  # function id -> the Functions that read its output
    for fn in everything:
        for parent in fn.parents:
            if isinstance(parent, Function):
                consumers.setdefault(id(parent), []).append(fn)
    param_ids = {id(p) for name, p in (params or {}).items() if name != "input"}
    forward = _forward_functions(everything)  # what a backward pass reads of these is "saved"
    constant_edges, drawn_constants, upstream_ids = [], set(), {}
    merges = {id(fn) for fn in functions if _is_merge(fn, param_ids)}
    for fn in functions:
        node_id = representative[id(fn)]
        operands = _constant_operands(fn)
        upstream = fn.scope.upstream if fn.scope is not None else None
        for i, array in operands:  # the operands that need no gradient, drawn apart (dashed, grey)
            is_upstream = array is upstream and upstream is not None
            if array.size > 1 and (node_id.startswith("f") or is_upstream):  # dY even beside a collapsed node
                kind = "upstream" if is_upstream else "mask" if array.dtype.kind == "b" else "constant"
                name, note = _upstream_text(fn, module_names) if is_upstream else (kind, None)
                if kind == "mask":  # max pooling's routing mask, drawn where it routes: the input's layout
                    array, note = _mask_in_input_layout(array, scope_of[id(fn)])
                constant_id = f"c{id(fn)}_{i}"
                if is_upstream:  # one dY, however often (and through whichever views) the backward reads it
                    key = (array.shape, str(array.dtype), backend.to_numpy(array).tobytes())
                    constant_id = upstream_ids.setdefault(key, f"c{id(array)}")
                if constant_id not in drawn_constants:
                    drawn_constants.add(constant_id)
                    place(scope_of[id(fn)], Node(constant_id, kind, name, array.shape, array.dtype,
                                                 array if show_values else None, note=note))
                edge = (constant_id, node_id, _operand(fn, i) if node_id.startswith("f") else None)
                if edge not in constant_edges:
                    constant_edges.append(edge)
        if not node_id.startswith("f"):
            continue
        role = "merge" if id(fn) in merges else "primitive"
        inline = () if role == "merge" else tuple(a for _, a in operands if a.size == 1)
        name = type(fn).__name__.lower() if role == "merge" else primitive_name(fn)
        note = f"{sum(1 for p in fn.parents if p is not None)} paths meet" if role == "merge" else None
        if id(fn) in forward and any(_is_backward(c) for c in consumers.get(id(fn), ())):
            name = _saved_name(fn, name)
        retained = fn.retained() if fn.retained is not None else None
        grad = retained.grad.array if show_grads and retained is not None and retained.grad is not None else None
        place(scope_of[id(fn)], Node(node_id, role, name, fn.shape, fn.dtype, fn.value if show_values else None, grad,
                             kind=fn.kind, axes=_axes(fn), inline=inline, note=note))
    results = {}  # collapsed node -> the Function whose result its shape line describes
    for scope_id, (scope, inside) in members.items():
        name, note, results[f"s{scope_id}"] = _composite_text(scope, inside, module_names, param_names, consumers,
                                                             output)
        place(scope.parent, Node(f"s{scope_id}", "composite", name, note=note))

    consumer_scope = {}  # leaf id -> the innermost module call that reads it
    for fn in functions:
        for parent in fn.parents:
            if isinstance(parent, Tensor) and id(parent) not in consumer_scope:
                modules = [s for s in scope_chain(scope_of[id(fn)]) if s.kind == "module"]
                consumer_scope[id(parent)] = modules[-1] if modules else None
    grad_of = {id(p.grad): name for name, p in (params or {}).items() if p.grad is not None}
    if not show_params:
        leaves = [leaf for leaf in leaves if not isinstance(leaf, Parameter)]
    drawn_leaves = {id(leaf) for leaf in leaves}
    for leaf in leaves:
        name = param_names.get(id(leaf))
        is_param = isinstance(leaf, Parameter)  # any other leaf is an input, under the name the caller gave it
        node = Node(f"t{id(leaf)}", "parameter" if is_param else "input", name or "input", leaf.shape, leaf.dtype,
                    leaf.array if show_values else None,
                    leaf.grad.array if show_grads and leaf.grad is not None else None)
        if is_param:  # drawn inside the module that owns it
            place(consumer_scope.get(id(leaf)), node)
        else:
            out.nodes.append(node)

    title = f"{grad_of[id(output)]}.grad" if id(output) in grad_of else ("loss" if output.numel() == 1 else "output")
    draws_output = focus is None or (output.creator is not None and id(output.creator) in kept)
    if draws_output:
        out.nodes.append(Node("output", "output", title, output.shape, output.dtype,
                              output.array if show_values else None))

    edges, stubs = set(), set()
    for fn in functions:
        target = representative[id(fn)]
        for i, parent in enumerate(fn.parents):
            if parent is None:
                continue
            if isinstance(parent, Function) and id(parent) not in kept:  # (focus) what flows in: a stub
                source = f"u{id(parent)}"
                if source not in stubs:
                    stubs.add(source)
                    where = _stub_text(parent, scope_of[id(parent)], module_names)
                    out.nodes.append(Node(source, "stub_in", f"from {where}", parent.shape))
            elif isinstance(parent, Tensor) and id(parent) not in drawn_leaves:
                continue
            else:
                source = f"t{id(parent)}" if isinstance(parent, Tensor) else representative[id(parent)]
            if source != target and (source, target) not in edges:
                edges.add((source, target))
                operand = _operand(fn, i) if target.startswith("f") else None
                carries = None  # an edge out of a collapsed node that carries another tensor than its result
                if source in results and isinstance(parent, Function) and parent is not results[source]:
                    carries = size_text(parent.shape) + (" (saved)" if _is_backward(fn) else "")
                out.edges.append(Edge(source, target, "merge" if id(fn) in merges else "data", operand, carries))
    out.edges.extend(Edge(source, target, "constant", operand) for source, target, operand in constant_edges)
    if focus is not None:  # what flows out of the part: stubs toward the Functions that read it
        for fn in functions:
            outside = [c for c in consumers.get(id(fn), ()) if id(c) not in kept]
            if outside and (representative[id(fn)], f"d{id(fn)}") not in edges:
                edges.add((representative[id(fn)], f"d{id(fn)}"))
                where = _stub_text(outside[0], scope_of[id(outside[0])], module_names)
                out.nodes.append(Node(f"d{id(fn)}", "stub_out", f"to {where}"))
                out.edges.append(Edge(representative[id(fn)], f"d{id(fn)}"))
    if draws_output and output.creator is not None:  # (a tensor computed from nothing that needs a
        out.edges.append(Edge(representative[id(output.creator)], "output"))  # gradient is drawn alone)
    return out


# What the backward pass of a composite computes, in the lecture's notation (the conv multiplies the
# windows matrix X_cols by the filter as a column W: Y = X_cols . W)
BACKWARD_FORMULAS = {
    "conv2d": "dX = col2im(dY · Wᵀ), dW = X_colsᵀ · dY",
    "linear": "dX = dY · W, dW = dYᵀ · X",
    "max_pool2d": "dX = col2im(dY routed to each window's max)",
    "avg_pool2d": "dX = col2im(dY / window size)",
    "relu": "dX = dY where X > 0",
    "batch_norm": "dX, dγ, dβ through mean and var",
}
BACKWARD_FORMULAS.update({"Conv2d": BACKWARD_FORMULAS["conv2d"], "Linear": BACKWARD_FORMULAS["linear"],
                          "MaxPool2d": BACKWARD_FORMULAS["max_pool2d"], "AvgPool2d": BACKWARD_FORMULAS["avg_pool2d"],
                          "ReLU": BACKWARD_FORMULAS["relu"], "BatchNorm2d": BACKWARD_FORMULAS["batch_norm"]})


def _composite_text(scope, inside, module_names, param_names, consumers, output):
    """A collapsed composite's name (a backward pass: what it is made of), what its shape line says (the
    shape of what leaves it), and the Function whose result that is."""
    label = scope_title(scope, module_names)
    if isinstance(scope, BackwardGroup) and scope.mirrored.name in BACKWARD_FORMULAS:
        label += ": " + BACKWARD_FORMULAS[scope.mirrored.name]
    elif scope.name.endswith(" backward"):  # say what the backward pass is made of (col2im for im2col's)
        kinds = list(dict.fromkeys(primitive_name(fn) for fn in reversed(inside)))
        label += ": " + ", ".join(kinds[:3]) + (", ..." if len(kinds) > 3 else "")
    # the shape of what leaves the composite: its Function read outside it (or the output)
    inside_ids = {id(fn) for fn in inside}
    leaving = [fn for fn in inside if fn is output.creator or any(
        id(c) not in inside_ids for c in consumers.get(id(fn), ()))]
    # the composite's own result is read only outside it (a weight matrix it made may be read by both)
    result = next((fn for fn in leaving if not any(id(c) in inside_ids for c in consumers.get(id(fn), ()))),
                  leaving[0] if leaving else inside[0])
    shape = size_text(result.shape)
    leaves_read = [p for fn in inside for p in fn.parents if isinstance(p, Tensor)]
    if leaves_read and all(fn.kind == "movement" and all(
            isinstance(p, Tensor) or id(p) in inside_ids for p in fn.parents if p is not None)
            for fn in inside):  # only the part that reshapes a weight: say so (a backward graph reuses it)
        shape = f"{param_names.get(id(leaves_read[0]), 'its input')} as {shape}"
    elif not scope.name.endswith(" backward") and result is not output.creator and all(
            _is_backward(c) for c in consumers.get(id(result), ()) if id(c) not in inside_ids):
        shape += " (a part, read by the backward pass)"  # the composite's own output is not in the graph
    return label, shape, result
