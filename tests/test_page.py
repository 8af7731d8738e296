"""The interactive page: what it holds (tested here in Python) and what it does in a real browser
(headless Chromium driven by Selenium; skipped, with the reason, where either is missing).

Screenshots of every browser test are written to ``$TGVIZ_SCREENSHOTS`` (default: pytest's temporary
directory), to be looked at."""
import json
import os
import re
import shutil

import numpy as np
import pytest

import tinygrad_cnn as tg

from tinygrad_cnn.autograd import _backward_order
from tinygrad_cnn.viz.graph import LECTURE_FILTER, LECTURE_IMAGE, LECTURE_UPSTREAM, draw_graph, example_graph
from tinygrad_cnn.viz.page import notebook_html, page_data, page_html, save_html
from tinygrad_cnn.viz.steps import trace_backward


def _matrix(shown):
    return np.array([[float(x) for x in row if x is not None] for row in shown["matrix"]])


def _lecture():
    out, model, params = example_graph("conv")
    return out, model, params


# ---- what the page holds


def test_steps_follow_autograds_order_and_end_with_each_leafs_sum():
    out, model, params = _lecture()
    steps = trace_backward(out)
    functions = _backward_order([out.creator])
    assert [s.node for s in steps[:len(functions)]] == [f"f{id(fn)}" for fn in functions]
    assert [s.title for s in steps[:len(functions)]] == [f"{type(fn).__name__.lower()} backward" for fn in functions]
    leaves = {s.node for s in steps[len(functions):]}
    assert leaves == {f"t{id(params['input'])}", f"t{id(model.weight)}"}


def test_the_trace_touches_no_grad_and_keeps_the_graph():
    out, model, params = _lecture()
    steps = trace_backward(out)
    assert model.weight.grad is None and params["input"].grad is None
    out.backward()  # the graph was retained: a real backward still runs, and gives the traced sums
    sums = {s.node: s.grad for s in steps if s.title.endswith("AccumulateGrad")}
    np.testing.assert_array_equal(sums[f"t{id(model.weight)}"], model.weight.grad.numpy())
    np.testing.assert_array_equal(sums[f"t{id(params['input'])}"], params["input"].grad.numpy())


def test_the_lectures_matmul_step_has_the_lectures_numbers():
    out, model, params = _lecture()
    data = page_data(out, params=params, model=model)
    step = next(s for s in data["steps"] if s["title"] == "matmul backward")
    upstream = np.array(LECTURE_UPSTREAM, float)
    np.testing.assert_array_equal(_matrix(step["grad"]).reshape(3, 3), upstream)  # dY, one row per window
    windows = np.array([np.array(LECTURE_IMAGE)[i:i + 3, j:j + 3].reshape(-1) for i in range(3) for j in range(3)])
    reads = {r["what"]: _matrix(r["values"]) for r in step["reads"]}
    np.testing.assert_array_equal(reads["X_cols"], windows)  # saved
    np.testing.assert_array_equal(reads["W"].reshape(-1), np.array(LECTURE_FILTER).reshape(-1))
    sends = {s["what"]: _matrix(s["grad"]) for s in step["sends"]}
    filter_row = np.array(LECTURE_FILTER, float).reshape(1, 9)
    np.testing.assert_array_equal(sends["dX_cols"], upstream.reshape(9, 1) @ filter_row)  # dX_cols = dY · Wᵀ
    np.testing.assert_array_equal(sends["dW"].reshape(-1), windows.T @ upstream.reshape(-1))  # dW = X_colsᵀ · dY
    assert "dX_cols = dY · Wᵀ" in step["formula"]
    col2im = next(s for s in data["steps"] if s["title"] == "im2col backward")
    assert "col2im adds each window's gradient" in col2im["formula"]
    expected_dx = np.zeros((5, 5))
    for w, (i, j) in enumerate((i, j) for i in range(3) for j in range(3)):
        expected_dx[i:i + 3, j:j + 3] += upstream.reshape(-1)[w] * np.array(LECTURE_FILTER)
    np.testing.assert_array_equal(_matrix(col2im["sends"][0]["grad"]), expected_dx)


