"""The CuPy backend: the same code on an NVIDIA GPU. Every test here skips, with its reason, where
CuPy or a GPU is absent; the rest of the suite also runs its `device` cases on CUDA."""
import numpy as np
import pytest

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import backend
from tinygrad_cnn.models import LeNet5

pytestmark = pytest.mark.skipif(not tg.cuda.is_available(), reason="CUDA cases skipped: CuPy or an NVIDIA GPU is absent")


def test_moving_between_devices():
    x = tg.tensor([[1.0, 2.0]], device="cuda")
    assert x.device == "cuda" and x.is_cuda and str(x.device) == "cuda"
    assert x.cpu().device == "cpu" and x.cpu().cuda().device == "cuda" and x.to("cpu").tolist() == [[1.0, 2.0]]
    with pytest.raises(TypeError, match=r"Use Tensor.cpu\(\)"):
        x.numpy()
    assert x.cpu().numpy().tolist() == [[1.0, 2.0]]


def test_mixing_devices_names_both():
    with pytest.raises(RuntimeError, match="cpu and cuda|cuda and cpu"):
        tg.ones(2, device="cuda") + tg.ones(2)
    with pytest.raises(RuntimeError, match="cpu and cuda"):
        tg.cat([tg.ones(2, device="cuda"), tg.ones(2)])


def test_gradients_flow_across_a_device_copy():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x.cuda() * 3).sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_lenet_on_cuda_matches_the_cpu(batch_norm):
    cpu = LeNet5(batch_norm=batch_norm)
    gpu = LeNet5(batch_norm=batch_norm)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    x = np.random.default_rng(0).standard_normal((8, 1, 28, 28)).astype(np.float32)
    y = np.arange(8) % 10
    losses = []
    for model, device in ((cpu, "cpu"), (gpu, "cuda")):
        opt = tg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(tg.tensor(x, device=device)), tg.tensor(y, device=device))
            loss.backward()
            opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    gpu_state = gpu.state_dict()
    for key, value in cpu.state_dict().items():
        np.testing.assert_allclose(gpu_state[key].cpu().numpy(), value.numpy(), rtol=1e-3, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("layout", ["rows", "kernel"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_windows_on_cuda_match_the_cpu(layout, channels_last):
    from tinygrad_cnn.ops import Col2Im, Im2Col

    x = np.random.default_rng(1).standard_normal((2, 3, 9, 7)).astype(np.float32)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    args = dict(kernel=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2), layout=layout)
    expected = Im2Col(**args).forward(x)
    got = Im2Col(**args).forward(backend.to_device(x, "cuda"))
    np.testing.assert_array_equal(backend.to_numpy(got), expected)
    back = Col2Im(input_size=(9, 7), **args)
    np.testing.assert_allclose(backend.to_numpy(back.forward(got)), back.forward(expected), rtol=1e-6)


def test_save_load_and_drawing_from_cuda(tmp_path):
    model = LeNet5().to("cuda")
    tg.save(model.state_dict(), tmp_path / "m.npz")
    state = tg.load(tmp_path / "m.npz")
    assert state["conv1.weight"].device == "cpu"
    assert tg.load(tmp_path / "m.npz", map_location="cuda")["conv1.weight"].device == "cuda"
    from tinygrad_cnn.viz.graph import draw_graph

    x = tg.randn(1, 1, 28, 28, device="cuda")
    source = draw_graph(model(x).sum(), model=model, show_grads=True).source
    assert "Conv2d conv1" in source


def test_cli_trains_on_cuda(tmp_path):
    from tinygrad_cnn.__main__ import main

    assert main(["train", "--device", "cuda", "--epochs", "1", "--train-limit", "64", "--test-limit", "50",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "checkpoint.npz").exists()
