"""``torch.autocast``, ``torch.amp.GradScaler`` and the TF32 / matmul-precision switches,
compared live with torch: output dtypes op by op, warnings word for word, and a scaled training
loop step by step (scale, growth tracker, skipped steps, parameters)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
pytest.importorskip("ml_dtypes", reason="bfloat16 needs the optional ml_dtypes package")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 6)).astype(np.float32)
W = RNG.standard_normal((5, 6)).astype(np.float32)
PROBS = RNG.uniform(0.1, 0.9, (4, 5)).astype(np.float32)


def F(lib):
    return lib.nn.functional


OPS = {
    "linear": lambda L, x, w: F(L).linear(x, w),
    "matmul": lambda L, x, w: x @ w.T,
    "mm": lambda L, x, w: L.mm(x, w.T),
    "bmm": lambda L, x, w: L.bmm(x[None], w.T[None]),
    "addmm": lambda L, x, w: L.addmm(L.zeros(4, 5), x, w.T),
    "baddbmm": lambda L, x, w: L.baddbmm(L.zeros(1, 4, 5), x[None], w.T[None]),
    "conv1d": lambda L, x, w: F(L).conv1d(x[None], w[:, :4, None].expand(5, 4, 2)),
    "conv2d": lambda L, x, w: F(L).conv2d(x.reshape(1, 1, 4, 6), w[:, :4].reshape(5, 1, 2, 2)),
    "conv_transpose2d": lambda L, x, w: F(L).conv_transpose2d(x.reshape(1, 1, 4, 6),
                                                              w[:, :4].reshape(1, 5, 2, 2)),
    "mse_loss": lambda L, x, w: F(L).mse_loss(F(L).linear(x, w), L.zeros(4, 5)),
    "l1_loss": lambda L, x, w: F(L).l1_loss(F(L).linear(x, w), L.zeros(4, 5)),
    "smooth_l1_loss": lambda L, x, w: F(L).smooth_l1_loss(F(L).linear(x, w), L.zeros(4, 5)),
    "huber_loss": lambda L, x, w: F(L).huber_loss(F(L).linear(x, w), L.zeros(4, 5)),
    "cross_entropy": lambda L, x, w: F(L).cross_entropy(F(L).linear(x, w), L.tensor([0, 1, 2, 3])),
    "nll_loss": lambda L, x, w: F(L).nll_loss(F(L).linear(x, w), L.tensor([0, 1, 2, 3])),
    "binary_cross_entropy": lambda L, x, w: F(L).binary_cross_entropy(
        (x @ w.T).sigmoid(), L.tensor(PROBS)),
    "binary_cross_entropy_with_logits": lambda L, x, w: F(L).binary_cross_entropy_with_logits(
        F(L).linear(x, w), L.tensor(PROBS)),
    "kl_div": lambda L, x, w: F(L).kl_div(F(L).linear(x, w), L.tensor(PROBS), reduction="batchmean"),
    # Ops on neither list follow their inputs.
    "softmax_of_product": lambda L, x, w: L.softmax(x @ w.T, 1),
    "sum_of_product": lambda L, x, w: (x @ w.T).sum(),
    "add_float32": lambda L, x, w: x + 1,
    "relu_of_product": lambda L, x, w: L.relu(F(L).linear(x, w)),
    "float64_matmul_stays": lambda L, x, w: x.double() @ w.double().T,
    "float16_input_cast": lambda L, x, w: x.half() @ w.T,
}


def run_autocast(lib, name, **autocast_kwargs):
    x = lib.tensor(X, requires_grad=True)
    w = lib.tensor(W, requires_grad=True)
    with lib.autocast("cpu", **autocast_kwargs):
        out = OPS[name](lib, x, w)
    out.float().sum().backward()
    return out, x.grad, w.grad


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("fast", ["bfloat16", "float16"])
def test_autocast_gives_torch_dtypes_values_and_gradients(name, fast):
    ours = run_autocast(chainrule, name, dtype=getattr(chainrule, fast))
    theirs = run_autocast(torch, name, dtype=getattr(torch, fast))
    for mine, other in zip(ours, theirs):
        assert (mine is None) == (other is None)
        if other is None:
            continue
        assert str(mine.dtype) == str(other.dtype), name
        np.testing.assert_allclose(mine.detach().double().numpy(), other.detach().double().numpy(),
                                   rtol=2 ** -6, atol=2 ** -5)


def test_default_cpu_dtype_is_bfloat16_and_disabled_region_nests():
    x, w = chainrule.tensor(X), chainrule.tensor(W)
    assert not chainrule.is_autocast_enabled("cpu")
    with chainrule.autocast("cpu") as region:
        assert region.fast_dtype is chainrule.bfloat16
        assert chainrule.is_autocast_enabled("cpu")
        assert chainrule.get_autocast_dtype("cpu") is chainrule.bfloat16
        with chainrule.autocast("cpu", enabled=False):
            assert not chainrule.is_autocast_enabled("cpu")
            assert (x @ w.T).dtype is chainrule.float32
            with chainrule.amp.autocast("cpu", dtype=chainrule.float16):
                assert (x @ w.T).dtype is chainrule.float16
        assert (x @ w.T).dtype is chainrule.bfloat16
    assert not chainrule.is_autocast_enabled("cpu")
    assert (x @ w.T).dtype is chainrule.float32


def test_decorator_and_restore_after_an_exception():
    @chainrule.autocast("cpu")
    def product(a, b):
        return a @ b

    x = chainrule.tensor(X)
    assert product(x, x.T).dtype is chainrule.bfloat16
    with pytest.raises(ValueError), chainrule.autocast("cpu"):
        raise ValueError
    assert not chainrule.is_autocast_enabled("cpu")
    assert (x @ x.T).dtype is chainrule.float32


def warning_texts(make) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = make()
    # torch's C++ warnings end in " (Triggered internally at <its source file>)"
    return made, [f"{w.category.__name__}: {w.message}".split(" (Triggered internally")[0]
                  for w in caught]


@pytest.mark.parametrize("make", [
    lambda L: L.autocast("cuda"),
    lambda L: L.amp.autocast("cuda", dtype=L.bfloat16),
    lambda L: L.autocast("cpu", dtype=L.float64),
    lambda L: L.cpu.amp.autocast(),
    lambda L: L.cuda.amp.autocast(),
    lambda L: L.amp.GradScaler(),
    lambda L: L.amp.GradScaler("cpu"),
    lambda L: L.cpu.amp.GradScaler(),
    lambda L: L.cuda.amp.GradScaler(),
], ids=["cuda", "amp-cuda", "cpu-float64", "cpu.amp", "cuda.amp", "scaler", "scaler-cpu",
        "cpu.amp-scaler", "cuda.amp-scaler"])
def test_warnings_and_what_gets_disabled_match_torch(make):
    ours, our_warnings = warning_texts(lambda: make(chainrule))
    theirs, their_warnings = warning_texts(lambda: make(torch))
    assert our_warnings == their_warnings
    if hasattr(theirs, "is_enabled"):
        assert ours.is_enabled() == theirs.is_enabled()
        assert ours.state_dict() == theirs.state_dict()
    else:
        assert ours._enabled == theirs._enabled
        assert str(ours.fast_dtype) == str(theirs.fast_dtype)


@pytest.mark.parametrize("device_type", [1, "xyz"])
def test_bad_device_type_raises_as_torch(device_type):
    with pytest.raises(Exception) as theirs:
        torch.autocast(device_type)
    with pytest.raises(type(theirs.value), match=None) as ours:
        chainrule.autocast(device_type)
    assert str(ours.value) == str(theirs.value)


def test_disabled_cuda_region_changes_nothing():
    x = chainrule.tensor(X)
    with pytest.warns(UserWarning, match="Disabling autocast"), chainrule.autocast("cuda"):
        assert not chainrule.is_autocast_enabled("cuda")
        assert not chainrule.is_autocast_enabled()
        assert (x @ x.T).dtype is chainrule.float32


# ------------------------------------------------------------------------- GradScaler
def scaled_training(lib, steps: int, poisoned: set[int], **scaler_kwargs):
    """A few SGD steps of a bfloat16 linear model under autocast with a CPU GradScaler; at the
    steps in ``poisoned`` one input is inf, so that step must be skipped. Returns per-step
    (scale, growth tracker, step result, weights)."""
    model = lib.nn.Linear(6, 5)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(W))
        model.bias.zero_()
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
    scaler = lib.amp.GradScaler("cpu", **scaler_kwargs)
    history = []
    for step in range(steps):
        x = lib.tensor(X * (step + 1))
        if step in poisoned:
            x[0, 0] = float("inf")
        optimizer.zero_grad()
        with lib.autocast("cpu"):
            loss = lib.nn.functional.mse_loss(model(x), lib.zeros(4, 5))
        scaler.scale(loss).backward()
        result = scaler.step(optimizer)
        scaler.update()
        history.append((scaler.get_scale(), scaler.state_dict(), result,
                        model.weight.detach().numpy().copy()))
    return history


def test_scaler_training_matches_torch_step_by_step():
    kwargs = dict(init_scale=2.0 ** 10, growth_interval=2)
    ours = scaled_training(chainrule, 7, {1, 4}, **kwargs)
    theirs = scaled_training(torch, 7, {1, 4}, **kwargs)
    for step, (mine, other) in enumerate(zip(ours, theirs)):
        assert mine[:3] == other[:3], step
        np.testing.assert_allclose(mine[3], other[3], rtol=1e-5, atol=1e-6)
    assert [s[0] for s in ours] == [2.0 ** 10, 2.0 ** 9, 2.0 ** 9, 2.0 ** 10, 2.0 ** 9,
                                    2.0 ** 9, 2.0 ** 10]


def test_scale_keeps_the_output_dtype_and_nests_in_lists():
    ours = chainrule.amp.GradScaler("cpu").scale([chainrule.ones(2).bfloat16(), (chainrule.ones(1),)])
    theirs = torch.amp.GradScaler("cpu").scale([torch.ones(2).bfloat16(), (torch.ones(1),)])
    assert repr(ours) == repr(theirs)


def scaler_misuse(lib, action: str):
    p = lib.ones(2, requires_grad=True)
    optimizer = lib.optim.SGD([p], lr=1.0)
    scaler = lib.amp.GradScaler("cpu")
    if action == "step_before_scale":
        return scaler.step(optimizer)
    if action == "load_empty":
        return scaler.load_state_dict({})
    if action == "update_without_step":
        scaler.scale(p.sum())
        return scaler.update()
    scaler.scale(p.sum()).backward()
    if action == "closure":
        return scaler.step(optimizer, closure=lambda: None)
    if action == "unscale_twice":
        scaler.unscale_(optimizer)
        return scaler.unscale_(optimizer)
    scaler.step(optimizer)
    return scaler.step(optimizer) if action == "step_twice" else scaler.unscale_(optimizer)


@pytest.mark.parametrize("action", ["step_before_scale", "load_empty", "update_without_step",
                                    "closure", "unscale_twice", "step_twice",
                                    "unscale_after_step"])
def test_scaler_misuse_raises_as_torch(action):
    with pytest.raises(Exception) as theirs:
        scaler_misuse(torch, action)
    with pytest.raises(type(theirs.value)) as ours:
        scaler_misuse(chainrule, action)
    assert str(ours.value) == str(theirs.value)


def test_scaler_state_dict_round_trip_and_setters():
    source = chainrule.amp.GradScaler("cpu", init_scale=256.0, growth_interval=3)
    source.set_growth_factor(4.0)
    source.set_backoff_factor(0.25)
    target = chainrule.amp.GradScaler("cpu")
    target.load_state_dict(source.state_dict())
    assert target.state_dict() == {"scale": 256.0, "growth_factor": 4.0, "backoff_factor": 0.25,
                                   "growth_interval": 3, "_growth_tracker": 0}
    assert (target.get_scale(), target.get_growth_factor(), target.get_backoff_factor(),
            target.get_growth_interval()) == (256.0, 4.0, 0.25, 3)


def test_disabled_scaler_passes_through():
    p = chainrule.ones(2, requires_grad=True)
    optimizer = chainrule.optim.SGD([p], lr=1.0)
    scaler = chainrule.amp.GradScaler("cpu", enabled=False)
    loss = p.sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    scaler.step(optimizer)
    scaler.update()
    assert p.tolist() == [0.0, 0.0] and scaler.get_scale() == 1.0 and scaler.state_dict() == {}


# ----------------------------------------------------------------- TF32 and precision flags
@pytest.fixture
def restore_precision():
    saved = chainrule.get_float32_matmul_precision(), torch.get_float32_matmul_precision()
    yield
    chainrule.set_float32_matmul_precision(saved[0])
    torch.set_float32_matmul_precision(saved[1])


@pytest.mark.parametrize("change", [
    lambda L: L.set_float32_matmul_precision("high"),
    lambda L: L.set_float32_matmul_precision("medium"),
    lambda L: L.set_float32_matmul_precision("bogus"),
    lambda L: setattr(L.backends.cuda.matmul, "allow_tf32", True),
    lambda L: setattr(L.backends.cuda.matmul, "allow_tf32", False),
], ids=["high", "medium", "bogus", "tf32-on", "tf32-off"])
def test_precision_and_tf32_flags_move_together_as_in_torch(change, restore_precision):
    for lib in (chainrule, torch):
        lib.set_float32_matmul_precision("highest")
    _, ours = warning_texts(lambda: change(chainrule))
    _, theirs = warning_texts(lambda: change(torch))
    assert ours == theirs
    assert chainrule.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    assert chainrule.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32


def test_gpu_flags_are_settable_and_change_no_result():
    x = chainrule.tensor(X)
    before = (x @ x.T).numpy()
    saved = chainrule.backends.cudnn.allow_tf32, chainrule.backends.cudnn.benchmark
    chainrule.backends.cudnn.allow_tf32, chainrule.backends.cudnn.benchmark = False, True
    try:
        assert chainrule.backends.cudnn.allow_tf32 == (not torch.backends.cudnn.allow_tf32)
        np.testing.assert_array_equal((x @ x.T).numpy(), before)
    finally:
        chainrule.backends.cudnn.allow_tf32, chainrule.backends.cudnn.benchmark = saved
    assert chainrule.backends.cuda.matmul.allow_bf16_reduced_precision_reduction is True
    assert not chainrule.backends.cuda.is_built()
