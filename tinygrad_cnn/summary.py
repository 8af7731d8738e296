"""The layer table of a model: output size, weight size, parameters, receptive field, jump, multiply-adds.

The receptive field and jump (the input-pixel distance between neighbouring outputs)
follow the lecture: a KxK window with dilation d and stride s grows the receptive field
by (d(K-1)) * jump and multiplies the jump by s, so L stacked KxK stride-1 convs see
1 + L(K-1) pixels.
"""
from . import creation, nn
from .autograd import no_grad


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
        return "\n".join(out)

    __repr__ = __str__


def _size(shape):
    return "x".join(str(n) for n in shape)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def summary(model, input_size, print_table=True, device=None):
    """Run one zero input of ``input_size`` (C, H, W) through ``model`` and tabulate each layer."""
    rows, hooks = [], []
    field = {"size": (1, 1), "jump": (1, 1), "whole": False}

    def record(name):
        def hook(module, inputs, output):
            rows.append(_row(name, module, inputs[0], output, field))
        return hook

    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()) and not isinstance(module, nn.Identity):
            hooks.append(module.register_forward_hook(record(name)))
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(creation.zeros(1, *input_size, device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    table = Summary(rows, tuple(input_size))
    if print_table:
        print(table)
    return table


def _row(name, module, input, output, field):
    params = sum(p.numel() for p in module.parameters())
    weights, mult_adds = "", 0
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kernel, stride = _pair(module.kernel_size), _pair(module.stride)
        dilation = _pair(getattr(module, "dilation", 1))
        field["size"] = tuple(r + d * (k - 1) * j for r, k, d, j in zip(field["size"], kernel, dilation, field["jump"]))
        field["jump"] = tuple(j * s for j, s in zip(field["jump"], stride))
    elif isinstance(module, (nn.Flatten, nn.Linear)):
        field["whole"] = True
    if isinstance(module, nn.Conv2d):
        weights = _size(module.weight.shape)
        per_output = module.weight.shape[1] * module.kernel_size[0] * module.kernel_size[1]
        mult_adds = output.numel() * per_output
    elif isinstance(module, nn.Linear):
        weights = f"{module.in_features}x{module.out_features}"
        mult_adds = module.in_features * module.out_features
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.weight is not None:
        weights = f"{module.num_features} (gamma, beta)"
    square = field["size"][0] == field["size"][1]
    receptive = "all" if field["whole"] else (str(field["size"][0]) if square else _size(field["size"]))
    jump = "" if field["whole"] else (str(field["jump"][0]) if field["jump"][0] == field["jump"][1]
                                      else _size(field["jump"]))
    return dict(layer=f"{name} ({type(module).__name__})", output=tuple(output.shape[1:]), weights=weights,
                params=params, receptive_field=receptive, jump=jump, mult_adds=mult_adds)
