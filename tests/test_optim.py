"""Optimizers: several steps against torch from identical weights and gradients."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule
import chainrule.optim as optim
from chainrule._tensor import make_tensor
from tests.conftest import require_torch

torch = pytest.importorskip("torch")

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True, eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.2, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.5)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-5, maximize=True)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=2.0, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-4, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=0.02)),
    ("NAdam", dict(lr=0.01, weight_decay=0.2, decoupled_weight_decay=True, maximize=True)),
    # RAdam's variance rectification starts at step 6 with the default betas (rho_t > 5).
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("RAdam", dict(lr=0.01, weight_decay=0.2, decoupled_weight_decay=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=2, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=0, maximize=True)),
]


def _pair(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [make_tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    return ours, theirs


def _set_grads(ours, theirs, rng, dtype):
    for p, q in zip(ours, theirs):
        g = rng.standard_normal(p.shape).astype(dtype)
        p.grad = make_tensor(g.copy())
        q.grad = torch.tensor(g.copy())


def _run(name, kwargs, dtype, steps=6, groups=False):
    shapes = [(3, 4), (4,), ()]
    ours, theirs = _pair(shapes, dtype)
    if groups:
        params_ours = [{"params": ours[:2]}, {"params": ours[2:], "lr": kwargs["lr"] * 3}]
        params_theirs = [{"params": theirs[:2]}, {"params": theirs[2:], "lr": kwargs["lr"] * 3}]
    else:
        params_ours, params_theirs = ours, theirs
    opt = getattr(optim, name)(params_ours, **kwargs)
    ref = getattr(torch.optim, name)(params_theirs, **kwargs)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        _set_grads(ours, theirs, rng, dtype)
        opt.step()
        ref.step()
    return opt, ref, ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_steps_match_torch(name, kwargs, dtype):
    opt, ref, ours, theirs = _run(name, kwargs, dtype)
    tol = 1e-6 if dtype == np.float64 else 2e-6
    for p, q in zip(ours, theirs):
        assert p._data.dtype == dtype
        np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=tol, atol=tol)
    for p, q in zip(ours, theirs):
        for key, value in ref.state[q].items():
            mine = opt.state[p][key]
            assert isinstance(mine, chainrule.Tensor)
            assert mine.dtype.name == str(value.dtype).replace("torch.", "")
            np.testing.assert_allclose(mine._data, value.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", [c for c in CONFIGS if c[0] not in ("AdamW", "Adagrad")])
def test_param_groups_with_different_lrs(name, kwargs):
    _, _, ours, theirs = _run(name, kwargs, np.float64, groups=True)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-7, atol=1e-9)


def test_step_updates_in_place_and_bumps_version():
    p = make_tensor(np.ones(3, np.float32), requires_grad=True)
    storage = p._data
    p.grad = make_tensor(np.ones(3, np.float32))
    before = p._version
    optim.Adam([p], lr=0.1).step()
    assert p._data is storage and p._data.dtype == np.float32
    assert p._version == before + 1
    assert p.grad_fn is None


def test_parameters_without_grad_are_skipped():
    p = make_tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    np.testing.assert_array_equal(p._data, 1)
    assert len(opt.state) == 0


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    p = make_tensor(np.ones(2, np.float32), requires_grad=True)
    (p * p).sum().backward()
    opt = optim.SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert p.grad is None
    else:
        np.testing.assert_array_equal(p.grad._data, 0)


@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_state_dict_layout_and_round_trip(name, kwargs):
    opt, ref, ours, theirs = _run(name, kwargs, np.float32, steps=3, groups=True)
    state = opt.state_dict()
    expected = ref.state_dict()
    assert sorted(state) == ["param_groups", "state"]
    assert [g["params"] for g in state["param_groups"]] == [g["params"] for g in expected["param_groups"]]
    assert sorted(state["state"]) == sorted(expected["state"])
    for index in expected["state"]:
        assert sorted(state["state"][index]) == sorted(expected["state"][index])
    assert state["param_groups"] == expected["param_groups"]
    assert repr(opt) == repr(ref)

    fresh_params = [make_tensor(p._data.copy(), requires_grad=True) for p in ours]
    groups = [{"params": fresh_params[:2]}, {"params": fresh_params[2:], "lr": 1.0}]
    fresh = getattr(optim, name)(groups, **kwargs)
    fresh.load_state_dict(state)
    assert fresh.param_groups[1]["lr"] == opt.param_groups[1]["lr"]
    rng = np.random.default_rng(5)
    for _ in range(2):
        for a, b in zip(ours, fresh_params):
            g = rng.standard_normal(a.shape).astype(np.float32)
            a.grad = make_tensor(g.copy())
            b.grad = make_tensor(g.copy())
        opt.step()
        fresh.step()
    for a, b in zip(ours, fresh_params):
        np.testing.assert_array_equal(a._data, b._data)


def test_load_state_dict_does_not_alias_saved_tensors():
    p = make_tensor(np.ones(2, np.float32), requires_grad=True)
    p.grad = make_tensor(np.ones(2, np.float32))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    state = opt.state_dict()
    other = optim.SGD([make_tensor(np.ones(2, np.float32), requires_grad=True)], lr=0.1, momentum=0.9)
    other.load_state_dict(state)
    buffer = next(iter(other.state.values()))["momentum_buffer"]
    buffer._data += 1
    np.testing.assert_array_equal(state["state"][0]["momentum_buffer"]._data, 1)


def test_add_param_group_and_errors():
    a = make_tensor(np.ones(2, np.float32), requires_grad=True)
    b = make_tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.5, "momentum": 0.9})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["dampening"] == 0
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([a], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got torch.FloatTensor"):
        optim.SGD(a, lr=0.1)


def test_closure_and_step_hooks():
    p = make_tensor(np.array([2.0], np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.25)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    handle = opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 4.0
    np.testing.assert_allclose(p._data, [1.0])
    assert calls == ["pre", "post"]
    handle.remove()
    opt.step(closure)
    assert calls == ["pre", "post", "pre"]


def test_adagrad_state_exists_before_first_step():
    p = make_tensor(np.ones(2, np.float32), requires_grad=True)
    state = optim.Adagrad([p], initial_accumulator_value=0.3).state_dict()["state"][0]
    assert float(state["step"]) == 0.0
    np.testing.assert_allclose(state["sum"]._data, 0.3)


# ------------------------------------------------------------ gradient utilities
def _params_with_grads(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), ()]
    ours, theirs = [], []
    for shape in shapes:
        w = np.asarray(rng.standard_normal(shape), dtype=dtype)
        g = np.asarray(rng.standard_normal(shape) * 3, dtype=dtype)
        p = make_tensor(w.copy(), requires_grad=True)
        p.grad = make_tensor(g.copy())
        q = torch.tensor(w.copy(), requires_grad=True)
        q.grad = torch.tensor(g.copy())
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    from chainrule.nn.utils import clip_grad_norm_

    ours, theirs = _params_with_grads(dtype)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, chainrule.Tensor) and total.shape == ()
    assert total.dtype.name == str(expected.dtype)[6:]
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-5)
    for p, q in zip(ours, theirs):
        assert p.grad.dtype.name == str(q.grad.dtype)[6:]
        np.testing.assert_allclose(p.grad._data, q.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_single_tensor_skips_missing_grads_and_errors_on_nonfinite():
    from chainrule.nn.utils import clip_grad_norm_

    p = make_tensor(np.zeros(2, np.float32), requires_grad=True)
    p.grad = make_tensor(np.array([3.0, 4.0], np.float32))
    q = make_tensor(np.zeros(2, np.float32), requires_grad=True)
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad._data, [0.6, 0.8], rtol=1e-5)
    assert clip_grad_norm_([q], 1.0).item() == 0.0
    p.grad = make_tensor(np.array([np.inf, 1.0], np.float32))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch():
    from chainrule.nn.utils import clip_grad_value_

    ours, theirs = _params_with_grads()
    clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad._data, q.grad.numpy())


def test_parameters_to_vector_and_back():
    from chainrule.nn.utils import parameters_to_vector, vector_to_parameters

    ours, theirs = _params_with_grads()
    vector = parameters_to_vector(ours)
    expected = torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(vector.detach().numpy(), expected.detach().numpy())
    vector.sum().backward()
    assert ours[0].grad is not None
    new = np.arange(vector.numel(), dtype=np.float32)
    vector_to_parameters(chainrule.tensor(new), ours)
    np.testing.assert_array_equal(ours[0]._data.ravel(), new[:12])
    np.testing.assert_array_equal(ours[2]._data, new[-1])
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        vector_to_parameters(new, ours)


def test_vector_to_parameters_too_short_matches_torch():
    from chainrule.nn.utils import vector_to_parameters

    ours, theirs = _params_with_grads()
    with pytest.raises(RuntimeError) as expected:
        torch.nn.utils.vector_to_parameters(torch.arange(5.0), [p.detach() for p in theirs])
    with pytest.raises(RuntimeError) as got:
        vector_to_parameters(chainrule.arange(5.0), [p.detach() for p in ours])
    assert str(got.value) == str(expected.value)


# ------------------------------------------------- common checks over every optimizer
def exported_optimizers() -> list[str]:
    return sorted(name for name, obj in vars(optim).items()
                  if isinstance(obj, type) and issubclass(obj, optim.Optimizer)
                  and obj is not optim.Optimizer)


# LBFGS steps only with a closure and SparseAdam refuses dense gradients: both have their own
# common checks (tests/test_optim_lbfgs.py, test_sparse_adam_* below).
NOT_STEPPED_FROM_GRADIENTS = {"LBFGS", "SparseAdam"}


def test_discovery_finds_every_optimizer_of_the_issue():
    assert {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
            "ASGD", "SparseAdam", "LBFGS"} <= set(exported_optimizers())
    assert NOT_STEPPED_FROM_GRADIENTS <= set(exported_optimizers())


@pytest.mark.parametrize("name", sorted(set(exported_optimizers()) - NOT_STEPPED_FROM_GRADIENTS))
def test_optimizer_common_checks(name, tmp_path):
    """Defaults and repr as torch's; zero_grad both ways; a state dict saved with
    chainrule.save and loaded into a fresh optimizer continues the same trajectory."""
    ours, theirs = _pair([(3, 4), (4,)], np.float32)
    opt = getattr(optim, name)(ours)
    ref = getattr(torch.optim, name)(theirs)
    assert opt.defaults == ref.defaults
    assert repr(opt) == repr(ref)

    rng = np.random.default_rng(2)
    for _ in range(3):
        _set_grads(ours, theirs, rng, np.float32)
        opt.step()
        ref.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-5, atol=1e-7)

    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in ours)
    opt.zero_grad()
    assert all(p.grad is None for p in ours)

    chainrule.save(opt.state_dict(), tmp_path / "opt.pt")
    twins = [make_tensor(p._data.copy(), requires_grad=True) for p in ours]
    fresh = getattr(optim, name)(twins)
    fresh.load_state_dict(chainrule.load(tmp_path / "opt.pt"))
    assert fresh.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for _ in range(2):
        g = [rng.standard_normal(p.shape).astype(np.float32) for p in ours]
        for p, t, gi in zip(ours, twins, g):
            p.grad, t.grad = make_tensor(gi.copy()), make_tensor(gi.copy())
        opt.step()
        fresh.step()
    for p, t in zip(ours, twins):
        np.testing.assert_array_equal(p._data, t._data)


@pytest.mark.parametrize("name", sorted(set(exported_optimizers()) - NOT_STEPPED_FROM_GRADIENTS))
def test_step_runs_hooks_and_closure_without_recording_a_graph(name):
    p = make_tensor(np.array([2.0, -1.0], np.float32), requires_grad=True)
    opt = getattr(optim, name)([p])
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))

    def closure():
        calls.append("closure")
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 5.0
    assert calls == ["pre", "closure", "post"]
    assert p.grad_fn is None and not np.array_equal(p._data, [2.0, -1.0])


@pytest.mark.parametrize("name,kwargs", [
    ("Adam", {}), ("Adam", {"amsgrad": True}), ("AdamW", {}), ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.9, "centered": True}), ("Adagrad", {}), ("SGD", {"momentum": 0.9}),
    ("Adadelta", {}), ("Adamax", {}), ("NAdam", {}), ("RAdam", {}), ("ASGD", {}),
])
def test_state_dict_keys_come_in_torchs_order(name, kwargs):
    orders = []
    for lib in (chainrule, torch):
        param = lib.nn.Parameter(lib.ones(2))
        optimizer = getattr(lib.optim, name)([param], lr=0.1, **kwargs)
        param.grad = lib.ones(2)
        optimizer.step()
        orders.append(list(optimizer.state_dict()["state"][0]))
    assert orders[0] == orders[1]


# ------------------------------------------------- argument checks, flags, SparseAdam
def _error_of(make):
    try:
        make()
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        return type(error), str(error)
    return None


@pytest.mark.parametrize("name,kwargs", [
    ("Adadelta", dict(lr=-1.0)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1e-6)), ("Adadelta", dict(weight_decay=-0.1)),
    ("Adamax", dict(lr=-1.0)), ("Adamax", dict(eps=-1.0)), ("Adamax", dict(betas=(1.0, 0.9))),
    ("Adamax", dict(betas=(0.9, -0.1))), ("Adamax", dict(weight_decay=-0.1)),
    ("NAdam", dict(betas=(-0.1, 0.9))), ("NAdam", dict(momentum_decay=-1e-3)),
    ("RAdam", dict(lr=-1e-3)), ("RAdam", dict(betas=(0.9, 1.0))), ("RAdam", dict(weight_decay=-1.0)),
    ("ASGD", dict(lr=-0.1)), ("ASGD", dict(weight_decay=-0.1)),
    ("SparseAdam", dict(lr=0.0)), ("SparseAdam", dict(eps=0.0)), ("SparseAdam", dict(betas=(0.9, 1.0))),
    ("LBFGS", dict(lr=-1.0)),
    ("SGD", dict(lr=-0.1)), ("SGD", dict(momentum=-0.9)), ("SGD", dict(weight_decay=-1e-4)),
    ("Adagrad", dict(lr=-0.1)), ("Adagrad", dict(lr_decay=-1.0)),
    ("Adagrad", dict(weight_decay=-1.0)), ("Adagrad", dict(initial_accumulator_value=-0.1)),
    ("Adagrad", dict(eps=-1e-10)), ("RMSprop", dict(lr=-0.1)), ("RMSprop", dict(eps=-1.0)),
    ("RMSprop", dict(momentum=-0.5)), ("RMSprop", dict(weight_decay=-1.0)),
    ("RMSprop", dict(alpha=-0.99)), ("Adam", dict(lr=float("nan"))),
])
def test_invalid_hyperparameters_raise_like_torch(name, kwargs):
    ours, theirs = _pair([(2,)], np.float32)
    expected = _error_of(lambda: getattr(torch.optim, name)(theirs, **kwargs))
    assert expected is not None
    assert _error_of(lambda: getattr(optim, name)(ours, **kwargs)) == expected


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adadelta", "Adamax", "NAdam",
                                  "RAdam", "ASGD"])
def test_flags_accepted_and_capturable_refused_at_step_like_torch_on_cpu(name):
    flags = dict(foreach=False, maximize=True, differentiable=False, capturable=True)
    ours, theirs = _pair([(2,)], np.float32)
    opt = getattr(optim, name)(ours, **flags)
    ref = getattr(torch.optim, name)(theirs, **flags)
    assert opt.defaults == ref.defaults
    _set_grads(ours, theirs, np.random.default_rng(0), np.float32)
    expected = _error_of(ref.step)
    assert expected is not None and expected[0] is AssertionError
    assert _error_of(opt.step) == expected


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=float("nan"))),
                                         ("SGD", dict(weight_decay=float("nan"))),
                                         ("Adam", dict(eps=float("nan")))])
def test_nan_hyperparameters_are_checked_like_torch(name, kwargs):
    """PyTorch's SGD tests ``lr < 0`` (NaN passes), the others ``not 0 <= lr`` (NaN fails)."""
    ours, theirs = _pair([(2,)], np.float32)
    expected = _error_of(lambda: getattr(torch.optim, name)(theirs, **kwargs))
    assert _error_of(lambda: getattr(optim, name)(ours, **kwargs)) == expected


