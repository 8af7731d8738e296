"""The lecture's figures as a deck of 16:9 slides, in lecture order: the 5x5 image convolved with the
3x3 filter (the windows matrix X_cols with its 81 numbers, the product), its backward pass (dX and
dW with every number), max pooling's and batch norm's backward passes, LeNet-5 forward and backward,
and a residual block. ``python -m tinygrad_cnn lecture --out DIR`` writes each as PNG and SVG with an
index page, the conv's animation frames (SVG) and the interactive pages of the conv and LeNet-5; the
lessons in ``examples/`` save the same figures.
"""
import html
import os

from .. import creation, nn
from ..autograd import no_grad
from ..backend import float32
from ..nn import functional as F
from .animation import conv_frames, save_frames
from .graph import LECTURE_FILTER, LECTURE_IMAGE, LECTURE_UPSTREAM, example_graph, save
from .page import save_html
from .slides import slide, slides

POOL_INPUT = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]


def conv_example():
    """The lecture's conv: (image, filter as a Parameter, output, dY), backward run with create_graph."""
    image = creation.tensor(LECTURE_IMAGE, dtype=float32).reshape(1, 1, 5, 5).requires_grad_()
    kernel = nn.Parameter(creation.tensor(LECTURE_FILTER, dtype=float32).reshape(1, 1, 3, 3))
    output = F.conv2d(image, kernel)
    upstream = creation.tensor(LECTURE_UPSTREAM, dtype=float32).reshape(1, 1, 3, 3)
    output.backward(upstream, create_graph=True)
    return image, kernel, output, upstream


def conv_slides():
    """(name, title, graph) of the conv forward, dX and dW slides, every number drawn."""
    image, kernel, output, _ = conv_example()
    names = {"image": image, "filter": kernel}
    return [
        ("conv_forward", "The conv is im2col and one product: X_cols (9x9) times the filter as a column",
         slide(output, params=names, group_composites=True)),
        ("conv_backward_dx", "dX = col2im(dY · Wᵀ): each window's gradient, added back by col2im",
         slide(image.grad, params=names, group_composites=True)),
        ("conv_backward_dw", "dW = X_colsᵀ · dY: the saved windows matrix times the upstream gradient",
         slide(kernel.grad, params=names, group_composites=True)),
    ]


def maxpool_slides():
    x = creation.tensor(POOL_INPUT, dtype=float32).reshape(1, 1, 4, 4).requires_grad_()
    upstream = creation.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)  # a leaf: the slide shows where it goes
    F.max_pool2d(x, 2).backward(upstream.reshape(1, 1, 2, 2), create_graph=True)
    return [("maxpool_backward", "Max pooling's backward: dY goes to each window's maximum, 0 elsewhere",
             slide(x.grad, params={"input": x, "dY": upstream}, group_composites=True))]


def batchnorm_slides():
    bn = nn.BatchNorm1d(1).double()
    with no_grad():
        bn.weight.fill_(2.0)
    x = creation.tensor([[1.0], [2.0], [4.0], [9.0]], dtype="float64", requires_grad=True)
    bn(x).backward(creation.tensor([[0.1], [-0.3], [0.2], [0.4]], dtype="float64"), create_graph=True)
    return [("batchnorm_backward", "Batch norm's backward, composed: the gradient flows through mean and var",
             slide(x.grad, params={"x": x, "gamma": bn.weight}, model=bn))]


def model_slides(name, title):
    out = []
    for backward in (False, True):
        output, model, params = example_graph(name, backward)
        parts = slides(output, params=params, model=model)
        for i, (part, graph) in enumerate(parts, 1):
            stem = f"{name.replace('-', '_')}{'_backward' if backward else ''}" + (f"_{i}" if len(parts) > 1 else "")
            what = f"{title}, {'backward' if backward else 'forward'}" + (f" ({part})" if len(parts) > 1 else "")
            out.append((stem, what, graph))
    return out


def lecture_slides():
    """Every figure of the lecture, in order: (file stem, title, graphviz.Digraph)."""
    return (conv_slides() + maxpool_slides() + batchnorm_slides() + model_slides("lenet5", "LeNet-5")
            + model_slides("resnet-block", "A residual block"))


def write_lecture(folder, log=print):
    """Write every slide as PNG and SVG (DOT where ``dot`` is missing), the conv's animation frames, the
    interactive pages and index.html; returns the paths."""
    os.makedirs(folder, exist_ok=True)
    written, rows = [], []
    for stem, title, graph in lecture_slides():
        png = save(graph, os.path.join(folder, stem + ".png"), log=log)
        svg = save(graph, os.path.join(folder, stem + ".svg"), log=lambda message: None)
        written += [png, svg]
        picture = os.path.basename(png)
        element = (f'<img src="{picture}" alt="{html.escape(title)}">' if picture.endswith(".png")
                   else f'<a href="{picture}">{picture}</a>')
        rows.append(f"<section><h2>{html.escape(title)}</h2>{element}</section>")
    frames = conv_frames()  # the conv, animated: a frame per window, as SVG for slides and on its page
    paths = save_frames(frames, os.path.join(folder, "conv_animation"))
    written += paths
    rows.append("<section><h2>The conv, animated: im2col, then col2im and dW window by window</h2>"
                + "".join(f'<img src="conv_animation/{os.path.basename(p)}" alt="frame {k}">'
                          for k, p in enumerate(paths, 1)) + "</section>")
    pages = []  # the interactive pages: the conv (with its animation) and LeNet-5
    for name, animation in (("conv-demo", frames), ("lenet5", None)):
        output, model, params = example_graph(name)
        pages.append(save_html(output, os.path.join(folder, f"{name}.html"), animation=animation, params=params,
                               model=model))
    written += pages
    rows.insert(0, "<p>Explore the graphs, and step through their backward passes: " + ", ".join(
        f'<a href="{os.path.basename(p)}">{os.path.basename(p)}</a>' for p in pages) + "</p>")
    index = os.path.join(folder, "index.html")
    with open(index, "w", encoding="utf-8") as f:
        f.write("<!doctype html><meta charset='utf-8'><title>tinygrad_cnn: the lecture's figures</title>"
                "<style>body{font-family:sans-serif;margin:2em}img{width:100%;max-width:1920px;"
                "border:1px solid #ccc}</style><h1>The lecture's figures, in order</h1>" + "".join(rows))
    written.append(index)
    return written
