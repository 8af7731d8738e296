"""The CIFAR-style ResNet against a PyTorch twin written independently, with copied weights:
outputs, loss and every gradient in float32, and parameters and buffers after several training
steps in float64 (SGD with Nesterov momentum; AdamW with cosine annealing)."""
import numpy as np
import pytest

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.models import ResNet, resnet8, resnet20

from .helpers import requires_torch, torch

if torch is not None:
    nn = torch.nn

    class TorchBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    class TorchResNet(nn.Module):
        def __init__(self, blocks, widths=(16, 32, 64), in_channels=3, num_classes=10, dropout=0.0):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            cin = widths[0]
            for i, (count, width) in enumerate(zip(blocks, widths), start=1):
                layer = []
                for j in range(count):
                    layer.append(TorchBlock(cin, width, 2 if i > 1 and j == 0 else 1))
                    cin = width
                setattr(self, f"layer{i}", nn.Sequential(*layer))
            self.n = len(blocks)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.dropout = nn.Dropout(dropout)
            self.fc = nn.Linear(cin, num_classes)

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            for i in range(1, self.n + 1):
                x = getattr(self, f"layer{i}")(x)
            return self.fc(self.dropout(self.avgpool(x).flatten(1)))


def _twins(blocks=(1, 1, 1), dtype=tg.float32, in_channels=3):
    ours = ResNet(blocks, in_channels=in_channels).to(dtype)
    theirs = TorchResNet(blocks, in_channels=in_channels).to(torch.float64 if dtype == tg.float64 else torch.float32)
    state = ours.state_dict()
    assert list(state) == list(theirs.state_dict())  # the same keys, in the same order
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in state.items()})
    return ours, theirs


def _batch(n, dtype, seed=0, side=32, channels=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, channels, side, side)).astype(dtype), rng.integers(0, 10, n)


def test_resnet_shapes_and_sizes():
    assert tuple(resnet8()(tg.zeros(2, 3, 32, 32)).shape) == (2, 10)
    assert tuple(resnet8(in_channels=1, num_classes=7)(tg.zeros(2, 1, 28, 28)).shape) == (2, 7)
    assert sum(p.numel() for p in resnet20().parameters()) == 272_474  # He et al.: 0.27M
    assert "layer2.0.downsample.0.weight" in resnet8().state_dict()
    with pytest.raises(ValueError, match="ResNet: blocks"):
        ResNet((1, 1), (16, 32, 64))


@requires_torch
@pytest.mark.parametrize("blocks", [(1, 1, 1), (2, 1, 1)], ids=["resnet8", "resnet10"])
def test_outputs_loss_and_every_gradient_match_torch(blocks):
    ours, theirs = _twins(blocks)
    x, y = _batch(8, np.float32)
    logits, logits_t = ours(tg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(logits.detach().numpy(), logits_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    loss = F.cross_entropy(logits, tg.tensor(y))
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(y))
    assert loss.item() == pytest.approx(loss_t.item(), rel=1e-5)
    loss.backward()
    loss_t.backward()
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected = theirs_params[name].grad.numpy()
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-3, atol=1e-5 * np.abs(expected).max(),
                                   err_msg=name)
    for name, b in theirs.named_buffers():  # the running statistics moved the same way
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def _train_both(ours, theirs, make_optimizers, steps, make_schedulers=None):
    opt, opt_t = make_optimizers(ours, theirs)
    sched, sched_t = make_schedulers(opt, opt_t) if make_schedulers else (None, None)
    for step in range(steps):
        x, y = _batch(8, np.float64, seed=step)
        for model, optimizer, lib in ((ours, opt, tg), (theirs, opt_t, torch)):
            optimizer.zero_grad()
            cross_entropy = F.cross_entropy if lib is tg else torch.nn.functional.cross_entropy
            cross_entropy(model(lib.tensor(x)), lib.tensor(y)).backward()
            optimizer.step()
        if sched is not None:
            sched.step()
            sched_t.step()
    theirs_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs_state[name].numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


@requires_torch
def test_float64_training_with_sgd_nesterov_matches_torch_to_1e10():
    ours, theirs = _twins(dtype=tg.float64)
    _train_both(ours, theirs, lambda a, b: (
        tg.optim.SGD(a.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
        torch.optim.SGD(b.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)), steps=5)


@requires_torch
def test_float64_training_with_adamw_and_cosine_matches_torch_to_1e10():
    ours, theirs = _twins(dtype=tg.float64)
    _train_both(ours, theirs, lambda a, b: (tg.optim.AdamW(a.parameters(), lr=1e-3),
                                            torch.optim.AdamW(b.parameters(), lr=1e-3)),
                steps=5, make_schedulers=lambda a, b: (tg.optim.lr_scheduler.CosineAnnealingLR(a, T_max=5),
                                                       torch.optim.lr_scheduler.CosineAnnealingLR(b, T_max=5)))


@requires_torch
def test_resnet8_on_digit_sized_inputs_matches_torch_in_eval():
    ours, theirs = _twins(in_channels=1, dtype=tg.float64)
    for model in (ours, theirs):
        model.train()
    x, _ = _batch(4, np.float64, side=28, channels=1)
    ours(tg.tensor(x))  # one training step of running statistics, then eval
    theirs(torch.tensor(x))
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(tg.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