def test_every_node_shows_its_gradient_and_where_it_sits():
    out, model, params = example_graph("lenet5")
    data = page_data(out, params=params, model=model)
    nodes = {n["id"]: n for n in data["nodes"]}
    for step in data["steps"]:
        assert nodes[step["node"]]["grad"] is not None
    conv1 = next(n for n in data["nodes"] if n["name"] == "conv1.weight")
    assert conv1["path"] == "LeNet5 › Conv2d conv1" and conv1["shape"] == "20x1x5x5"
    assert conv1["grad"]["summary"].startswith("|x|=")  # 500 values: a summary
    im2col = next(n for n in data["nodes"] if n["name"] == "im2col" and "conv1" in n["path"])
    assert im2col["path"].endswith("conv2d k=5 s=1 p=2")
    clusters = {c["id"]: c["title"] for c in data["clusters"]}  # a large graph starts with its composites collapsed
    assert sorted(clusters[c] for c in data["collapsed"]) == sorted(
        ["conv2d k=5 s=1 p=2"] * 2 + ["max_pool2d k=2 s=2 p=0"] * 2 + ["relu"] * 3 +
        ["linear in=2450 out=500", "linear in=500 out=10", "cross_entropy reduction=mean"])


def test_a_freed_graph_gives_a_page_without_steps_that_says_why():
    out, model, params = _lecture()
    out.backward()
    data = page_data(out, params=params, model=model)
    assert data["steps"] == [] and "backward through the graph a second time" in data["freed"]


def test_the_page_is_one_file_that_needs_no_network(tmp_path):
    out, model, params = _lecture()
    path = save_html(draw_graph(out, params=params, model=model), tmp_path / "conv.html")
    text = open(path, encoding="utf-8").read()
    assert re.findall(r"(?:src|href)\s*=\s*['\"]?https?:", text) == []
    assert "<script src" not in text and "<link" not in text
    data = json.loads(re.search(r"<script id='graph-data' type='application/json'>(.*?)</script>", text, re.S)
                      .group(1).replace("<\\/", "</"))
    assert len(data["nodes"]) == 13 and len(data["steps"]) == 11
    assert save_html(out, tmp_path / "same.html", params=params, model=model)  # a tensor works too
    with pytest.raises(TypeError, match="save_html: expected draw_graph's result or a Tensor"):
        save_html("loss", tmp_path / "x.html")


def test_a_drawing_shows_in_a_notebook_as_the_page_over_the_static_svg():
    out, model, params = _lecture()
    drawing = draw_graph(out, params=params, model=model)
    bundle = drawing._repr_mimebundle_()
    fragment = bundle["text/html"]
    assert fragment == notebook_html(drawing, drawing.static_svg()) == drawing._repr_html_()
    assert "frame.srcdoc" in fragment and "replaceChildren(frame)" in fragment
    if shutil.which("dot"):
        assert "<svg" in fragment.split("<script>")[0]  # what stays where scripts do not run
    assert "graph-data" in page_html(out, params=params, model=model)


