"""``torch.bfloat16``: a dtype row like the others (promotion, finfo, printing, conversion), and
ops on bfloat16 tensors giving torch's values and gradients, compared live with torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule import _dtype

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
pytest.importorskip("ml_dtypes", reason="bfloat16 needs the optional ml_dtypes package")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 8)).astype(np.float32)
Y = RNG.standard_normal((4, 8)).astype(np.float32)
WIDE = RNG.standard_normal((64, 256)).astype(np.float32)
IMAGE = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
KERNEL = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
LABELS = [0, 1, 2, 3]

# Ops that torch computes in float32 and rounds once; chainrule must give the same bits.
EXACT = {
    "add": (lambda L, x, y: x + y, X, Y),
    "mul": (lambda L, x, y: x * y, X, Y),
    "div": (lambda L, x, y: x / y, X, Y),
    "add_scalar": (lambda L, x, y: x + 0.1, X, Y),
    "pow": (lambda L, x, y: x ** 2, X, Y),
    "matmul": (lambda L, x, y: x @ y.T, WIDE, WIDE),
    "sum": (lambda L, x, y: x.sum(), WIDE, WIDE),
    "sum_dim": (lambda L, x, y: x.sum(1), WIDE, WIDE),
    "mean": (lambda L, x, y: x.mean(), WIDE, WIDE),
    "exp": (lambda L, x, y: x.exp(), X, Y),
    "log": (lambda L, x, y: x.abs().log(), X, Y),
    "sqrt": (lambda L, x, y: x.abs().sqrt(), X, Y),
    "relu": (lambda L, x, y: L.relu(x), X, Y),
    "max": (lambda L, x, y: x.max(1)[0], X, Y),
    "cumsum": (lambda L, x, y: x.cumsum(1), WIDE, WIDE),
    "clamp": (lambda L, x, y: x.clamp(-0.5, 0.5), X, Y),
    "var": (lambda L, x, y: x.var(1), WIDE, WIDE),
    "std": (lambda L, x, y: x.std(), WIDE, WIDE),
    "linear": (lambda L, x, y: L.nn.functional.linear(x, y), WIDE, WIDE[:32]),
}
# Exact forward; torch's bfloat16 convolution backward rounds partial sums on some CPUs (seen
# on AMD Zen 3, AVX2 only), so its gradients may differ by a couple of units there.
EXACT_FORWARD = {
    "conv2d": (lambda L, x, y: L.nn.functional.conv2d(x, y), IMAGE, KERNEL),
}
# Ops torch runs as one fused float32 kernel and chainrule composes from bfloat16 steps: each
# step rounds, so values may differ by a few bfloat16 units in the last place.
COMPOSED = {
    "softmax": (lambda L, x, y: L.softmax(x, dim=1), WIDE, WIDE),
    "log_softmax": (lambda L, x, y: L.log_softmax(x, 1), X, Y),
    "layer_norm": (lambda L, x, y: L.nn.functional.layer_norm(x, (8,)), X, Y),
    "sigmoid": (lambda L, x, y: x.sigmoid(), X, Y),
    "tanh": (lambda L, x, y: x.tanh(), X, Y),
    "cross_entropy": (lambda L, x, y: L.nn.functional.cross_entropy(x, L.tensor(LABELS)), X, Y),
    "mse_loss": (lambda L, x, y: L.nn.functional.mse_loss(x, y), X, Y),
    "cumprod": (lambda L, x, y: x.cumprod(1), X, Y),  # exact forward, composed backward
}


def run_in_bfloat16(lib, op, x, y):
    """``op`` on bfloat16 copies of ``x`` and ``y``; the result and both gradients, as float32."""
    a = lib.tensor(x).to(lib.bfloat16).requires_grad_()
    b = lib.tensor(y).to(lib.bfloat16).requires_grad_()
    out = op(lib, a, b)
    out.float().sum().backward()
    grads = [t.grad for t in (a, b)]
    assert all(g is None or g.dtype == lib.bfloat16 for g in grads)
    return out, [None if g is None else g.float().numpy() for g in grads]


CASES = [(name, case, 0.0, 2 ** -7) for name, case in EXACT.items()] + [
    (name, case, 0.0, 2 ** -5) for name, case in EXACT_FORWARD.items()] + [
    (name, case, 2 ** -6, 2 ** -5) for name, case in COMPOSED.items()]


@pytest.mark.parametrize(("name", "case", "value_tolerance", "grad_tolerance"), CASES,
                         ids=[c[0] for c in CASES])
def test_op_matches_torch(name, case, value_tolerance, grad_tolerance):
    """EXACT ops give torch's bits (tolerance 0); COMPOSED ones agree within bfloat16 rounding."""
    op, x, y = case
    ours, our_grads = run_in_bfloat16(chainrule, op, x, y)
    theirs, their_grads = run_in_bfloat16(torch, op, x, y)
    assert str(ours.dtype) == str(theirs.dtype) == "torch.bfloat16"
    np.testing.assert_allclose(ours.detach().float().numpy(), theirs.detach().float().numpy(),
                               rtol=value_tolerance, atol=value_tolerance)
    for mine, other in zip(our_grads, their_grads):
        assert (mine is None) == (other is None)
        if other is not None:
            np.testing.assert_allclose(mine, other, rtol=grad_tolerance, atol=grad_tolerance)


