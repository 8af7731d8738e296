"""Graph drawings: structure, not just that they run."""
import os
import re
import shutil
import subprocess

import pytest

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from tinygrad_cnn.models import LeNet5
from tinygrad_cnn.viz import description as describe
from tinygrad_cnn.viz import graph as viz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot program is not installed")


def _plain(source):
    """The DOT source with HTML-like markup removed, whitespace collapsed: what the labels say."""
    return " ".join(re.sub(r"<[^>]*>|&nbsp;", " ", source).replace("\\n", " ").split())


def _nodes_and_edges(source):
    nodes = set(re.findall(r"^\s*(\w+) \[", source, re.M)) - {"graph", "node", "edge"}
    edges = re.findall(r"^\s*(\w+) -> (\w+)", source, re.M)
    return nodes, edges


def test_small_expression_has_the_expected_nodes_and_edges():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    loss = (a * b + a).sum()
    nodes, edges = _nodes_and_edges(viz.draw_graph(loss, params={"a": a, "b": b}).source)
    # ops: mul, add, sum; tensors: a, b, the output
    assert len(nodes) == 6 and len(edges) == 6
    source = viz.draw_graph(loss, params={"a": a, "b": b}).source
    assert "<b>mul</b>" in source and "<b>sum</b>" in source and "a 2 1 2 " in _plain(source)  # values shown


def test_conv2d_module_cluster_holds_the_conv2d_cluster_holding_the_primitives():
    conv = nn.Conv2d(1, 4, 5, padding=2)  # 100 weights: more than the 81 drawn as numbers
    model = nn.Sequential(conv)
    x = tg.randn(1, 1, 8, 8, requires_grad=True)  # an input that needs a gradient makes im2col part of the graph
    source = viz.draw_graph(model(x).sum(), model=model).source
    outer = source.index("label=Sequential")
    module = source.index('label="Conv2d 0"')
    inner = source.index('label="conv2d k=5 s=1 p=2"')
    im2col = source.index("<b>im2col</b>")
    matmul = source.index("<b>matmul</b>")
    assert outer <= module < inner < im2col and inner < matmul
    assert source.count("subgraph cluster_") == 3  # Sequential > Conv2d 0 > conv2d
    assert "0.weight 4x1x5x5 |x|=" in _plain(source)  # a large parameter: its norm, min and max


def test_parameters_are_labelled_with_module_names():
    model = LeNet5()
    loss = F.cross_entropy(model(tg.randn(2, 1, 28, 28)), tg.tensor([1, 2]))
    source = viz.draw_graph(loss, params=dict(model.named_parameters()), model=model).source
    for name in ("conv1.weight 20x1x5x5", "conv2.bias 50", "fc1.weight 500x2450", "Conv2d conv1",
                 "MaxPool2d pool2", "cross_entropy reduction=mean"):
        assert name in _plain(source), name


def test_collapse_draws_one_node_per_composite():
    model = LeNet5()
    loss = F.cross_entropy(model(tg.randn(2, 1, 28, 28)), tg.tensor([1, 2]))
    source = viz.draw_graph(loss, model=model, group_composites="collapse").source
    for title in ("conv2d k=5 s=1 p=2", "max_pool2d k=2 s=2 p=0", "linear in=2450 out=500", "cross_entropy"):
        assert source.count(f"<b>{title}") >= 1, title
    assert "<b>im2col</b>" not in source and "<b>matmul</b>" not in source
    assert source.count("<b>conv2d") == 2 and source.count("<b>linear") == 2