# ---- in a browser


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("the browser tests need selenium (pip install -e '.[test]')")
    driver_path = shutil.which("chromedriver")
    if _chromium() is None or driver_path is None:
        pytest.skip("the browser tests need Debian's chromium and chromium-driver (apt-get install chromium "
                    "chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = _chromium()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def screenshots(tmp_path_factory):
    folder = os.environ.get("TGVIZ_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots")
    os.makedirs(folder, exist_ok=True)
    return folder


def _open(browser, tmp_path, name, output, **options):
    path = save_html(output, tmp_path / f"{name}.html", **options)
    browser.get("file://" + os.path.abspath(path))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0  # nothing fetched
    return json.loads(browser.find_element("id", "graph-data").get_attribute("textContent"))


def _nodes(browser):
    return browser.find_elements("css selector", "#scene .node")


def _hover(browser, element):
    from selenium.webdriver import ActionChains
    ActionChains(browser).move_to_element(element).perform()


def test_hovering_a_node_shows_its_values_and_gradient(browser, tmp_path, screenshots):
    out, model, params = _lecture()
    data = _open(browser, tmp_path, "conv", out, params=params, model=model)
    matmul = next(n for n in data["nodes"] if n["name"] == "matmul")
    _hover(browser, browser.find_element("css selector", f".node[data-id='{matmul['id']}']"))
    details = browser.find_element("id", "details").text
    assert "matmul" in details and "in Conv2d › conv2d k=3 s=1 p=0" in details and "9x1 float32" in details
    numbers = [float(x) for x in browser.find_element("css selector", "#details table.values").text.split()]
    assert numbers == [4, 3, 4, 2, 4, 3, 2, 3, 4]  # the lecture's convolution, one window per row
    assert "gradient" in details
    browser.save_screenshot(os.path.join(screenshots, "page_conv_hover.png"))


def test_clusters_collapse_and_expand_in_place(browser, tmp_path, screenshots):
    out, model, params = example_graph("lenet5")
    data = _open(browser, tmp_path, "lenet5", out, params=params, model=model)
    start = len(_nodes(browser))
    assert start == len(browser.find_elements("css selector", "#scene .node.collapsed")) + \
        sum(1 for n in data["nodes"] if not any(c in data["collapsed"] for c in n["cluster"]))
    browser.find_element("id", "expand-all").click()
    assert len(_nodes(browser)) == len(data["nodes"])  # every primitive
    browser.save_screenshot(os.path.join(screenshots, "page_lenet5_expanded.png"))
    conv1 = next(c for c in data["clusters"] if c["title"] == "Conv2d conv1")
    inside = sum(1 for n in data["nodes"] if conv1["id"] in n["cluster"])
    browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))",
                           browser.find_element("css selector", f".cluster[data-cluster='{conv1['id']}'] .title-hit"))
    assert len(_nodes(browser)) == len(data["nodes"]) - inside + 1  # conv1 is one node now
    node = browser.find_element("css selector", f".node.collapsed[data-cluster='{conv1['id']}']")
    browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", node)
    assert len(_nodes(browser)) == len(data["nodes"])
    browser.find_element("id", "collapse-modules").click()
    assert len(_nodes(browser)) < start
    browser.save_screenshot(os.path.join(screenshots, "page_lenet5_modules.png"))


def test_find_opens_a_module_by_name(browser, tmp_path, screenshots):
    out, model, params = example_graph("lenet5")
    data = _open(browser, tmp_path, "lenet5", out, params=params, model=model)
    from selenium.webdriver.common.keys import Keys
    browser.find_element("id", "collapse-modules").click()
    box = browser.find_element("id", "find")
    box.send_keys("conv2", Keys.ENTER)
    conv2 = next(c for c in data["clusters"] if c["title"] == "Conv2d conv2")
    assert browser.find_elements("css selector", f".cluster[data-cluster='{conv2['id']}']")  # expanded, on view
    assert "Conv2d conv2" in browser.find_element("id", "details").text
    browser.save_screenshot(os.path.join(screenshots, "page_lenet5_find.png"))


def test_the_player_steps_through_the_backward_pass_in_autograds_order(browser, tmp_path, screenshots):
    from selenium.webdriver.common.keys import Keys
    out, model, params = _lecture()
    data = _open(browser, tmp_path, "conv", out, params=params, model=model)
    assert not browser.find_elements("css selector", ".node.lit")
    body = browser.find_element("tag name", "body")
    for k, step in enumerate(data["steps"], 1):
        body.send_keys(Keys.ARROW_RIGHT)
        lit = browser.find_elements("css selector", ".node.lit")
        assert [e.get_attribute("data-id") for e in lit] == [step["node"]]
        assert browser.find_element("id", "slider").get_attribute("value") == str(k)
        if step["title"] == "matmul backward":
            saved = {e.get_attribute("data-id") for e in browser.find_elements("css selector", ".node.saved")}
            assert saved == {r["node"] for r in step["reads"]}
            sent = {e.get_attribute("data-id") for e in browser.find_elements("css selector", ".node.sent")}
            assert sent == {s["node"] for s in step["sends"]}
            assert len(browser.find_elements("css selector", ".edge.grad-out")) == 2
            info = browser.find_element("id", "step-info").text
            assert "dX_cols = dY · Wᵀ" in info and "reads X_cols (saved: reshape)" in info and "sends dW" in info
            browser.save_screenshot(os.path.join(screenshots, "page_conv_matmul_step.png"))
    body.send_keys(Keys.ARROW_RIGHT)  # past the end: stays on the last step
    assert browser.find_element("id", "slider").get_attribute("value") == str(len(data["steps"]))
    browser.find_element("id", "prev").click()
    assert browser.find_element("css selector", ".node.lit").get_attribute("data-id") == data["steps"][-2]["node"]
    browser.find_element("id", "first").click()
    assert not browser.find_elements("css selector", ".node.lit")