PROMOTION = ["bool", "uint8", "int64", "float16", "bfloat16", "float32", "float64"]


@pytest.mark.parametrize("other", PROMOTION)
def test_promotion_matches_torch(other):
    assert str(chainrule.promote_types(chainrule.bfloat16, getattr(chainrule, other))) == str(
        torch.promote_types(torch.bfloat16, getattr(torch, other)))
    ours = chainrule.ones(2, dtype=getattr(chainrule, other)) + chainrule.ones(2).bfloat16()
    theirs = torch.ones(2, dtype=getattr(torch, other)) + torch.ones(2).bfloat16()
    assert str(ours.dtype) == str(theirs.dtype)


@pytest.mark.parametrize("combine", [lambda L: L.ones(2).bfloat16() * 2.5,
                                     lambda L: L.tensor([1, 2]) + L.tensor(1.0).bfloat16(),
                                     lambda L: L.tensor([1, 2]) + L.ones(1).bfloat16(),
                                     lambda L: L.ones(2).bfloat16() + L.tensor(1.0),
                                     lambda L: L.ones(2).bfloat16() + L.tensor(1.0).half()])
def test_scalars_and_zero_dim_tensors_promote_as_in_torch(combine):
    assert str(combine(chainrule).dtype) == str(combine(torch).dtype)


def test_finfo_matches_torch():
    assert repr(chainrule.finfo(chainrule.bfloat16)) == repr(torch.finfo(torch.bfloat16))
    assert chainrule.finfo(chainrule.bfloat16).eps == torch.finfo(torch.bfloat16).eps


@pytest.mark.parametrize("values", [[1.1, 2.0, -3.5], [1e-5, 3e4], [[0.5, 1.0], [2.0, 4.0]]])
def test_repr_and_conversions_match_torch(values):
    ours = chainrule.tensor(values, dtype=chainrule.bfloat16)
    theirs = torch.tensor(values, dtype=torch.bfloat16)
    assert repr(ours) == repr(theirs)
    assert ours.type() == theirs.type() == "torch.BFloat16Tensor"
    assert repr(chainrule.tensor(values).bfloat16()) == repr(torch.tensor(values).bfloat16())
    assert ours.is_floating_point() and ours.element_size() == 2
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


def test_dtype_names_and_requires_grad():
    assert repr(chainrule.bfloat16) == "torch.bfloat16"
    assert chainrule.bfloat16.is_floating_point and chainrule.bfloat16.itemsize == 2
    assert _dtype.to_dtype("bfloat16") is chainrule.bfloat16
    x = chainrule.ones(3, dtype=chainrule.bfloat16, requires_grad=True)
    (x * 3).sum().backward()
    assert repr(x.grad) == repr(torch.full((3,), 3.0, dtype=torch.bfloat16))


def test_without_ml_dtypes_the_name_exists_but_making_a_tensor_says_what_to_install(monkeypatch):
    fresh = _dtype.dtype("bfloat16", None, 2, itemsize=2, load_numpy=_dtype._load_bfloat16)
    monkeypatch.setitem(__import__("sys").modules, "ml_dtypes", None)
    assert repr(fresh) == "torch.bfloat16" and fresh.is_floating_point
    with pytest.raises(ImportError, match=r'bfloat16 tensors needs .*pip install "chainrule\[bf16\]"'):
        fresh.numpy


def test_default_dtype_can_be_bfloat16_as_in_torch():
    try:
        for lib in (chainrule, torch):
            lib.set_default_dtype(lib.bfloat16)
        ours, theirs = chainrule.tensor([1.1, 2.0]), torch.tensor([1.1, 2.0])
        assert repr(ours) == repr(theirs) and str(ours.dtype) == str(theirs.dtype)
    finally:
        for lib in (chainrule, torch):
            lib.set_default_dtype(lib.float32)


def train_bfloat16_linear(lib, optimizer_name: str):
    model = lib.nn.Linear(8, 4).bfloat16()
    with lib.no_grad():
        model.weight.copy_(lib.tensor(X[:, :8]))
        model.bias.zero_()
    optimizer = getattr(lib.optim, optimizer_name)(model.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        loss = model(lib.tensor(Y).bfloat16()).float().pow(2).mean()
        loss.backward()
        optimizer.step()
    return model.weight


# torch's optimizers compute each update in float32 and round once (``p.add_(g, alpha=-lr)``);
# chainrule's round after each step of the update, so an element may land one bfloat16 unit
# (2**-7 relative) away.
@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam", "AdamW"])
def test_module_bfloat16_trains_as_torch(optimizer_name):
    ours = train_bfloat16_linear(chainrule, optimizer_name)
    theirs = train_bfloat16_linear(torch, optimizer_name)
    assert ours.dtype == chainrule.bfloat16 and str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_allclose(ours.detach().float().numpy(), theirs.detach().float().numpy(),
                               rtol=2 ** -7, atol=0)
