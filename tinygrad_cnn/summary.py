"""The layer table of a model: output size, weight size, parameters, receptive field, jump, multiply-adds.

The receptive field and jump (the input-pixel distance between neighbouring outputs) follow
the lecture: a KxK window with dilation d and stride s grows the receptive field by
d(K-1) * jump and multiplies the jump by s, so L stacked KxK stride-1 convs see 1 + L(K-1)
pixels. They are read from the recorded computation, not from the order of the modules: one
forward pass builds the graph, and each primitive's field is the largest over the paths that
reach it (im2col grows it; everything else passes it on), so the 1x1 shortcut of a residual
block gets the field of the block's input, and the add where the paths meet gets the larger
one. Such merges get a row of their own.
"""
from fractions import Fraction

from . import creation, nn, ops
from .autograd import _backward_order, enable_grad


class Summary:
    """Rows of the table (dicts) and totals; ``str()`` gives the printed table."""

    columns = ("layer", "output", "weights", "params", "receptive field", "jump", "mult-adds")

    def __init__(self, rows, input_size):
        self.rows, self.input_size = rows, input_size
        self.total_params = sum(r["params"] for r in rows)
        self.total_mult_adds = sum(r["mult_adds"] for r in rows)

    def __str__(self):
        cells = [self.columns] + [(r["layer"], _size(r["output"]), r["weights"], f"{r['params']:,}",
                                   r["receptive_field"], r["jump"], f"{r['mult_adds']:,}") for r in self.rows]
        cells.append(("total", "", "", f"{self.total_params:,}", "", "", f"{self.total_mult_adds:,}"))
        widths = [max(len(str(row[i])) for row in cells) for i in range(len(self.columns))]
        line = "+".join("-" * (w + 2) for w in widths)
        out = [f"input {_size(self.input_size)}", line]
        for i, row in enumerate(cells):
            out.append("|".join(f" {str(v):<{w}} " if j == 0 else f" {str(v):>{w}} "
                                for j, (v, w) in enumerate(zip(row, widths))))
            if i == 0 or i == len(cells) - 2:
                out.append(line)
        out.append("Linear weights are shown in x out, as the lecture writes them (PyTorch stores out x in).")
        if any(r["layer"].startswith("+") for r in self.rows):
            out.append("Rows starting with + are where paths of the graph meet: their field is the largest of those "
                       "paths.")
        return "\n".join(out)

    __repr__ = __str__


def _size(shape):
    return "x".join(str(n) for n in shape)


