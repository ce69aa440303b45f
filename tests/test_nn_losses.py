"""Loss functions and modules: values and gradients against torch, stability, errors, reprs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-7, atol=1e-9)


def _pair(array, requires_grad=True):
    ours = chainrule.tensor(array, requires_grad=requires_grad and array.dtype.kind == "f")
    theirs = torch.tensor(array, requires_grad=requires_grad and array.dtype.kind == "f")
    return ours, theirs


def _compare(name, inputs, kwargs=None, dtype=np.float64, grad_inputs=(0, 1), seed=0):
    """Run ``name`` in both libraries on the same arrays; compare value and gradients."""
    kwargs = kwargs or {}
    ours, theirs = zip(*[_pair(a, i in grad_inputs) for i, a in enumerate(inputs)])
    ours_kw = {k: chainrule.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    theirs_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    out = getattr(F, name)(*ours, **ours_kw)
    ref = getattr(TF, name)(*theirs, **theirs_kw)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), **_tol(dtype))
    assert out.shape == tuple(ref.shape) and out.dtype.name == str(ref.dtype)[6:]
    g = np.random.default_rng(seed).standard_normal(ref.shape).astype(ref.detach().numpy().dtype)
    out.backward(chainrule.tensor(g))
    ref.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **_tol(dtype))
    return out, ref


RNG = np.random.default_rng(0)


def _regression_inputs(dtype, shape=(3, 4)):
    x = RNG.standard_normal(shape).astype(dtype)
    return x, (x + RNG.standard_normal(shape) * 1.5).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs", [
    ("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
    ("smooth_l1_loss", {"beta": 0.0}), ("huber_loss", {}), ("huber_loss", {"delta": 0.3}),
])
def test_regression_losses(name, kwargs, reduction, dtype):
    _compare(name, _regression_inputs(dtype), {**kwargs, "reduction": reduction}, dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_elementwise_weight(name, reduction):
    x, t = _regression_inputs(np.float64)
    _compare(name, (x, t), {"reduction": reduction, "weight": RNG.uniform(0.1, 2, x.shape)})
    with pytest.raises(ValueError, match="Weights and input must have the same size."):
        getattr(F, name)(chainrule.tensor(x), chainrule.tensor(t), weight=chainrule.ones(4))


@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3, 4)])
def test_regression_losses_odd_shapes(shape):
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
        for reduction in ("sum", "none") if shape == (0,) else REDUCTIONS:
            _compare(name, _regression_inputs(np.float64, shape), {"reduction": reduction})


def test_mse_broadcasting_warns_like_torch():
    x = RNG.standard_normal((3, 1))
    t = RNG.standard_normal((3,))
    with pytest.warns(UserWarning, match="different to the input size"):
        _compare("mse_loss", (x, t))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weight", [False, True])
def test_binary_cross_entropy(reduction, dtype, with_weight):
    p = RNG.uniform(0.01, 0.99, (4, 3)).astype(dtype)
    p[0, 0], p[0, 1] = 0.0, 1.0  # log clamping at -100
    t = RNG.uniform(0, 1, (4, 3)).astype(dtype)
    kwargs = {"reduction": reduction}
    if with_weight:
        kwargs["weight"] = RNG.uniform(0.5, 2, (3,)).astype(dtype)
    _compare("binary_cross_entropy", (p, t), kwargs, dtype, grad_inputs=(0,))
    p[0, :2] = 0.5
    _compare("binary_cross_entropy", (p, t), kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_binary_cross_entropy_with_logits(reduction, dtype, weights):
    x = (RNG.standard_normal((4, 3)) * 3).astype(dtype)
    t = RNG.uniform(0, 1, (4, 3)).astype(dtype)
    kwargs = {"reduction": reduction}
    if weights in ("weight", "both"):
        kwargs["weight"] = RNG.uniform(0.5, 2, (3,)).astype(dtype)
    if weights in ("pos_weight", "both"):
        kwargs["pos_weight"] = RNG.uniform(0.5, 3, (3,)).astype(dtype)
    _compare("binary_cross_entropy_with_logits", (x, t), kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.filterwarnings("ignore:reduction. .mean. divides")
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, dtype):
    log_p = np.log(RNG.dirichlet(np.ones(5), size=3)).astype(dtype)
    q = RNG.dirichlet(np.ones(5), size=3).astype(dtype)
    q[0, 0] = 0.0
    target = np.log(q + 1e-3).astype(dtype) if log_target else q
    with np.errstate(divide="ignore"):
        _compare("kl_div", (log_p, target), {"reduction": reduction, "log_target": log_target},
                 dtype, grad_inputs=(0,) if not log_target else (0, 1))


# ------------------------------------------------------------------- cross entropy
CE_SHAPES = [((6, 5), (6,)), ((5,), ()), ((3, 5, 4), (3, 4)), ((2, 5, 3, 2), (2, 3, 2)),
             ((0, 5), (0,))]


def _ce_inputs(input_shape, target_shape, dtype, ignore_index=-100):
    x = (RNG.standard_normal(input_shape) * 2).astype(dtype)
    t = RNG.integers(0, 5, target_shape).astype(np.int64)
    if t.size > 1:
        t.flat[1] = ignore_index
    return x, t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CE_SHAPES)
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"label_smoothing": 0.2},
                                     {"weight": True, "label_smoothing": 0.35},
                                     {"ignore_index": 2}])
def test_cross_entropy_class_indices(shapes, reduction, dtype, options):
    if shapes[0][0] == 0 and reduction == "mean":
        pytest.skip("mean over no targets is nan in both; covered below")
    x, t = _ce_inputs(*shapes, dtype, options.get("ignore_index", -100))
    kwargs = {"reduction": reduction, **options}
    if kwargs.pop("weight", False):
        kwargs["weight"] = RNG.uniform(0.2, 2, (5,)).astype(dtype)
    out, ref = _compare("cross_entropy", (x, t), kwargs, dtype, grad_inputs=(0,))
    expected = "NllLoss2DBackward0" if len(shapes[0]) >= 3 else "NllLossBackward0"
    assert out.grad_fn.name() == expected
    if not options.get("label_smoothing") and (reduction != "none" or len(shapes[0]) != 3):
        assert ref.grad_fn.name() == expected


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CE_SHAPES[:4])
@pytest.mark.parametrize("with_weight", [False, True])
def test_nll_loss(shapes, reduction, with_weight):
    x, t = _ce_inputs(*shapes, np.float64)
    kwargs = {"reduction": reduction}
    if with_weight:
        kwargs["weight"] = RNG.uniform(0.2, 2, (5,))
    _compare("nll_loss", (x, t), kwargs, grad_inputs=(0,))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 5, 3)])
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"label_smoothing": 0.25}])
def test_cross_entropy_class_probabilities(shape, reduction, dtype, options):
    x = RNG.standard_normal(shape).astype(dtype)
    axis = 0 if len(shape) == 1 else 1
    p = RNG.uniform(0.1, 1, shape)
    p = (p / p.sum(axis=axis, keepdims=True)).astype(dtype)
    kwargs = {"reduction": reduction, **options}
    if kwargs.pop("weight", False):
        kwargs["weight"] = RNG.uniform(0.2, 2, (5,)).astype(dtype)
    _compare("cross_entropy", (x, p), kwargs, dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CE_SHAPES[:4])
@pytest.mark.parametrize("with_weight", [False, True])
def test_fused_cross_entropy_matches_composed_log_softmax_nll(shapes, reduction, with_weight):
    x, t = _ce_inputs(*shapes, np.float32)
    weight = chainrule.tensor(RNG.uniform(0.2, 2, (5,)).astype(np.float32)) if with_weight else None
    a = chainrule.tensor(x, requires_grad=True)
    b = chainrule.tensor(x, requires_grad=True)
    fused = F.cross_entropy(a, chainrule.tensor(t), weight=weight, reduction=reduction)
    composed = F.nll_loss(F.log_softmax(b, dim=0 if x.ndim == 1 else 1), chainrule.tensor(t),
                          weight=weight, reduction=reduction)
    np.testing.assert_allclose(fused.detach().numpy(), composed.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = chainrule.tensor(RNG.standard_normal(fused.shape).astype(np.float32))
    fused.backward(g)
    composed.backward(g)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert fused.grad_fn.next_functions[0][0].name().endswith("AccumulateGrad")  # one fused node


def test_cross_entropy_extreme_logits_are_finite():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], np.float32)
    t = np.array([1, 2])
    out, ref = _compare("cross_entropy", (x, t), {}, np.float32, grad_inputs=(0,))
    assert np.isfinite(out.item()) and np.isfinite(out.item())
    _compare("binary_cross_entropy_with_logits", (x, (x > 0).astype(np.float32)), {}, np.float32)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    t = np.full(3, -100)
    out = F.cross_entropy(chainrule.tensor(x), chainrule.tensor(t))
    ref = TF.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert np.isnan(out.item()) and np.isnan(ref.item())


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_second_derivative_matches_torch(reduction, label_smoothing):
    x = RNG.standard_normal((4, 5))
    t = np.array([0, 3, -100, 4])
    v = RNG.standard_normal((4, 5))
    a = chainrule.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    la = F.cross_entropy(a, chainrule.tensor(t), reduction=reduction, label_smoothing=label_smoothing).sum()
    lb = TF.cross_entropy(b, torch.tensor(t), reduction=reduction, label_smoothing=label_smoothing).sum()
    (ga,) = chainrule.autograd.grad(la, a, create_graph=True)
    (gb,) = torch.autograd.grad(lb, b, create_graph=True)
    (ga * chainrule.tensor(v)).sum().backward()
    (gb * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name,make_inputs", [
    ("mse_loss", lambda: _regression_inputs(np.float64)),
    ("l1_loss", lambda: _regression_inputs(np.float64)),
    ("smooth_l1_loss", lambda: _regression_inputs(np.float64)),
    ("huber_loss", lambda: _regression_inputs(np.float64)),
    ("binary_cross_entropy_with_logits",
     lambda: (RNG.standard_normal((3, 4)), RNG.uniform(0, 1, (3, 4)))),
])
def test_gradcheck(name, make_inputs):
    x, t = make_inputs()
    a = chainrule.tensor(x, requires_grad=True)
    b = chainrule.tensor(t, requires_grad=True)
    assert gradcheck(lambda p, q: getattr(F, name)(p, q), (a, b))


def test_gradcheck_cross_entropy():
    x, t = _ce_inputs((3, 5, 2), (3, 2), np.float64)
    target = chainrule.tensor(t)
    weight = chainrule.tensor(RNG.uniform(0.5, 2, 5))
    a = chainrule.tensor(x, requires_grad=True)
    assert gradcheck(lambda p: F.cross_entropy(p, target, weight=weight, label_smoothing=0.1), (a,))
    p = RNG.dirichlet(np.ones(5), size=3)
    b = chainrule.tensor(p, requires_grad=True)
    a = chainrule.tensor(x[:, :, 0].copy(), requires_grad=True)
    assert gradcheck(lambda u, v: F.cross_entropy(u, v), (a, b))


# ------------------------------------------------------------------------- errors
def test_errors_match_torch():
    x = chainrule.randn(3, 5)
    with pytest.raises(RuntimeError, match="Expected floating point type for target with class probabilities"):
        F.cross_entropy(x, chainrule.zeros(3, 5, dtype=chainrule.int64))
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        F.cross_entropy(x, chainrule.tensor([0, 7, 1]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(x, chainrule.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float"):
        F.nll_loss(x, chainrule.zeros(3))
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(x, chainrule.zeros(3))
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(x.sigmoid(), chainrule.zeros(3))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(x * 5, chainrule.zeros(3, 5))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 5 classes"):
        F.cross_entropy(x, chainrule.tensor([0, 1, 2]), weight=chainrule.ones(4))


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.nn.functional.nll_loss(x, lib.zeros(3)),
    lambda lib, x: lib.nn.functional.cross_entropy(x, lib.zeros(3)),
    lambda lib, x: lib.nn.functional.cross_entropy(x, lib.zeros(3, 2, dtype=lib.long)),
    lambda lib, x: lib.nn.functional.nll_loss(x, lib.zeros(3, 2, dtype=lib.long)),
    lambda lib, x: lib.nn.functional.cross_entropy(x.reshape(3, 5, 1), lib.zeros(3, 2, dtype=lib.long)),
    lambda lib, x: lib.nn.MSELoss()(x, lib.zeros(3, 2)),
    lambda lib, x: lib.nn.L1Loss()(x, lib.zeros(2, 5)),
    lambda lib, x: lib.nn.SmoothL1Loss()(x, lib.zeros(4)),
    lambda lib, x: lib.nn.HuberLoss()(x, lib.zeros(3, 4)),
])
def test_error_messages_match_torch_exactly(call):
    values = RNG.standard_normal((3, 5)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the regression losses first warn about the sizes
        with pytest.raises(RuntimeError) as theirs:
            call(torch, torch.tensor(values))
        with pytest.raises(RuntimeError) as ours:
            call(chainrule, chainrule.tensor(values))
    assert str(ours.value) == str(theirs.value)


# ------------------------------------------------------------------------ modules
@pytest.mark.parametrize("cls,kwargs", [
    ("L1Loss", {}), ("MSELoss", {"reduction": "sum"}), ("SmoothL1Loss", {"beta": 0.5}),
    ("HuberLoss", {"delta": 2.0}), ("CrossEntropyLoss", {"label_smoothing": 0.1}),
    ("NLLLoss", {"ignore_index": 1}), ("BCELoss", {}), ("BCEWithLogitsLoss", {}),
    ("KLDivLoss", {"reduction": "batchmean"}),
])
def test_loss_modules_match_torch(cls, kwargs):
    ours = getattr(nn, cls)(**kwargs)
    ref = getattr(torch.nn, cls)(**kwargs)
    assert repr(ours) == repr(ref)
    assert ours.reduction == ref.reduction
    if cls in ("CrossEntropyLoss", "NLLLoss"):
        x, t = _ce_inputs((4, 5), (4,), np.float32, kwargs.get("ignore_index", -100))
    elif cls == "BCELoss":
        x, t = RNG.uniform(0.05, 0.95, (4, 3)).astype(np.float32), RNG.uniform(0, 1, (4, 3)).astype(np.float32)
    elif cls == "KLDivLoss":
        x, t = np.log(RNG.dirichlet(np.ones(3), 4)).astype(np.float32), RNG.dirichlet(np.ones(3), 4).astype(np.float32)
    else:
        x, t = _regression_inputs(np.float32)
    a, b = _pair(x)
    out, expected = ours(a, chainrule.tensor(t)), ref(b, torch.tensor(t))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.backward()
    expected.backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_weighted_loss_modules_keep_weight_as_buffer():
    weight = chainrule.tensor([1.0, 2.0, 3.0])
    loss = nn.CrossEntropyLoss(weight=weight)
    assert list(loss.state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=weight).state_dict()) == ["pos_weight"]
    assert list(loss.parameters()) == []
    assert isinstance(loss, nn.modules.loss._WeightedLoss)
    assert isinstance(nn.MSELoss(), nn.modules.loss._Loss)


def test_legacy_reduction_arguments():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.L1Loss(reduce=False).reduction == "none"
