"""LBFGS against torch: whole closure-driven runs on least squares and Rosenbrock problems."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")

SETTINGS = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.5, max_iter=10, history_size=3),
    dict(line_search_fn="strong_wolfe", history_size=2, max_eval=7, tolerance_grad=1e-3,
         tolerance_change=1e-4),
]


def _problem(lib, name, dtype):
    """Parameters and a loss function of them, the same numbers in either library."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal(6).astype(dtype)
    if name == "rosenbrock":
        x = lib.tensor(start, requires_grad=True)
        return [x], lambda: ((1 - x[:-1]) ** 2).sum() + (100 * (x[1:] - x[:-1] ** 2) ** 2).sum()
    a = lib.tensor(rng.standard_normal((10, 4)).astype(dtype))
    b = lib.tensor(rng.standard_normal(10).astype(dtype))
    weight = lib.tensor(start[:4], requires_grad=True)
    bias = lib.tensor(start[4], requires_grad=True)  # a second, 0-d parameter
    return [weight, bias], lambda: ((a @ weight + bias - b) ** 2).sum()


def _run(lib, name, settings, dtype, steps=3):
    params, loss_of = _problem(lib, name, dtype)
    optimizer = lib.optim.LBFGS(params, **settings)

    def closure():
        optimizer.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    losses = [optimizer.step(closure).item() for _ in range(steps)]
    return optimizer, params, losses


@pytest.mark.parametrize("name", ["least_squares", "rosenbrock"])
@pytest.mark.parametrize("settings", SETTINGS)
def test_lbfgs_float64_runs_match_torch(name, settings):
    opt, ours, our_losses = _run(chainrule, name, settings, np.float64)
    ref, theirs, their_losses = _run(torch, name, settings, np.float64)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-9)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-12)
    mine, expected = opt.state[ours[0]], ref.state[theirs[0]]
    assert list(mine) == list(expected)
    assert (mine["func_evals"], mine["n_iter"]) == (expected["func_evals"], expected["n_iter"])
    assert len(mine["old_dirs"]) == len(expected["old_dirs"]) <= settings.get("history_size", 100)
    np.testing.assert_allclose(mine["d"].numpy(), expected["d"].numpy(), rtol=1e-7, atol=1e-10)
    assert isinstance(mine["H_diag"], chainrule.Tensor) and mine["H_diag"].shape == ()


@pytest.mark.parametrize("name", ["least_squares", "rosenbrock"])
@pytest.mark.parametrize("settings", SETTINGS[:2])
def test_lbfgs_float32_runs_match_torch(name, settings):
    opt, ours, _ = _run(chainrule, name, settings, np.float32, steps=1)
    ref, theirs, _ = _run(torch, name, settings, np.float32, steps=1)
    for p, q in zip(ours, theirs):
        assert p.dtype == chainrule.float32
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert opt.state[ours[0]]["d"].dtype == chainrule.float32


def test_lbfgs_defaults_repr_and_errors_match_torch():
    ours, _ = _problem(chainrule, "least_squares", np.float32)
    theirs, _ = _problem(torch, "least_squares", np.float32)
    opt, ref = chainrule.optim.LBFGS(ours, max_iter=8), torch.optim.LBFGS(theirs, max_iter=8)
    assert opt.defaults == ref.defaults and opt.defaults["max_eval"] == 10
    assert repr(opt) == repr(ref)
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options \(parameter groups\)"):
        chainrule.optim.LBFGS([{"params": ours[:1]}, {"params": ours[1:]}])
    bad = chainrule.optim.LBFGS(ours, line_search_fn="backtracking")
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        bad.step(lambda: (ours[0] ** 2).sum().backward() or (ours[0] ** 2).sum())


def test_lbfgs_returns_first_loss_and_stops_at_tolerance_grad():
    x = chainrule.tensor([1.0, 1.0], dtype=chainrule.float64, requires_grad=True)
    optimizer = chainrule.optim.LBFGS([x], tolerance_grad=1e-5)
    calls = []

    def closure():
        calls.append(1)
        optimizer.zero_grad()
        loss = ((x - 1) ** 2).sum() + 3
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 3.0  # already at the minimum: one evaluation
    assert len(calls) == 1 and optimizer.state[x]["func_evals"] == 1
    x.data = chainrule.tensor([2.0, 0.0], dtype=chainrule.float64)
    assert optimizer.step(closure).item() == 5.0  # the loss before the step
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0], atol=1e-6)


def test_lbfgs_state_dict_round_trip_mid_run(tmp_path):
    opt, ours, _ = _run(chainrule, "rosenbrock", SETTINGS[1], np.float64, steps=1)
    chainrule.save(opt.state_dict(), tmp_path / "lbfgs.pt")
    twin = chainrule.tensor(ours[0].detach().numpy().copy(), requires_grad=True)
    fresh = chainrule.optim.LBFGS([twin], **SETTINGS[1])
    fresh.load_state_dict(chainrule.load(tmp_path / "lbfgs.pt"))
    for optimizer, x in ((opt, ours[0]), (fresh, twin)):
        def closure(optimizer=optimizer, x=x):
            optimizer.zero_grad()
            loss = ((1 - x[:-1]) ** 2).sum() + (100 * (x[1:] - x[:-1] ** 2) ** 2).sum()
            loss.backward()
            return loss
        optimizer.step(closure)
    np.testing.assert_array_equal(ours[0].detach().numpy(), twin.detach().numpy())
    assert fresh.state[twin]["n_iter"] == opt.state[ours[0]]["n_iter"]


@pytest.mark.parametrize("t", [1e-3, 0.1, 1.0, 3.0, 30.0])
@pytest.mark.parametrize("max_ls", [25, 3])
@pytest.mark.parametrize("c2", [0.9, 0.1])
def test_strong_wolfe_line_search_matches_torchs(t, max_ls, c2):
    """Small first steps make the search extrapolate, large ones make it zoom back in."""
    from torch.optim.lbfgs import _strong_wolfe

    from chainrule.optim._line_search import strong_wolfe

    x0 = np.array([1.5, -0.3, 0.8])
    d = np.array([-1.0, -0.5, 0.7])  # a descent direction

    def loss_and_grad(x):  # a non-quadratic bowl with a slope: f = sum(x**4 / 4 - x**2 + 0.3 x)
        return float((x ** 4 / 4 - x ** 2 + 0.3 * x).sum()), x ** 3 - 2 * x + 0.3

    def ours(x, step, direction):
        return loss_and_grad(x[0] + step * direction)

    def theirs(x, step, direction):
        loss, grad = loss_and_grad(x[0].numpy() + float(step) * direction.numpy())
        return loss, torch.tensor(grad)

    f, g = loss_and_grad(x0)
    got = strong_wolfe(ours, [x0], t, d, f, g, g.dot(d), c2=c2, max_ls=max_ls)
    expected = _strong_wolfe(theirs, [torch.tensor(x0)], t, torch.tensor(d), f, torch.tensor(g),
                             torch.tensor(g.dot(d)), c2=c2, max_ls=max_ls)
    assert got[0] == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(got[1], expected[1].numpy(), rtol=1e-12)
    assert float(got[2]) == pytest.approx(float(expected[2]), rel=1e-12)
    assert got[3] == expected[3]