class Field:
    """What one tensor of the graph sees of the input: receptive field and jump per spatial axis,
    or ``whole`` once the spatial positions have been mixed into features (flatten, linear)."""

    __slots__ = ("size", "jump", "whole")

    def __init__(self, size=(1, 1), jump=(Fraction(1), Fraction(1)), whole=False):
        self.size, self.jump, self.whole = size, jump, whole

    @staticmethod
    def widest(fields):
        """Where paths meet: the largest field and jump among them."""
        return Field(tuple(max(f.size[i] for f in fields) for i in range(2)),
                     tuple(max(f.jump[i] for f in fields) for i in range(2)), any(f.whole for f in fields))

    def through(self, fn):
        """The field after primitive ``fn``."""
        if isinstance(fn, ops.Im2Col):  # a window: grows by d(K-1) input steps, then the jump is multiplied by s
            return Field(tuple(r + d * (k - 1) * j for r, k, d, j in zip(self.size, fn.kernel, fn.dilation, self.jump)),
                         tuple(j * s for j, s in zip(self.jump, fn.stride)), self.whole)
        if isinstance(fn, ops.Col2Im):  # a transposed window: an output sees floor(d(K-1)/s) + 1 inputs
            return Field(tuple(r + (d * (k - 1) // s) * j for r, k, d, s, j in
                               zip(self.size, fn.kernel, fn.dilation, fn.stride, self.jump)),
                         tuple(j / s for j, s in zip(self.jump, fn.stride)), self.whole)
        if _mixes_positions(fn):
            return Field(self.size, self.jump, True)
        return self


def _mixes_positions(fn):
    """A linear layer's product, or a flatten or global reduction written at model level (outside any
    composite op), combines every spatial position: from there on the field is the whole input."""
    scope = fn.scope
    if isinstance(fn, ops.MatMul):
        return scope is not None and scope.kind == "function" and scope.name == "linear"
    if scope is not None and scope.kind != "module":
        return False
    shape = getattr(fn, "in_shape", None)  # what these primitives remember of their input
    if isinstance(fn, (ops.Reshape, ops.Sum, ops.Mean, ops.AMax)) and shape is not None and len(shape) >= 3:
        spatial = 1
        for n in shape[2:]:
            spatial *= n
        return spatial > 1 and len(fn.shape) < len(shape)
    return False


def receptive_fields(outputs, input):
    """The Field of every Function reachable from ``outputs``, from the graph the forward pass recorded."""
    order = _backward_order([t.creator for t in outputs if t.creator is not None])
    fields = {}
    for fn in reversed(order):  # producers before consumers
        incoming = [Field() if p is input else fields.get(p) for p in fn.parents if p is not None]
        incoming = [f for f in incoming if f is not None]
        if incoming:
            fields[fn] = (incoming[0] if len(incoming) == 1 else Field.widest(incoming)).through(fn)
    return fields


def _merges(fields, input):
    """Primitives written at model level (outside composites) that combine two or more paths from the input."""
    found = []
    for fn in fields:
        scope = fn.scope
        if scope is not None and scope.kind != "module":
            continue
        if sum(1 for p in fn.parents if p is input or p in fields) >= 2:
            found.append(fn)
    return found


def summary(model, input_size, print_table=True, device=None):
    """Run one zero input of ``input_size`` (C, H, W) through ``model`` and tabulate each layer."""
    calls, hooks = [], []

    def record(name):
        def hook(module, inputs, output):
            calls.append((name, module, inputs[0], output))
        return hook

    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()) and not isinstance(module, nn.Identity):
            hooks.append(module.register_forward_hook(record(name)))
    was_training = model.training
    input = creation.zeros(1, *input_size, device=device, requires_grad=True)
    try:
        model.eval()
        with enable_grad():  # the graph is what the fields are read from
            output = model(input)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    fields = receptive_fields([call[3] for call in calls] + [output], input)
    rows = [_row(name, module, x, out, fields.get(out.creator)) for name, module, x, out in calls]
    creators = [out.creator for _, _, _, out in calls]
    names = {id(module): name or type(module).__name__ for name, module in model.named_modules()}
    for fn in _merges(fields, input):
        ancestors = set(_backward_order([fn]))
        position = max((i for i, c in enumerate(creators) if c in ancestors), default=-1) + 1
        rows.insert(position, _merge_row(fn, fields, input, names))
        creators.insert(position, fn)
    table = Summary(rows, tuple(input_size))
    if print_table:
        print(table)
    return table


def _merge_row(fn, fields, input, names):
    paths = sum(1 for p in fn.parents if p is input or p in fields)
    owner = fn.scope.owner if fn.scope is not None else None
    where = names.get(id(owner), "model")
    return dict(layer=f"+ {where}: {type(fn).__name__.lower()} of {paths} paths", output=tuple(fn.shape[1:]),
                weights="", params=0, mult_adds=0, **_field_columns(fields[fn]))


def _field_columns(field):
    if field is None or field.whole:
        return dict(receptive_field="all" if field is not None else "", jump="")
    return dict(receptive_field=_pair_text(field.size), jump=_pair_text(field.jump))


def _pair_text(values):
    """"5" for a square field, "5x3" otherwise; a jump below 1 (after a transposed conv) as a fraction."""
    return str(values[0]) if values[0] == values[1] else _size(values)


def _row(name, module, input, output, field):
    params = sum(p.numel() for p in module.parameters())
    weights, mult_adds = "", 0
    if isinstance(module, nn.Conv2d):
        weights = _size(module.weight.shape)
        per_output = module.weight.shape[1] * module.kernel_size[0] * module.kernel_size[1]
        mult_adds = output.numel() * per_output
    elif isinstance(module, nn.ConvTranspose2d):
        weights = _size(module.weight.shape)
        per_input = module.weight.shape[1] * module.kernel_size[0] * module.kernel_size[1]
        mult_adds = input.numel() * per_input
    elif isinstance(module, nn.Linear):
        weights = f"{module.in_features}x{module.out_features}"
        mult_adds = module.in_features * module.out_features
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)) and module.weight is not None:
        weights = f"{module.weight.shape[0]} (gamma, beta)"
    return dict(layer=f"{name} ({type(module).__name__})", output=tuple(output.shape[1:]), weights=weights,
                params=params, mult_adds=mult_adds, **_field_columns(field))
