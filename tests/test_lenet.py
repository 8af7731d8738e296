"""The whole LeNet-5 (with and without batch norm) against a PyTorch twin with copied weights."""
import numpy as np
import pytest

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.models import LeNet5

from .helpers import both_code_paths, code_paths, requires_torch, torch

if torch is not None:
    class TorchLeNet5(torch.nn.Module):
        """The same layers and parameter names in PyTorch."""

        def __init__(self, batch_norm=False):
            super().__init__()
            nn = torch.nn
            self.conv1 = nn.Conv2d(1, 20, 5, padding=2)
            self.bn1 = nn.BatchNorm2d(20) if batch_norm else nn.Identity()
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(20, 50, 5, padding=2)
            self.bn2 = nn.BatchNorm2d(50) if batch_norm else nn.Identity()
            self.fc1 = nn.Linear(2450, 500)
            self.fc2 = nn.Linear(500, 10)

        def forward(self, x):
            x = self.pool(torch.relu(self.bn1(self.conv1(x))))
            x = self.pool(torch.relu(self.bn2(self.conv2(x))))
            return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def _twins(batch_norm):
    ours = LeNet5(batch_norm=batch_norm)
    theirs = TorchLeNet5(batch_norm)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, n)


@requires_torch
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batchnorm"])
def test_outputs_loss_and_every_gradient_match_torch(batch_norm):
    ours, theirs = _twins(batch_norm)
    x, y = _batch()
    loss = F.cross_entropy(ours(tg.tensor(x)), tg.tensor(y))
    loss_t = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    assert loss.item() == pytest.approx(loss_t.item(), rel=1e-5)
    loss.backward()
    loss_t.backward()
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), rtol=2e-4, atol=2e-6,
                                   err_msg=name)


@requires_torch
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batchnorm"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@both_code_paths
def test_parameters_after_five_steps_match_torch(batch_norm, optimizer, paths):
    """In float64, so that five steps of float32 rounding (amplified by batch norm) do not blur the comparison.
    Also along the code paths the primitives take on a GPU, run here with NumPy."""
    with code_paths(paths):
        _five_steps_match_torch(batch_norm, optimizer)


def _five_steps_match_torch(batch_norm, optimizer):
    ours, theirs = _twins(batch_norm)
    ours.double(), theirs.double()
    if optimizer == "sgd":
        opt = tg.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        opt_t = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    else:
        opt = tg.optim.Adam(ours.parameters(), lr=1e-3)
        opt_t = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    for step in range(5):
        x, y = _batch(seed=step)
        for model, o, lib in ((ours, opt, tg), (theirs, opt_t, torch)):
            o.zero_grad()
            loss_fn = F.cross_entropy if lib is tg else torch.nn.functional.cross_entropy
            loss_fn(model(lib.tensor(x.astype(np.float64))), lib.tensor(y)).backward()
            o.step()
    theirs_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs_state[name].numpy(), rtol=1e-7, atol=1e-9, err_msg=name)


@requires_torch
def test_eval_outputs_match_torch_with_batch_norm():
    ours, theirs = _twins(True)
    x, _ = _batch()
    ours(tg.tensor(x)), theirs(torch.tensor(x))  # one training batch moves the running statistics
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(tg.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_lenet_float32_end_to_end():
    model = LeNet5(batch_norm=True)
    out = model(tg.randn(4, 1, 28, 28))
    loss = F.cross_entropy(out, tg.tensor([1, 2, 3, 4]))
    loss.backward()
    assert out.dtype == tg.float32 and loss.dtype == tg.float32
    assert all(p.grad.dtype == tg.float32 for p in model.parameters())