class SparseLookingTensor(chainrule.Tensor):
    """A dense tensor that says it is sparse: chainrule has no sparse layout to build one."""

    __slots__ = ()
    is_sparse = True


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adadelta", "Adamax", "ASGD", "NAdam",
                                  "RAdam", "RMSprop"])
def test_sparse_gradients_refused_like_torch(name):
    ours, theirs = _pair([(2,)], np.float32)
    opt, ref = getattr(optim, name)(ours), getattr(torch.optim, name)(theirs)
    theirs[0].grad = torch.sparse_coo_tensor([[0]], [1.0], (2,), check_invariants=True)
    ours[0].grad = make_tensor(np.array([1.0, 0.0], np.float32))
    ours[0]._grad.__class__ = SparseLookingTensor
    expected = _error_of(ref.step)
    assert expected is not None and expected[0] is RuntimeError
    assert _error_of(opt.step) == expected
    assert len(opt.state) == 0  # refused before any state was made


def test_the_base_class_owns_the_loop():
    """An optimizer that writes only ``init_state`` and ``update`` gets the rest from the base:
    parameters without gradients skipped, ``maximize``, state created once with the step count
    first, steps counted, versions bumped, and its state in ``state_dict``."""
    seen = []

    class SignDescent(optim.Optimizer):
        def __init__(self, params, lr=0.1, maximize=False):
            super().__init__(params, dict(lr=lr, maximize=maximize))

        def init_state(self, param, group):
            return {"moves": np.zeros_like(param)}

        def update(self, param, grad, state, group):
            seen.append(float(state["step"]))
            state["moves"] += np.sign(grad)
            param -= group["lr"] * np.sign(grad)

    with_grad = make_tensor(np.zeros(2, np.float32), requires_grad=True)
    without_grad = make_tensor(np.zeros(2, np.float32), requires_grad=True)
    opt = SignDescent([with_grad, without_grad], maximize=True)
    opt.state[with_grad]  # touching the state (a defaultdict) must not stop its initialisation
    with_grad.grad = make_tensor(np.array([1.0, -2.0], np.float32))
    before = with_grad._version
    opt.step()
    opt.step()
    assert seen == [1.0, 2.0]
    np.testing.assert_allclose(with_grad._data, [0.2, -0.2])
    assert with_grad._version == before + 2
    np.testing.assert_array_equal(without_grad._data, 0)
    state = opt.state_dict()["state"]
    assert list(state) == [0] and list(state[0]) == ["step", "moves"]
    assert float(state[0]["step"]) == 2.0
    np.testing.assert_array_equal(state[0]["moves"]._data, [-2.0, 2.0])  # signs of -grad