def test_a_step_inside_a_collapsed_composite_lights_the_composite(browser, tmp_path):
    out, model, params = example_graph("lenet5")
    data = _open(browser, tmp_path, "lenet5", out, params=params, model=model)
    nodes = {n["id"]: n for n in data["nodes"]}
    k, step = next((k, s) for k, s in enumerate(data["steps"], 1) if s["title"] == "im2col backward")
    browser.execute_script("const s = document.getElementById('slider'); s.value = arguments[0]; "
                           "s.dispatchEvent(new Event('input'))", k)
    lit = browser.find_element("css selector", ".node.lit")
    outermost = next(c for c in nodes[step["node"]]["cluster"] if c in data["collapsed"])
    assert lit.get_attribute("data-cluster") == outermost


def test_in_a_notebook_the_page_replaces_the_svg_and_the_svg_stays_where_scripts_are_off(browser, tmp_path,
                                                                                          screenshots):
    if not shutil.which("dot"):
        pytest.skip("graphviz's dot is not installed, so there is no static SVG to fall back on")
    out, model, params = _lecture()
    fragment = draw_graph(out, params=params, model=model)._repr_mimebundle_()["text/html"]
    page = tmp_path / "notebook.html"
    page.write_text(f"<!DOCTYPE html><html><body><div id='cell'>{fragment}</div></body></html>", encoding="utf-8")
    browser.get(page.as_uri())  # the fragment's script runs, as in a trusted notebook
    frame = browser.find_element("css selector", "#cell iframe")
    assert not browser.find_elements("css selector", "#cell > div > svg")
    browser.switch_to.frame(frame)
    assert len(browser.find_elements("css selector", "#scene .node")) == 13
    browser.switch_to.default_content()
    browser.save_screenshot(os.path.join(screenshots, "page_in_notebook.png"))
    browser.execute_script("document.getElementById('cell').innerHTML = arguments[0]", fragment)  # scripts off
    assert browser.find_elements("css selector", "#cell svg") and not browser.find_elements("css selector", "iframe")


def test_the_conv_page_plays_the_animation(browser, tmp_path, screenshots):
    from tinygrad_cnn.viz.animation import conv_frames
    out, model, params = _lecture()
    frames = conv_frames()
    _open(browser, tmp_path, "conv_animated", out, params=params, model=model, animation=frames)
    browser.find_element("id", "show-animation").click()
    assert browser.find_element("id", "frame-label").text.startswith("1 / 27: Forward: window 1 of 9")
    for _ in range(13):
        browser.find_element("id", "frame-next").click()
    assert browser.find_element("id", "frame-label").text == f"14 / 27: {frames[13].title}"
    assert browser.execute_script("return document.querySelector('#frame-box svg').outerHTML").count("<rect") == \
        frames[13].svg.count("<rect")
    browser.save_screenshot(os.path.join(screenshots, "page_conv_animation.png"))
    browser.find_element("id", "close-animation").click()
    assert not browser.find_element("id", "animation").is_displayed()


def test_the_graph_command_writes_the_page(tmp_path, capsys):
    from tinygrad_cnn.__main__ import main
    path = tmp_path / "conv.html"
    assert main(["graph", "--model", "conv-demo", "--html", str(path)]) == 0
    assert "as a page to open in a browser" in capsys.readouterr().out
    text = path.read_text(encoding="utf-8")
    data = json.loads(re.search(r"<script id='graph-data' type='application/json'>(.*?)</script>", text, re.S)
                      .group(1).replace("<\\/", "</"))
    assert len(data["steps"]) == 11 and len(data["frames"]) == 27  # the conv demo's page plays its animation
    assert main(["graph", "--model", "lenet5", "--backward", "--collapse", "--html", str(tmp_path / "b.html")]) == 0
    data = json.loads(re.search(r"application/json'>(.*?)</script>", (tmp_path / "b.html").read_text(
        encoding="utf-8"), re.S).group(1).replace("<\\/", "</"))
    assert data["collapsed"] and "frames" not in data and data["title"] == "LeNet5: input.grad"


def test_the_trace_leaves_a_retained_gradient_as_it_was():
    x = tg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    loss = (y * y).sum()
    trace_backward(loss)
    assert y.grad is None and x.grad is None
