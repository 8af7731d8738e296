"""Optimizers and schedulers step by step against PyTorch."""
import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import optim

from .helpers import requires_torch, torch

CASES = {
    "sgd": (lambda p: optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_momentum_wd": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-2, dampening=0.1),
                        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-2, dampening=0.1)),
    "sgd_nesterov": (lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    "adam": (lambda p: optim.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam_wd_amsgrad": (lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True),
                        lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True)),
    "adamw": (lambda p: optim.AdamW(p, lr=0.01, betas=(0.8, 0.99)),
              lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.8, 0.99))),
    "rmsprop": (lambda p: optim.RMSprop(p, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "rmsprop_momentum_centered_wd": (
        lambda p: optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.8, centered=True, weight_decay=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.8, centered=True, weight_decay=0.1)),
    "adadelta": (lambda p: optim.Adadelta(p), lambda p: torch.optim.Adadelta(p)),
    "adadelta_wd": (lambda p: optim.Adadelta(p, lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1),
                    lambda p: torch.optim.Adadelta(p, lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    "adagrad": (lambda p: optim.Adagrad(p, lr=0.1), lambda p: torch.optim.Adagrad(p, lr=0.1)),
    "adagrad_decay_wd_init": (
        lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3),
        lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_optimizer_steps_match_torch(name, device):
    rng = np.random.default_rng(0)
    w0, x = rng.standard_normal((3, 4)), rng.standard_normal((5, 3))
    w = tg.tensor(w0, requires_grad=True, device=device)
    wt = torch.tensor(w0, requires_grad=True)
    ours, theirs = CASES[name][0]([w]), CASES[name][1]([wt])
    for _ in range(6):
        ours.zero_grad()
        theirs.zero_grad()
        (tg.tensor(x, device=device) @ w).tanh().sum().backward()
        (torch.tensor(x) @ wt).tanh().sum().backward()
        ours.step()
        theirs.step()
        np.testing.assert_allclose(w.detach().cpu().numpy(), wt.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert w.grad_fn is None and w.is_leaf


def test_param_groups_and_state_dict_roundtrip(tmp_path):
    a, b = tg.ones(2, requires_grad=True), tg.ones(3, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        (a.sum() + (b * b).sum()).backward()
        opt.step()
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    tg.save(opt.state_dict(), tmp_path / "opt.npz")
    a2, b2 = tg.tensor(a.detach().numpy(), requires_grad=True), tg.tensor(b.detach().numpy(), requires_grad=True)
    opt2 = optim.SGD([{"params": [a2]}, {"params": [b2], "lr": 0.5}], lr=0.1, momentum=0.9)
    opt2.load_state_dict(tg.load(tmp_path / "opt.npz"))
    for o, params in ((opt, (a, b)), (opt2, (a2, b2))):
        o.zero_grad()
        (params[0].sum() + (params[1] * params[1]).sum()).backward()
        o.step()
    np.testing.assert_allclose(a.detach().numpy(), a2.detach().numpy())
    np.testing.assert_allclose(b.detach().numpy(), b2.detach().numpy())


def test_zero_grad_and_leaf_checks():
    w = tg.ones(2, requires_grad=True)
    opt = optim.Adam([w])
    (w * 2).sum().backward()
    opt.zero_grad()
    assert w.grad is None
    with pytest.raises(TypeError, match="leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)


@requires_torch
@pytest.mark.parametrize("make", [
    (lambda o: optim.lr_scheduler.StepLR(o, 3, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    (lambda o: optim.lr_scheduler.MultiStepLR(o, [2, 5, 11], 0.3),
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 5, 11], 0.3)),
    (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, 20, 0.001),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 20, 0.001)),
], ids=["step", "multistep", "cosine"])
def test_scheduler_sequences_match_torch_over_20_epochs(make):
    ours_opt = optim.SGD([tg.ones(1, requires_grad=True)], lr=0.1)
    theirs_opt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)
    ours, theirs = make[0](ours_opt), make[1](theirs_opt)
    for _ in range(20):
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-9, abs=1e-12)
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()


def _scheduled_pair(optimizer="sgd"):
    if optimizer == "sgd":
        return (optim.SGD([tg.ones(1, requires_grad=True)], lr=0.1, momentum=0.9),
                torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1, momentum=0.9))
    return (optim.Adam([tg.ones(1, requires_grad=True)], lr=0.1),
            torch.optim.Adam([torch.ones(1, requires_grad=True)], lr=0.1))


def _same_groups(ours_opt, theirs_opt):
    for ours, theirs in zip(ours_opt.param_groups, theirs_opt.param_groups):
        assert ours["lr"] == pytest.approx(theirs["lr"], rel=1e-12, abs=1e-15)
        if "betas" in ours:
            assert ours["betas"][0] == pytest.approx(theirs["betas"][0], rel=1e-12)
        else:
            assert ours["momentum"] == pytest.approx(theirs["momentum"], rel=1e-12)


@requires_torch
@pytest.mark.parametrize("make,steps,optimizer", [
    (lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=25), 25, "sgd"),
    (lambda m, o: m.OneCycleLR(o, 0.5, epochs=3, steps_per_epoch=7, pct_start=0.4, anneal_strategy="linear",
                               three_phase=True, div_factor=10.0, final_div_factor=100.0), 21, "adam"),
    (lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=4), 10, "sgd"),
    (lambda m, o: m.ExponentialLR(o, gamma=0.8), 10, "sgd"),
    (lambda m, o: m.LambdaLR(o, lambda epoch: 0.95 ** epoch / (1 + epoch % 3)), 12, "sgd"),
    (lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01), 25, "adam"),
    (lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=4), 13, "sgd"),
    (lambda m, o: m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=3), m.CosineAnnealingLR(o, T_max=6)], [3]),
     12, "sgd"),
    (lambda m, o: m.SequentialLR(o, [m.ExponentialLR(o, 0.9), m.StepLR(o, 2), m.LinearLR(o, 0.5, total_iters=2)],
                                 [2, 5]), 10, "adam"),
], ids=["onecycle", "onecycle-3phase-linear-adam", "linear", "exponential", "lambda", "warm-restarts-tmult",
        "warm-restarts", "sequential-warmup-cosine",
        "sequential-three"])
