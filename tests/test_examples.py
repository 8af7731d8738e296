"""Each example runs as a script on a tiny setting, and the walkthrough's asserted numbers hold."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_MNIST = os.path.join(ROOT, "..", "shared", "datasets", "mnist")


def run_example(name, *args, cwd):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args], capture_output=True,
                            text=True, cwd=cwd, timeout=600, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                filter(None, [ROOT, os.environ.get("PYTHONPATH")]))})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_train_lenet(tmp_path):
    out = run_example("train_lenet.py", "--epochs", "1", "--limit", "64", cwd=tmp_path)
    assert "epoch 1: last batch loss" in out and (tmp_path / "lenet5_digits.npz").exists()


@pytest.mark.skipif(not os.path.exists(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")),
                    reason="the real MNIST test set is not at ../shared/datasets/mnist")
def test_mnist_lenet(tmp_path):
    out = run_example("mnist_lenet.py", "--root", SHARED_MNIST, "--test-only-split", "--epochs", "1", "--limit",
                      "128", cwd=tmp_path)
    assert "epoch 1: test accuracy" in out


def test_batchnorm_effect(tmp_path):
    out = run_example("batchnorm_effect.py", "--epochs", "1", "--limit", "64", cwd=tmp_path)
    assert "with BN" in out and "without BN" in out


def test_lessons_write_their_pictures_to_a_temporary_folder_by_default(tmp_path):
    for name in ("conv_backprop_walkthrough.py", "maxpool_backward.py", "batchnorm_backward.py", "transposed_conv.py"):
        out = run_example(name, cwd=tmp_path)
        assert "wrote " in out and list(tmp_path.iterdir()) == [], name  # nothing in the current folder


def test_maxpool_backward_lesson(tmp_path):
    out = run_example("maxpool_backward.py", "--out", str(tmp_path), cwd=tmp_path)
    assert "dX by hand equals autograd's" in out and "[[5, 7], [8, 15]]" in out and "as in PyTorch" in out
    assert {p.name for p in tmp_path.iterdir()} >= {"maxpool_forward.svg", "maxpool_backward.svg",
                                                    "maxpool_backward_slide.png"} or \
        {p.name for p in tmp_path.iterdir()} >= {"maxpool_forward.dot", "maxpool_backward.dot"}


def test_batchnorm_backward_lesson(tmp_path):
    out = run_example("batchnorm_backward.py", "--out", str(tmp_path), cwd=tmp_path)
    assert "dx by hand (closed form)" in out and "dx sums to zero over the batch: True" in out
    assert "running var  2.16667" in out and "fused conv" in out


def test_transposed_conv_lesson(tmp_path):
    out = run_example("transposed_conv.py", "--out", str(tmp_path), cwd=tmp_path)
    assert "the same: a transposed conv is a conv's input gradient" in out and "and by hand" in out


def test_conv_backprop_walkthrough(tmp_path):
    out = run_example("conv_backprop_walkthrough.py", "--out", str(tmp_path), cwd=tmp_path)
    assert "[[4. 3. 4.]" in out and "dW by hand equals autograd's dW" in out
    assert "a transposed conv is a conv's input gradient" in out
    assert "receptive field" in out


NOTEBOOK = os.path.join(ROOT, "examples", "notebooks", "cnn_lecture.ipynb")


def test_the_lecture_notebook_is_committed_without_outputs():
    import json

    with open(NOTEBOOK) as f:
        notebook = json.load(f)
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


def run_notebook(tmp_path):
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed, so the notebook is not run "
                                                      "(pip install -e '.[test]')")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed, so the notebook is not run")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed, so the notebook is not run")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on any failing cell
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]


def test_the_lecture_notebook_runs_and_is_reproducible(tmp_path):
    outputs = run_notebook(tmp_path)
    text = "".join(o.get("text", "") for o in outputs)
    assert "[[4. 3. 4.]" in text and "L=4: 9 pixels" in text and "fused conv == conv then batch norm: True" in text
    if shutil.which("dot"):  # the conv forward, dX, dW, max pooling's and batch norm's backward, inline
        assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) == 5
    pages = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(pages) == 5 and all("frame.srcdoc" in page and "graph-data" in page for page in pages)
    assert os.path.exists(tmp_path / "conv_graph.html")
    again = "".join(o.get("text", "") for o in run_notebook(tmp_path))
    assert again == text  # seeded: a second run prints exactly the same
