"""16:9 slides, measured on the rendered output: 1920x1080 pixels, names >= 20 px, numbers >= 14 px."""
import re
import shutil
import struct

import pytest

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from tinygrad_cnn.viz import slides as S
from tinygrad_cnn.viz.graph import example_graph

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot program is not installed")


def png_size(graph):
    data = graph.pipe(format="png")
    return struct.unpack(">II", data[16:24])


def check_slide(graph):
    width, height = png_size(graph)
    assert (width, height) == (1920, 1080)
    svg = graph.pipe(format="svg").decode("utf-8")
    sizes = S.font_pixels(svg)
    numbers = [px for text, px in sizes if re.fullmatch(r"-?\d+(\.\d+)?(e[-+]\d+)?", text.strip())]
    bold = [float(b) * S.pixel_scale(svg) for b in re.findall(r'font-weight="bold" font-size="([\d.]+)"', svg)]
    assert bold and min(bold) >= 20, min(bold)  # the names of ops, composites, modules and tensors
    if numbers:
        assert min(numbers) >= 14, min(numbers)
    assert not S.title_crossings(svg)  # no edge runs through a cluster's title
    return svg


def conv_demo():
    output, model, params = example_graph("conv-demo")
    return output, model, params


def test_conv_demo_forward_and_backward_are_one_slide_each_with_their_numbers():
    output, model, params = example_graph("conv-demo")
    svg = check_slide(S.slide(output, params=params, model=model, group_composites=True))
    assert "\xa04<" in svg and "\xa03<" in svg  # the lecture's result [[4,3,4],[2,4,3],[2,3,4]] is on the slide
    dx, model, params = example_graph("conv-demo", backward=True)
    svg = check_slide(S.slide(dx, params=params, model=model, group_composites=True))
    assert ">dY<" in svg and "col2im" in svg


def test_dw_max_pool_and_batch_norm_backward_slides():
    image = tg.tensor([[1.0, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
    image = image.reshape(1, 1, 5, 5).requires_grad_()
    kernel = nn.Parameter(tg.tensor([[1.0, 0, 1], [0, 1, 0], [1, 0, 1]]).reshape(1, 1, 3, 3))
    F.conv2d(image, kernel).backward(tg.tensor([[1.0, 0, -1], [2, 1, 0], [0, -1, 1]]).reshape(1, 1, 3, 3),
                                     create_graph=True)
    svg = check_slide(S.slide(kernel.grad, params={"image": image, "filter": kernel}, group_composites=True))
    assert "X_cols" in svg and ">dY<" in svg  # dW = X_cols^T . dY, both drawn with their numbers
    x = tg.randn(1, 1, 4, 4, requires_grad=True)
    F.max_pool2d(x, 2).backward(tg.ones(1, 1, 2, 2), create_graph=True)
    check_slide(S.slide(x.grad, params={"x": x}, group_composites=True))
    bn = nn.BatchNorm2d(2)
    y = tg.randn(4, 2, 3, 3, requires_grad=True)
    bn(y).relu().sum().backward(create_graph=True)
    check_slide(S.slide(y.grad, params={"x": y}, model=bn))


def test_lenet_and_a_residual_block_fit_or_split_by_module():
    for name in ("lenet5", "resnet-block"):
        for backward in (False, True):
            output, model, params = example_graph(name, backward)
            parts = S.slides(output, params=params, model=model)
            assert parts and len(parts) <= 4
            for _, graph in parts:
                check_slide(graph)
    output, model, params = example_graph("lenet5", True)
    titles = [title for title, _ in S.slides(output, params=params, model=model)]
    assert all("bn" not in title for title in titles)  # only the modules the graph passes through


def test_a_graph_that_cannot_fit_says_so():
    x = tg.randn(2, 8, requires_grad=True)
    y = x
    for _ in range(40):
        y = (y * 1.5).tanh() + y
    with pytest.raises(S.DoesNotFit, match="even summarised"):
        S.slide(y.sum(), params={"x": x})


def test_the_lecture_command_writes_every_figure_as_a_slide_in_lecture_order(tmp_path):
    from tinygrad_cnn.__main__ import main

    assert main(["lecture", "--out", str(tmp_path)]) == 0
    index = (tmp_path / "index.html").read_text()
    pictures = re.findall(r'<img src="([\w.]+)"', index)
    order = ["conv_forward.png", "conv_backward_dx.png", "conv_backward_dw.png", "maxpool_backward.png",
             "batchnorm_backward.png", "lenet5.png"]
    assert pictures[:len(order)] == order and any(p.startswith("resnet_block") for p in pictures)
    for picture in pictures:
        data = (tmp_path / picture).read_bytes()
        assert struct.unpack(">II", data[16:24]) == (1920, 1080), picture
        assert (tmp_path / picture.replace(".png", ".svg")).exists()
    dw = (tmp_path / "conv_backward_dw.svg").read_text()
    numbers = [px for text, px in S.font_pixels(dw) if re.fullmatch(r"-?\d+", text.strip())]
    assert len(numbers) >= 81 + 9 and min(numbers) >= 14  # X_cols' 81 numbers and dY's 9, readable
    assert "X_cols" in dw and ">dY<" in dw
    frames = re.findall(r'<img src="(conv_animation/conv_\d+\.svg)"', index)
    assert len(frames) == 27 and all((tmp_path / frame).exists() for frame in frames)
    for page in ("conv-demo.html", "lenet5.html"):  # the interactive pages, linked from the index
        assert f'href="{page}"' in index and "graph-data" in (tmp_path / page).read_text(encoding="utf-8")


def test_the_title_crossing_check_finds_an_edge_through_a_title():
    import graphviz

    graph = graphviz.Digraph()
    graph.node("a")
    with graph.subgraph(name="cluster_x") as box:
        box.attr(label="A LONG CLUSTER TITLE HERE", labeljust="l")
        box.node("b")
        box.node("c")
    graph.edge("a", "b")
    graph.edge("a", "c")
    svg = graph.pipe(format="svg").decode("utf-8")
    assert {title for title, _ in S.title_crossings(svg)} == {"A LONG CLUSTER TITLE HERE"}
