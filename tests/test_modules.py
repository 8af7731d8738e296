"""nn.Module and friends, against PyTorch's names, defaults and behaviour."""
import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import nn

from .helpers import requires_torch, torch


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(4, 2)
        self.register_buffer("scale", tg.ones(1))
        self.register_buffer("cache", tg.zeros(1), persistent=False)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3))) * self.scale


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                     "head.weight", "head.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "scale", "cache", "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked"]
    assert set(net.state_dict()) == set(names) | {"scale", "features.1.running_mean", "features.1.running_var",
                                                  "features.1.num_batches_tracked"}
    assert [n for n, _ in net.named_children()] == ["features", "head"]
    assert len(list(net.modules())) == 6
    assert isinstance(net.features[0], nn.Conv2d) and len(net.features) == 3
    assert isinstance(net.features[1:], nn.Sequential) and len(net.features[1:]) == 2


def test_train_eval_and_apply():
    net = Net().eval()
    assert not net.training and not net.features[1].training
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Net" and "Conv2d" in visited
    net.train()
    assert net.features[1].training


def test_zero_grad_sets_to_none_by_default():
    net = Net()
    net(tg.randn(2, 1, 5, 5)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    bad = dict(net.state_dict())
    bad["head.weight"] = tg.zeros(3, 4)
    bad["extra"] = tg.zeros(1)
    del bad["head.bias"]
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    message = str(info.value)
    assert 'Unexpected key(s) in state_dict: "extra"' in message
    assert 'Missing key(s) in state_dict: "head.bias"' in message
    assert "size mismatch for head.weight: copying a param with shape (3, 4) from checkpoint, the shape in " \
           "current model is (2, 4)" in message
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    result = net.load_state_dict({"head.bias": tg.ones(2), "extra": tg.ones(1)}, strict=False)
    assert result.unexpected_keys == ["extra"] and "head.weight" in result.missing_keys
    assert net.head.bias.detach().tolist() == [1.0, 1.0]


def test_setting_a_non_parameter_over_a_parameter_is_an_error():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        lin.weight = tg.zeros(2, 2)
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]


def test_forward_hooks_see_outputs_and_can_be_removed():
    seen = []
    lin = nn.Linear(3, 2)
    handle = lin.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    lin(tg.randn(4, 3))
    handle.remove()
    lin(tg.randn(4, 3))
    assert seen == [(4, 2)]


@requires_torch
def test_repr_matches_torch():
    if "bias=" not in repr(torch.nn.BatchNorm2d(1)):
        pytest.skip(f"PyTorch {torch.__version__}'s BatchNorm has no bias flag; the oracle is torch 2.13")
    ours = nn.Sequential(nn.Conv2d(1, 20, 5, padding=2), nn.BatchNorm2d(20), nn.ReLU(), nn.MaxPool2d(2, 2),
                         nn.Flatten(), nn.Linear(3920, 10), nn.Dropout(0.5), nn.LeakyReLU(0.1))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 20, 5, padding=2), torch.nn.BatchNorm2d(20), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2, 2), torch.nn.Flatten(), torch.nn.Linear(3920, 10),
                                 torch.nn.Dropout(0.5), torch.nn.LeakyReLU(0.1))
    assert repr(ours) == repr(theirs)


@requires_torch
@pytest.mark.parametrize("make", [lambda m: m.Linear(300, 40), lambda m: m.Conv2d(6, 16, 5),
                                  lambda m: m.Conv2d(8, 8, 3, groups=4)], ids=["linear", "conv", "grouped"])
def test_default_initialisation_has_torchs_bounds(make):
    """PyTorch's default: weight and bias uniform on +-1/sqrt(fan_in)."""
    ours, theirs = make(nn), make(torch.nn)
    fan_in = int(np.prod(theirs.weight.shape[1:]))
    bound = 1 / np.sqrt(fan_in)
    for (name, p), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        values = p.detach().numpy()
        assert values.shape == tuple(t.shape)
        assert np.abs(t.detach().numpy()).max() <= bound  # the formula is torch's
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.8 * bound, name


def test_init_functions_use_torchs_formulas():
    w = tg.empty(200, 100)
    nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
    assert abs(w.numpy().std() - np.sqrt(2 / 100)) < 0.01
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= np.sqrt(6 / 300)
    nn.init.constant_(w, 0.5)
    assert (w.numpy() == 0.5).all()
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(np.sqrt(2 / 1.04))


def test_module_to_moves_parameters_and_buffers(device):
    net = Net().to(device)
    assert all(p.device == device for p in net.parameters())
    assert all(b.device == device for b in net.buffers())
    net.double()
    assert net.head.weight.dtype == tg.float64 and net.features[1].num_batches_tracked.dtype == tg.int64


def test_sequential_append_and_module_list():
    seq = nn.Sequential(nn.Linear(2, 3))
    seq.append(nn.ReLU()).append(nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and seq(tg.ones(4, 2)).shape == (4, 1)
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    holder = nn.Sequential()
    holder.add_module("layers", layers)
    assert len(list(holder.parameters())) == 6 and len(layers) == 3
    assert [n for n, _ in holder.named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]