def test_backward_graph_contains_col2im():
    x = tg.randn(1, 1, 5, 5, requires_grad=True)
    w = tg.randn(1, 1, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward(create_graph=True)
    source = viz.draw_graph(x.grad, params={"x": x, "w": w}).source
    assert "<b>col2im</b>" in source and "im2col backward" in source and "x.grad" in source


def test_show_grads_annotates_leaves():
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    source = viz.draw_graph(loss, params={"w": w}, show_grads=True).source
    assert "w 2 3 4 grad 6 8 " in _plain(source) and "loss scalar 25 " in _plain(source)  # the loss too
    big = tg.ones(100, requires_grad=True)
    (big * 2).sum().backward()
    source = viz.draw_graph((big * 2).sum(), params={"big": big}, show_grads=True).source
    assert "|x|=10 min 1 max 1 grad |x|=20 min 2 max 2" in _plain(source)  # over 81 values: norm, min, max
    assert "3 4" not in _plain(viz.draw_graph(loss, params={"w": w}, show_values=False).source)


def test_scopes_cost_no_string_formatting_in_training():
    """Scopes store their arguments raw; the title is formatted only when drawn."""
    x = tg.randn(1, 1, 6, 6, requires_grad=True)
    out = F.conv2d(x, tg.randn(2, 1, 3, 3), stride=2)
    scope = out.grad_fn.scope
    assert scope.name == "conv2d" and ("s", (2, 2)) in scope.args
    assert describe.scope_title(scope, {}) == "conv2d k=3 s=2 p=0"


@needs_dot
def test_dot_source_renders_with_dot(tmp_path):
    model = LeNet5()
    graph = viz.draw_graph(F.cross_entropy(model(tg.randn(1, 1, 28, 28)), tg.tensor([0])), model=model)
    path = viz.save(graph, tmp_path / "lenet.svg")
    assert open(path).read().lstrip().startswith("<?xml") and os.path.getsize(path) > 10_000
    result = subprocess.run(["dot", "-Tsvg"], input=graph.source, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_dot
def test_save_svg(tmp_path):
    a = tg.ones(2, requires_grad=True)
    path = viz.save_svg(viz.draw_graph((a * 2).sum()), tmp_path / "g.png")
    assert path.endswith("g.svg") and "<svg" in open(path).read()


def test_without_dot_the_source_is_written_and_the_fix_explained(tmp_path, monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    messages = []
    a = tg.ones(2, requires_grad=True)
    path = viz.save(viz.draw_graph((a * 2).sum()), tmp_path / "g.svg", log=messages.append)
    assert path.endswith("g.dot") and open(path).read().startswith("digraph")
    assert len(messages) == 1 and "apt-get install graphviz" in messages[0]


@pytest.mark.parametrize("args", [["--model", "lenet5"], ["--model", "lenet5", "--backward"],
                                  ["--model", "conv-demo", "--backward", "--collapse"]])
def test_graph_cli(tmp_path, args):
    from tinygrad_cnn.__main__ import main

    out = tmp_path / "g.dot"
    assert main(["graph", *args, "--out", str(out)]) == 0
    source = out.read_text()
    assert source.startswith("digraph")
    if "--backward" in args:  # collapsed, the backward of im2col is one node; expanded, it shows col2im
        assert ("backward: dX = col2im(dY · Wᵀ)" if "--collapse" in args else "<b>col2im</b>") in source


def _cluster_body(source, title):
    """The DOT text of the cluster labelled ``title`` (up to its closing brace)."""
    start = source.index(f"label={title}")
    depth, i = 1, start
    while depth:
        i += 1
        depth += {"{": 1, "}": -1}.get(source[i], 0)
    return source[start:i]


@pytest.mark.parametrize("collapse", [True, "collapse"], ids=["full", "collapsed"])
def test_a_residual_block_shows_its_two_paths_meeting_at_one_add_inside_the_block(collapse):
    from tinygrad_cnn.models import BasicBlock

    block = BasicBlock(4, 8, stride=2)
    x = tg.randn(2, 4, 8, 8, requires_grad=True)
    source = viz.draw_graph(block(x).sum(), model=block, params={**dict(block.named_parameters()), "input": x},
                            group_composites=collapse).source
    merges = re.findall(r"^\s*(\w+) \[[^\]]*fillcolor=\"" + re.escape(viz.MERGE), source, re.M)
    assert len(merges) == 1  # the residual add, and only it (batch norm's own adds are not merges)
    assert "<b>add</b>" in source and "2 paths meet" in source
    assert f"{merges[0]} [" in _cluster_body(source, "BasicBlock")  # inside the block's cluster
    into_merge = re.findall(r"^\s*(\w+) -> " + merges[0] + r" \[color=\"#C2185B\"", source, re.M)
    assert len(into_merge) == 2  # the main path and the shortcut, both drawn bold
    assert "<b>relu</b>" in source or "label=relu" in source  # ReLU is named, not drawn as where


def test_labels_name_what_the_lesson_is_about():
    x = tg.randn(1, 1, 5, 5, requires_grad=True)
    w = tg.randn(1, 1, 3, 3, requires_grad=True)
    out = (F.conv2d(x, w) ** 2).sum()
    source = viz.draw_graph(out, params={"input": x, "w": w}, color_by_kind=True).source
    assert "<b>pow 2</b>" in source  # the exponent is part of the op
    assert "1x3x3x3x3x1 (N,OH,OW,KH,KW,C)" in source  # im2col's axes by name
    assert "<b>primitives</b>" in source and "window</td>" in source  # the colours' legend
    out.backward(create_graph=True)
    collapsed = viz.draw_graph(x.grad, params={"input": x, "w": w}, group_composites="collapse").source
    assert "conv2d k=3 s=1 p=0 backward: dX = col2im(dY · Wᵀ)" in collapsed  # the conv's backward, as one node
    model = LeNet5()
    loss = F.cross_entropy(model(tg.randn(2, 1, 28, 28)), tg.tensor([1, 2]))
    forward = viz.draw_graph(loss, model=model, group_composites="collapse").source
    loss.backward(create_graph=True)
    backward = viz.draw_graph(model.conv1.weight.grad, model=model, group_composites="collapse").source
    assert "cross_entropy reduction=mean</b><br/><font point-size='8'>2x1 (a part, read by the backward pass)" in \
        viz.draw_graph(model.conv1.weight.grad, model=model, group_composites="collapse").source
    for source in (forward, backward):  # each composite shows its own output's shape, also in a backward graph
        for composite, shape in (("conv2d k=5 s=1 p=2", "2x20x28x28"), ("linear in=2450 out=500", "2x500")):
            assert re.search(re.escape(composite) + r"</b><br/><font point-size='8'>" + shape, source), composite


def test_every_operand_is_drawn_constants_apart_and_small_ones_inline():
    conv = nn.Conv2d(1, 1, 3)
    x = tg.randn(1, 1, 5, 5, requires_grad=True)
    conv(x).sum().backward(create_graph=True)
    source = viz.draw_graph(x.grad, params={"input": x, **dict(conv.named_parameters())}).source
    constants = re.findall(r"^\s*(c\w+) \[label=<<table .*?<b>dY</b> <font point-size='8'>d loss / d out of "
                           r"conv2d k=3 s=1 p=0</font></td></tr><tr><td><font point-size='8'>9x1<", source, re.M)
    assert len(constants) == 1  # the upstream gradient, named, at the matmul that makes dX's windows
    assert re.search(rf"^\s*{constants[0]} -> f\w+ \[label=left color=\"#999999\" fontcolor=\"#555555\" "
                     rf"fontsize=8 style=dashed\]", source, re.M)  # dY is the product's left operand
    bn = nn.BatchNorm2d(2)
    forward = viz.draw_graph(bn(tg.randn(4, 2, 3, 3, requires_grad=True)).relu().sum()).source
    assert "<b>add 1e-05</b>" in forward  # batch norm's eps, inline
    assert "mask 4x2x3x3 " in _plain(forward)  # relu's routing mask


def test_focus_depth_and_slide_preset():
    model = LeNet5()
    x = tg.randn(2, 1, 28, 28, requires_grad=True)
    loss = F.cross_entropy(model(x), tg.tensor([3, 7]))
    params = {**dict(model.named_parameters()), "input": x}
    part = viz.draw_graph(loss, model=model, params=params, focus="conv2").source
    assert "conv2.weight" in part and "conv1.weight" not in part and "fc1" not in part
    assert "from MaxPool2d pool1" in part and "to ReLU relu2" in part  # what flows in and out: module names
    assert "\toutput [" not in part  # the loss is not part of conv2
    assert "<b>matmul</b>" in viz.draw_graph(loss, model=model, focus="linear").source  # a composite by name
    with pytest.raises(ValueError, match="nothing in the graph belongs to 'conv9'; modules and composites: .*conv1"):
        viz.draw_graph(loss, model=model, focus="conv9")
    shallow = viz.draw_graph(loss, model=model, max_depth=1).source
    assert shallow.count("subgraph cluster_") == 2 and "label=LeNet5" in shallow  # LeNet5 and cross_entropy
    assert '"Conv2d conv1"' not in shallow  # nothing nested deeper
    small = viz.draw_graph(loss, model=model, params=params, preset="slide", focus="conv1").source
    assert "rankdir=LR" in small and "fontsize=16" in small  # a part that fits a row goes left to right
    assert re.search(r'viewport="1440,810,[\d.]+"', small) and "dpi=96" in small  # a 1920x1080 canvas
    assert "paths meet" not in small and "parameter</td>" in small  # the legend names only what is drawn


def test_small_results_show_their_values_in_the_op_node():
    image = tg.tensor([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
                      dtype=tg.float32).reshape(1, 1, 5, 5).requires_grad_()
    kernel = tg.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=tg.float32).reshape(1, 1, 3, 3)
    source = viz.draw_graph(F.conv2d(image, kernel).sum(), params={"input": image}).source
    assert "matmul 9x1 float32 4 3 4 2 4 3 2 3 4 " in _plain(source)  # the lecture's result, at the matmul
    windows = [1, 1, 1, 0, 1, 1, 0, 0, 1]  # the first row of the 9x9 windows matrix (all 81 numbers are drawn)
    assert "9x9 float32 " + " ".join(map(str, windows)) in _plain(source)
    assert "4 3 4 2" not in _plain(viz.draw_graph(F.conv2d(image, kernel).sum(), show_values=False).source)
    cells = re.findall(r"<td align='right'>&nbsp;(-?\d+)</td>", source)
    assert len(cells) >= 81 + 81  # im2col's windows and their 9x9 reshape, every number in its own aligned cell


def test_one_description_decides_what_every_renderer_draws():
    """The graphviz drawing is a rendering of viz.description's nodes, clusters and edges."""
    model = LeNet5()
    x = tg.randn(2, 1, 28, 28, requires_grad=True)
    loss = F.cross_entropy(model(x), tg.tensor([3, 7]))
    drawing = describe.describe(loss, model=model, params={**dict(model.named_parameters()), "input": x},
                                group_composites="collapse")
    roles = {node.role for node in drawing.nodes}
    assert {"input", "parameter", "composite", "output"} <= roles
    conv1 = next(n for n in drawing.nodes if n.name == "conv2d k=5 s=1 p=2" and n.note == "2x20x28x28")
    assert [drawing.clusters[c].title for c in conv1.cluster] == ["LeNet5", "Conv2d conv1"]
    source = viz.to_graphviz(drawing).source
    for node in drawing.nodes:
        assert re.search(rf"^\s*{node.id} \[", source, re.M), node
    assert len(re.findall(r"^\s*\w+ -> \w+", source, re.M)) == len(drawing.edges)


def test_operands_are_drawn_by_role():
    image = tg.randn(1, 1, 5, 5, requires_grad=True)
    kernel = nn.Parameter(tg.randn(1, 1, 3, 3))
    upstream = tg.randn(1, 1, 3, 3)
    F.conv2d(image, kernel).backward(upstream, create_graph=True)
    names = {"image": image, "filter": kernel}
    dx, drawing = describe.describe(image.grad, params=names), describe.describe(kernel.grad, params=names)
    roles = {node.name: node.role for node in dx.nodes + drawing.nodes}
    assert roles["image"] == "input" and roles["filter"] == "parameter"  # any non-Parameter leaf is an input
    assert roles["dY"] == "upstream" and roles["reshape: X_cols (saved)"] == "primitive"
    dy = next(node for node in drawing.nodes if node.role == "upstream")
    assert dy.note == "d loss / d out of conv2d k=3 s=1 p=0" and dy.shape == (9, 1)  # dY as a column
    assert dy.values.reshape(-1).tolist() == upstream.numpy().reshape(-1).tolist()
    product = {(e.source, e.operand) for e in drawing.edges if e.operand}
    assert {operand for _, operand in product} == {"left", "right"}  # dW = X_cols^T (left) . dY (right)
    source = viz.draw_graph(kernel.grad, params={"image": image, "filter": kernel}).source
    assert re.search(r'label=<<table.*<b>image</b>.*fillcolor="#FFB366"', source)  # orange, an input
    collapsed = describe.describe(image.grad, params={"image": image}, group_composites="collapse")
    assert any(node.role == "upstream" for node in collapsed.nodes)  # dY stays in the collapsed view


def test_backward_graphs_are_grouped_by_the_forward_module_whose_gradient_they_compute():
    model = LeNet5()
    x = tg.randn(2, 1, 28, 28, requires_grad=True)
    F.cross_entropy(model(x), tg.tensor([3, 7])).backward(create_graph=True)
    drawing = describe.describe(x.grad, model=model, params={"input": x}, group_composites="collapse")
    titles = {c.title for c in drawing.clusters.values()}
    assert {"LeNet5 backward", "Conv2d conv1 backward", "MaxPool2d pool2 backward", "Linear fc1 backward"} <= titles
    conv1 = next(n for n in drawing.nodes if n.name.startswith("conv2d k=5 s=1 p=2 backward")
                 and [drawing.clusters[c].title for c in n.cluster][-1] == "Conv2d conv1 backward")
    assert conv1.name.endswith("dX = col2im(dY · Wᵀ), dW = X_colsᵀ · dY") and conv1.note == "2x1x28x28"
    part = describe.describe(x.grad, model=model, focus="conv1")  # a module's focus takes in its backward too
    assert any(n.name == "col2im" for n in part.nodes)


def test_max_pooling_mask_is_drawn_in_the_inputs_layout():
    x = tg.tensor([[1.0, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]).reshape(1, 1, 4, 4).requires_grad_()
    upstream = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    F.max_pool2d(x, 2).backward(upstream.reshape(1, 1, 2, 2), create_graph=True)
    mask = next(n for n in describe.describe(x.grad, params={"input": x, "dY": upstream}).nodes if n.role == "mask")
    assert mask.shape == (1, 1, 4, 4) and "input's layout" in mask.note
    assert mask.values[0, 0].tolist() == [[0, 0, 0, 0], [0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 1]]  # the maxima


def test_an_edge_out_of_a_collapsed_node_says_what_it_carries_when_it_is_not_the_nodes_result():
    model = LeNet5()
    x = tg.randn(2, 1, 28, 28, requires_grad=True)
    F.cross_entropy(model(x), tg.tensor([3, 7])).backward(create_graph=True)
    drawing = describe.describe(x.grad, model=model, group_composites="collapse")
    carried = {e.carries for e in drawing.edges if e.carries}
    assert "25x20 (saved)" in carried and "2450x500 (saved)" in carried  # conv1's and fc1's weight matrices


def test_only_forward_results_are_called_saved():
    x = tg.tensor([[1.0, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]).reshape(1, 1, 4, 4).requires_grad_()
    upstream = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    F.max_pool2d(x, 2).backward(upstream.reshape(1, 1, 2, 2), create_graph=True)  # a reshape of the upstream
    names = [n.name for n in describe.describe(x.grad, params={"input": x, "dY": upstream}).nodes]
    assert not any("saved" in name for name in names)  # max pooling's backward reads no forward result here
