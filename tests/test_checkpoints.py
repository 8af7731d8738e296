"""PyTorch checkpoint files: read without torch and without running pickled code, written for torch.load."""
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import nn

from .helpers import requires_torch, torch

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def expected_parameter(i, shape):
    """What make_torch_checkpoints.py put in parameter i: arange / 10 + i."""
    return (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 10 + i).astype(np.float32)


@pytest.mark.parametrize("name", ["torch_zip.pt", "torch_legacy.pt"])
def test_a_torch_written_checkpoint_loads_without_torch(name):
    checkpoint = tg.load(os.path.join(FIXTURES, name))
    assert checkpoint["epoch"] == 12 and checkpoint["best_prec1"] == 91.5 and checkpoint["arch"] == "tiny"
    state = checkpoint["state_dict"]
    assert isinstance(state, collections.OrderedDict)
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                           "1.num_batches_tracked", "3.weight", "3.bias"]
    shapes = {"0.weight": (2, 1, 3, 3), "0.bias": (2,), "1.weight": (2,), "1.bias": (2,), "3.weight": (3, 18),
              "3.bias": (3,)}
    for i, (key, shape) in enumerate(shapes.items()):
        np.testing.assert_array_equal(state[key].numpy(), expected_parameter(i, shape))
    np.testing.assert_array_equal(state["1.running_var"].numpy(), [2.0, 2.0])
    assert state["1.num_batches_tracked"].dtype == tg.int64 and state["1.num_batches_tracked"].item() == 7
    transposed = checkpoint["transposed"]  # saved as a non-contiguous view: strides are honoured
    assert transposed.dtype == tg.float64
    np.testing.assert_array_equal(transposed.numpy(), np.arange(6.0).reshape(2, 3).T)


def test_a_torch_state_dict_loads_into_the_twin_model():
    state = tg.load(os.path.join(FIXTURES, "torch_zip.pt"))["state_dict"]
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(18, 3))
    model.load_state_dict(state)
    np.testing.assert_array_equal(model[3].bias.detach().numpy(), expected_parameter(5, (3,)))


def malicious_pickle(marker):
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps({"state_dict": Payload()}, protocol=2)


def test_a_pickle_that_calls_os_system_is_refused_in_a_zip_checkpoint(tmp_path):
    marker = tmp_path / "pwned"
    with zipfile.ZipFile(tmp_path / "evil.pt", "w") as archive:
        archive.writestr("evil/data.pkl", malicious_pickle(marker))
        archive.writestr("evil/version", "3\n")
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle the global (posix|os|nt)\.system"):
        tg.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_a_legacy_file_with_a_malicious_object_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    header = b"".join(pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))
    (tmp_path / "evil.pth").write_bytes(header + malicious_pickle(marker))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        tg.load(tmp_path / "evil.pth")
    assert not marker.exists()


def test_other_code_carrying_globals_and_builds_are_refused(tmp_path):
    for payload in (pickle.dumps(print, protocol=2), pickle.dumps(collections.Counter("ab"), protocol=2)):
        with zipfile.ZipFile(tmp_path / "x.pt", "w") as archive:
            archive.writestr("x/data.pkl", payload)
        with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle the global builtins.print|"
                                                          "collections.Counter"):
            tg.load(tmp_path / "x.pt")


def test_a_tensor_reaching_past_its_storage_is_an_error_not_a_read_of_other_memory(tmp_path):
    data = io.BytesIO()
    tg.save({"w": tg.ones(4)}, data)
    archive = zipfile.ZipFile(io.BytesIO(data.getvalue()))
    pkl = archive.read("archive/data.pkl").replace(b"K\x04\x85", b"K\x40\x85")  # size (4,) -> (64,)
    with zipfile.ZipFile(tmp_path / "long.pt", "w") as out:
        for name in archive.namelist():
            out.writestr(name, pkl if name.endswith("data.pkl") else archive.read(name))
    with pytest.raises(ValueError, match="reaches element 63 of a storage of 4"):
        tg.load(tmp_path / "long.pt")


def test_save_writes_torch_format_for_torch_suffixes_and_reads_it_back(tmp_path):
    checkpoint = {"model": nn.Linear(3, 2).state_dict(), "epoch": 5, "history": [0.5, np.float64(0.25)],
                  "half": tg.ones(2).half(), "flags": tg.tensor([True, False]), "pair": (1, "a")}
    tg.save(checkpoint, tmp_path / "c.pth")
    assert zipfile.is_zipfile(tmp_path / "c.pth")
    assert "archive/data.pkl" in zipfile.ZipFile(tmp_path / "c.pth").namelist()
    back = tg.load(tmp_path / "c.pth")
    np.testing.assert_array_equal(back["model"]["weight"].numpy(), checkpoint["model"]["weight"].numpy())
    assert back["history"] == [0.5, 0.25] and back["pair"] == (1, "a") and back["half"].dtype == tg.float16
    tg.save(checkpoint, tmp_path / "c.npz")  # this library's own format where the name says so
    assert "__tinygrad_cnn_structure__.npy" in zipfile.ZipFile(tmp_path / "c.npz").namelist()


@requires_torch
def test_torch_reads_what_tg_save_writes_with_weights_only(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    model(tg.randn(2, 1, 5, 5))
    tg.save({"state_dict": model.state_dict(), "epoch": 3, "p": nn.Parameter(tg.ones(2, 3).T)}, tmp_path / "m.pt")
    back = torch.load(tmp_path / "m.pt", weights_only=True)
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    twin.load_state_dict(back["state_dict"])
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(back["state_dict"][key].numpy(), value.numpy(force=True))
    assert back["epoch"] == 3 and isinstance(back["p"], torch.nn.Parameter)
    np.testing.assert_array_equal(back["p"].detach().numpy(), np.ones((3, 2)))
    x = np.random.default_rng(0).standard_normal((1, 1, 5, 5)).astype(np.float32)
    model.eval(), twin.eval()
    np.testing.assert_allclose(model(tg.tensor(x)).detach().numpy(), twin(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    torch.load(tmp_path / "m.pt", weights_only=True, mmap=True)  # the records are 64-byte aligned


@requires_torch
@pytest.mark.parametrize("legacy", [False, True])
def test_what_torch_save_writes_loads_here(tmp_path, legacy):
    twin = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    twin(torch.randn(2, 3, 6, 6))
    checkpoint = {"state_dict": twin.state_dict(), "optimizer": torch.optim.SGD(twin.parameters(), 0.1,
                                                                                  momentum=0.9).state_dict(),
                  "bf16": torch.tensor([1.5, -2.25], dtype=torch.bfloat16), "view": torch.arange(12.0)[3:9:2]}
    torch.save(checkpoint, tmp_path / "t.pt", _use_new_zipfile_serialization=not legacy)
    back = tg.load(tmp_path / "t.pt")
    for key, value in twin.state_dict().items():
        np.testing.assert_array_equal(back["state_dict"][key].numpy(), value.numpy())
    assert back["optimizer"]["param_groups"][0]["momentum"] == 0.9
    np.testing.assert_array_equal(back["bf16"].numpy(), [1.5, -2.25])  # bfloat16 read as float32
    np.testing.assert_array_equal(back["view"].numpy(), [3.0, 5.0, 7.0])