def test_optimizers_write_only_their_update():
    """Every optimizer stepped from gradients leaves the loop to the base class (LBFGS, which
    evaluates a closure many times per step, is the one that runs its own)."""
    for name in exported_optimizers():
        cls = getattr(optim, name)
        overrides_step = any("step" in vars(klass) for klass in cls.__mro__[:-2])
        assert overrides_step == (name == "LBFGS"), name


def test_sparse_adam_matches_torch_and_refuses_dense_gradients():
    ours, theirs = _pair([(3, 2), (2,)], np.float32)
    opt = optim.SparseAdam(ours, lr=0.01, betas=(0.8, 0.9), maximize=True)
    ref = torch.optim.SparseAdam(theirs, lr=0.01, betas=(0.8, 0.9), maximize=True)
    assert opt.defaults == ref.defaults
    assert repr(opt) == repr(ref)
    assert opt.step() is None and len(opt.state) == 0  # no gradients: nothing to refuse
    _set_grads(ours, theirs, np.random.default_rng(0), np.float32)
    expected = _error_of(ref.step)
    assert expected == (RuntimeError, "SparseAdam does not support dense gradients, "
                                      "please consider Adam instead")
    assert _error_of(opt.step) == expected
    assert opt.state_dict() == {"state": {}, "param_groups": ref.state_dict()["param_groups"]}