def test_step_schedulers_match_torch_step_by_step(make, steps, optimizer):
    ours_opt, theirs_opt = _scheduled_pair(optimizer)
    ours, theirs = make(optim.lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, theirs_opt)
    for _ in range(steps):
        _same_groups(ours_opt, theirs_opt)
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-12, abs=1e-15)
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()


def test_one_cycle_refuses_a_step_beyond_its_total():
    opt = optim.SGD([tg.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.OneCycleLR(opt, 1.0, total_steps=3)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="tried to step 4 times; the specified number of total steps is 3"):
        scheduler.step()
    without_momentum = optim.Optimizer([tg.ones(1, requires_grad=True)], {"lr": 0.1})
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        optim.lr_scheduler.OneCycleLR(without_momentum, 1.0, total_steps=3)
    with pytest.raises(ValueError, match="either total_steps OR"):
        optim.lr_scheduler.OneCycleLR(opt, 1.0)


@requires_torch
@pytest.mark.parametrize("kwargs", [dict(patience=2, cooldown=1),
                                    dict(mode="max", patience=1, threshold=0.1, threshold_mode="abs", min_lr=0.005,
                                         factor=0.5)], ids=["min-rel-cooldown", "max-abs-min_lr"])
def test_reduce_on_plateau_matches_torch(kwargs):
    ours_opt, theirs_opt = _scheduled_pair()
    ours = optim.lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    sign = -1 if kwargs.get("mode") == "max" else 1
    metrics = [5, 4, 4, 4, 4, 4, 3.9999, 4, 4, 4.05, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3]
    for metric in metrics:
        ours.step(sign * metric)
        theirs.step(sign * metric)
        _same_groups(ours_opt, theirs_opt)
        assert ours.num_bad_epochs == theirs.num_bad_epochs
    assert ours_opt.param_groups[0]["lr"] < 0.1  # it did reduce
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        optim.lr_scheduler.ReduceLROnPlateau(ours_opt, factor=1.5)


@requires_torch
def test_warm_restarts_with_fractional_epochs_match_torch():
    ours_opt, theirs_opt = _scheduled_pair()
    ours = optim.lr_scheduler.CosineAnnealingWarmRestarts(ours_opt, T_0=2, T_mult=3)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(theirs_opt, T_0=2, T_mult=3)
    for epoch in np.arange(0, 12, 0.35):
        ours.step(float(epoch))
        theirs.step(float(epoch))
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-12, abs=1e-15)
