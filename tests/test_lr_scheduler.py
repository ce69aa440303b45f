"""Learning-rate schedulers: the sequence of rates over 30 steps matches torch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule.optim as optim
from chainrule._tensor import make_tensor
from chainrule.optim import lr_scheduler

torch = pytest.importorskip("torch")

STEPS = 30


def _optimizers(name="SGD", **kwargs):
    ours = [make_tensor(np.zeros(2, np.float32), requires_grad=True) for _ in range(2)]
    theirs = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    groups_ours = [{"params": ours[:1]}, {"params": ours[1:], "lr": 0.3}]
    groups_theirs = [{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.3}]
    kwargs.setdefault("lr", 0.1)
    return (getattr(optim, name)(groups_ours, **kwargs),
            getattr(torch.optim, name)(groups_theirs, **kwargs))


def _factories():
    return {
        "StepLR": lambda m, o: m.StepLR(o, step_size=4, gamma=0.5),
        "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.3),
        "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
        "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=8, eta_min=0.01),
        "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 1 / (e + 1)),
        "LambdaLR-list": lambda m, o: m.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: e % 3 + 1]),
        "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.2, total_iters=10),
        "LinearLR-down": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=7),
        "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS + 1),
        "OneCycleLR-linear-3phase": lambda m, o: m.OneCycleLR(
            o, max_lr=[0.5, 2.0], epochs=4, steps_per_epoch=8, anneal_strategy="linear",
            three_phase=True, pct_start=0.25),
        "SequentialLR": lambda m, o: m.SequentialLR(
            o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.ExponentialLR(o, gamma=0.8)],
            milestones=[5]),
        "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=4),
        "SequentialLR-warmup": lambda m, o: m.SequentialLR(
            o, [m.ConstantLR(o, factor=0.5, total_iters=3), m.CosineAnnealingLR(o, T_max=9)],
            milestones=[4]),
        "SequentialLR-3": lambda m, o: m.SequentialLR(
            o, [m.ExponentialLR(o, gamma=0.9), m.StepLR(o, step_size=3, gamma=0.5),
                m.CosineAnnealingLR(o, T_max=5)], milestones=[6, 15]),
    }


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize("kind", list(_factories()))
def test_learning_rates_match_torch(kind, optimizer_name):
    kwargs = {"momentum": 0.9} if optimizer_name == "SGD" else {}
    ours_opt, ref_opt = _optimizers(optimizer_name, **kwargs)
    ours = _factories()[kind](lr_scheduler, ours_opt)
    ref = _factories()[kind](torch.optim.lr_scheduler, ref_opt)
    assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12)
    for _ in range(STEPS):
        ours_opt.step()
        ref_opt.step()
        ours.step()
        ref.step()
        assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-10, abs=1e-15)
        assert [g["lr"] for g in ours_opt.param_groups] == pytest.approx(
            [g["lr"] for g in ref_opt.param_groups], rel=1e-10, abs=1e-15)
        if kind.startswith("OneCycle"):
            key = "momentum" if optimizer_name == "SGD" else "betas"
            for mine, theirs in zip(ours_opt.param_groups, ref_opt.param_groups):
                assert mine[key] == pytest.approx(theirs[key], rel=1e-10)
    assert ours.last_epoch == ref.last_epoch


@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("min", "abs"), ("max", "rel"),
                                                  ("max", "abs")])
def test_reduce_on_plateau_matches_torch(mode, threshold_mode):
    ours_opt, ref_opt = _optimizers()
    kwargs = dict(mode=mode, factor=0.5, patience=2, threshold=0.05, threshold_mode=threshold_mode,
                  cooldown=1, min_lr=[0.01, 0.02])
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, **kwargs)
    rng = np.random.default_rng(0)
    metrics = np.concatenate([np.linspace(1, 0.5, 6), 0.5 + 0.01 * rng.standard_normal(24)])
    if mode == "max":
        metrics = 2 - metrics
    for value in metrics:
        ours.step(value)
        ref.step(value)
        assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12)
        assert ours.num_bad_epochs == ref.num_bad_epochs
    assert ours.get_last_lr() != [0.1, 0.3]


def test_reduce_on_plateau_validates_factor():
    opt, _ = _optimizers()
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)


def test_state_dict_round_trip_resumes_schedule():
    opt, _ = _optimizers()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4
    opt2, _ = _optimizers()
    opt2.load_state_dict(opt.state_dict())
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(state)
    for _ in range(5):
        sched.step()
        sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_lambda_state_dict_skips_functions():
    opt, _ = _optimizers()
    sched = lr_scheduler.LambdaLR(opt, lambda e: 0.5 ** e)
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, None]
    sched.load_state_dict(state)


def test_step_with_epoch_uses_closed_form():
    opt, _ = _optimizers()
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(7)
    assert sched.get_last_lr() == pytest.approx([0.1 * 0.01, 0.3 * 0.01])


def test_resuming_requires_initial_lr():
    opt, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)


def test_one_cycle_errors():
    opt, _ = _optimizers()
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
    assert math.isfinite(sched.get_last_lr()[0])
