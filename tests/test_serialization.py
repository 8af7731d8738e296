"""tg.save / tg.load and PyTorch interop."""
import os

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn.models import LeNet5

from .helpers import requires_torch, torch


def test_nested_state_roundtrip_without_pickle(tmp_path, device):
    obj = {"model": {"w": tg.randn(2, 3, device=device), "n": tg.tensor(3)}, "epoch": 4, "lr": 0.1,
           "names": ["a", "b"], "pair": (1, 2.5), "none": None, 7: "int key"}
    path = tmp_path / "state.npz"
    tg.save(obj, path)
    back = tg.load(path)
    np.testing.assert_array_equal(back["model"]["w"].numpy(), obj["model"]["w"].cpu().numpy())
    assert back["model"]["n"].dtype == tg.int64 and back["epoch"] == 4 and back["names"] == ["a", "b"]
    assert back["pair"] == (1, 2.5) and back["none"] is None and back[7] == "int key"
    assert np.load(path, allow_pickle=False) is not None  # readable without pickle


def test_failed_save_leaves_no_file(tmp_path):
    with pytest.raises(TypeError, match="cannot store an object of type object"):
        tg.save({"bad": object()}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_truncated_or_foreign_files_give_clear_errors(tmp_path):
    path = tmp_path / "m.npz"
    tg.save(LeNet5().state_dict(), path)
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or not an .npz file"):
        tg.load(tmp_path / "cut.npz")
    np.savez(tmp_path / "pickled.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="holds pickled Python objects; tinygrad_cnn reads only plain arrays") as info:
        tg.load(tmp_path / "pickled.npz")
    assert "allow_pickle" not in str(info.value)  # no hint to load it unsafely
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="truncated or not an .npz file"):
        tg.load(tmp_path / "text.npz")


def test_model_save_load_gives_identical_outputs(tmp_path):
    model = LeNet5(batch_norm=True)
    model(tg.randn(4, 1, 28, 28))  # move BN statistics
    tg.save(model.state_dict(), tmp_path / "m.npz")
    other = LeNet5(batch_norm=True)
    other.load_state_dict(tg.load(tmp_path / "m.npz"))
    x = tg.randn(2, 1, 28, 28)
    model.eval(), other.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), other(x).detach().numpy())


@requires_torch
def test_state_dicts_move_between_torch_and_tinygrad_cnn():
    from tinygrad_cnn.utils import to_torch_state_dict

    from .test_lenet import TorchLeNet5

    theirs = TorchLeNet5(batch_norm=True)
    ours = LeNet5(batch_norm=True)
    ours.load_state_dict(theirs.state_dict())  # torch tensors accepted directly
    theirs.load_state_dict(to_torch_state_dict(ours))
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(tg.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_files_name_their_arrays_by_path_and_foreign_arrays_load(tmp_path):
    model = LeNet5()
    tg.save(model.state_dict(), tmp_path / "model.npz")
    names = np.load(tmp_path / "model.npz").files
    assert names[:3] == ["conv1.weight", "conv1.bias", "conv2.weight"]  # readable with NumPy alone
    np.testing.assert_array_equal(np.load(tmp_path / "model.npz")["fc2.bias"], model.fc2.bias.detach().numpy())
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(tg.randn(2, 1, 28, 28)).sum().backward()
    optimizer.step()
    tg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}, tmp_path / "c.npz")
    names = np.load(tmp_path / "c.npz").files
    assert "model/conv1.weight" in names and "optimizer/state/0/momentum_buffer" in names
    back = tg.load(tmp_path / "c.npz")
    assert back["epoch"] == 3 and set(back["model"]) == set(model.state_dict())
    np.savez(tmp_path / "foreign.npz", weight=np.ones((2, 3)), bias=np.zeros(2))
    foreign = tg.load(tmp_path / "foreign.npz")
    assert set(foreign) == {"weight", "bias"} and foreign["weight"].shape == (2, 3)
    linear = tg.nn.Linear(3, 2).double()
    linear.load_state_dict(foreign)
    assert linear.weight.detach().numpy().sum() == 6
    np.save(tmp_path / "one.npy", np.arange(3.0))
    assert tg.load(tmp_path / "one.npy").tolist() == [0.0, 1.0, 2.0]
