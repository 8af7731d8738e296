"""PyTorch programs written the way PyTorch users write them (tests/programs/) run with only their
``import torch`` / ``import torchvision`` lines changed, and do what they say (their own asserts and a
RESULT line this test checks). Where torch is installed, those that need no torchvision run under
torch too, unchanged, as the reference."""
import os
import re
import subprocess
import sys
import gzip
import io
import struct
import tarfile

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn.data import cifar
from tinygrad_cnn.data.digits import MEAN, STD

from .helpers import requires_torch

PROGRAMS = os.path.join(os.path.dirname(__file__), "programs")


def port(source):
    """The program with its torch imports pointed at tinygrad_cnn: ``import torch`` becomes ``import
    tinygrad_cnn as torch``, ``torch.x`` becomes ``tinygrad_cnn.x`` and ``torchvision`` ``tinygrad_cnn.vision``
    in import lines; nothing else changes."""
    out = []
    for line in source.splitlines():
        match = re.match(r"^(\s*)(import|from)\s+(torchvision|torch)(\.[\w.]+)?(\s.*)?$", line)
        if match:
            indent, keyword, top, rest, tail = match.groups()
            module = ("tinygrad_cnn.vision" if top == "torchvision" else "tinygrad_cnn") + (rest or "")
            tail = tail or ""
            if keyword == "import" and not tail.strip().startswith("as"):
                tail = f" as {top}{rest or ''}" if not rest else tail
            line = f"{indent}{keyword} {module}{tail}"
        out.append(line)
    return "\n".join(out) + "\n"


def test_port_changes_only_import_lines():
    source = ("import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader\n"
              "from torchvision import datasets, transforms\nimport torchvision.utils as vutils\n"
              "import torchvision\nx = torch.zeros(1)  # import torch stays in a comment\n")
    assert port(source) == (
        "import tinygrad_cnn as torch\nimport tinygrad_cnn.nn as nn\nfrom tinygrad_cnn.utils.data import DataLoader\n"
        "from tinygrad_cnn.vision import datasets, transforms\nimport tinygrad_cnn.vision.utils as vutils\n"
        "import tinygrad_cnn.vision as torchvision\nx = torch.zeros(1)  # import torch stays in a comment\n")


def write_idx(path, array):
    header = struct.pack(">I", (0x08 << 8) | array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """MNIST IDX files made of the embedded digits (torchvision's layout), and a small CIFAR-10 binary
    archive whose ten classes differ by colour, so that a few epochs can learn them."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, train in (("train", True), ("t10k", False)):
        images, labels = tg.data.digits(train=train).arrays
        pixels = np.clip((images[:, 0] * STD + MEAN) * 255, 0, 255).round()
        write_idx(str(raw / f"{prefix}-images-idx3-ubyte.gz"), pixels)
        write_idx(str(raw / f"{prefix}-labels-idx1-ubyte.gz"), labels)
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (10, 3, 1, 1))
    with tarfile.open(root / cifar.ARCHIVE, "w:gz") as archive:
        for name in cifar.TRAIN_FILES + cifar.TEST_FILES:
            labels = rng.integers(0, 10, 200)
            images = np.clip(palette[labels] + rng.normal(0, 25, (200, 3, 32, 32)), 0, 255).astype(np.uint8)
            records = np.concatenate([labels[:, None].astype(np.uint8), images.reshape(200, -1)], axis=1).tobytes()
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(records)
            archive.addfile(info, io.BytesIO(records))
    return root


def run(program, data_root, tmp_path, ported=True):
    source = open(os.path.join(PROGRAMS, program)).read()
    script = tmp_path / program
    script.write_text(port(source) if ported else source)
    env = dict(os.environ, DATA=str(data_root), PYTHONUNBUFFERED="1")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = re.search(r"^RESULT (.*)$", done.stdout, re.M)
    assert result, done.stdout[-2000:]
    return dict(pair.split("=") for pair in result.group(1).split()), done.stdout


def test_the_standard_mnist_loop(data_root, tmp_path):
    result, out = run("mnist_cnn.py", data_root, tmp_path)
    assert float(result["accuracy"]) > 0.5 and result["lr"] == "0.70"  # one epoch of 23 steps; chance is 0.1
    assert "Test set: Average loss:" in out
    state = tg.load(tmp_path / "mnist_cnn.pt")
    assert set(state) == {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                          "fc2.weight", "fc2.bias"} and state["fc1.weight"].shape == (128, 9216)


def test_the_cifar10_classifier_tutorial(data_root, tmp_path):
    result, out = run("cifar_classifier.py", data_root, tmp_path)
    assert float(result["accuracy"]) > 0.5, out[-1500:]  # ten colours, learnt in two epochs
    assert "Accuracy for class: plane" in out and (tmp_path / "batch.png").stat().st_size > 0


def test_a_resnet_trainer_with_workers_dataparallel_and_a_checkpoint(data_root, tmp_path):
    result, _ = run("resnet_trainer.py", data_root, tmp_path)
    assert np.isfinite(float(result["loss"])) and 0 <= float(result["prec1"]) <= 100
    checkpoint = tg.load(tmp_path / "checkpoint.th")
    assert all(key.startswith("module.") for key in checkpoint["state_dict"])


def test_a_dcgan_training_step(data_root, tmp_path):
    result, _ = run("dcgan_step.py", data_root, tmp_path)
    assert all(np.isfinite(float(v)) for v in result.values())
    assert float(result["first_errD"]) != float(result["last_errD"])


@pytest.mark.parametrize("program", ["checkpoint_roundtrip.py", "nn_tutorial.py"])
def test_programs_without_torchvision(program, data_root, tmp_path):
    result, _ = run(program, data_root, tmp_path)
    assert result


@requires_torch
@pytest.mark.parametrize("program", ["checkpoint_roundtrip.py", "nn_tutorial.py"])
def test_the_same_programs_run_unchanged_under_torch(program, data_root, tmp_path):
    result, _ = run(program, data_root, tmp_path, ported=False)
    assert result