def test_sparse_adam_refuses_embedding_gradients_which_chainrule_keeps_dense():
    embedding = chainrule.nn.Embedding(5, 3, sparse=True)
    embedding(chainrule.tensor([[0, 2]])).sum().backward()
    assert not embedding.weight.grad.is_sparse
    with pytest.raises(RuntimeError, match="does not support dense gradients"):
        optim.SparseAdam(embedding.parameters()).step()


def test_mnist_example_adadelta_with_step_lr():
    """pytorch/examples' MNIST recipe: Adadelta(lr=1.0) decayed by StepLR(step_size=1, gamma=0.7)."""
    from chainrule.optim.lr_scheduler import StepLR

    results = []
    for lib in (chainrule, torch):
        lib.manual_seed(0)
        model = lib.nn.Linear(4, 3)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)))
            model.bias.zero_()
        optimizer = lib.optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = (StepLR if lib is chainrule else torch.optim.lr_scheduler.StepLR)(
            optimizer, step_size=1, gamma=0.7)
        x = lib.tensor(np.arange(8, dtype=np.float32).reshape(2, 4) / 8)
        target = lib.tensor(np.array([0, 2]))
        for _ in range(3):
            optimizer.zero_grad()
            loss = lib.nn.functional.nll_loss(lib.nn.functional.log_softmax(model(x), dim=1), target)
            loss.backward()
            optimizer.step()
            scheduler.step()
        results.append((model.weight.detach().numpy().copy(), scheduler.get_last_lr()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-7)
    assert results[0][1] == pytest.approx(results[1][1]) == [1.0 * 0.7 ** 3]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam"])
def test_inf_gradient_gives_torchs_values_without_numpy_warnings(name):
    torch = require_torch()
    results = []
    for lib in (chainrule, torch):
        p = lib.nn.Parameter(lib.tensor([1.0, 2.0, 3.0]))
        p.grad = lib.tensor([float("inf"), 1.0, float("nan")])
        getattr(lib.optim, name)([p], lr=0.1).step()
        results.append(p.detach().numpy().copy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = chainrule.nn.Parameter(chainrule.tensor([1.0, 2.0, 3.0]))
        p.grad = chainrule.tensor([float("inf"), 1.0, float("nan")])
        getattr(chainrule.optim, name)([p], lr=0.1).step()
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, equal_nan=True)
