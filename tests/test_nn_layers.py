"""Each layer and functional form against PyTorch: forward values, input and parameter gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _torch_dtype(dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


def _copy_weights(ours, theirs) -> None:
    """Load the torch module's parameters and buffers into ours (names must match)."""
    state = {k: chainrule.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


def _compare(ours, theirs, inputs, dtype, needs_grad=(True,), tol=None):
    """Run both modules on the same inputs and one random upstream gradient; compare everything."""
    ours = ours.to(_torch_dtype(dtype) == torch.float64 and chainrule.float64 or chainrule.float32)
    theirs = theirs.to(_torch_dtype(dtype))
    _copy_weights(ours, theirs)
    ours_in, theirs_in = [], []
    for array, grad in zip(inputs, needs_grad + (False,) * len(inputs)):
        ours_in.append(chainrule.tensor(array, requires_grad=grad))
        theirs_in.append(torch.tensor(array, requires_grad=grad))
    out = ours(*ours_in)
    expected = theirs(*theirs_in)
    tol = tol or TOL[dtype]
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **tol)
    assert out.dtype.name == str(expected.dtype).split(".")[-1]
    upstream = np.random.default_rng(1).standard_normal(expected.shape).astype(dtype)
    out.backward(chainrule.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for mine, ref in zip(ours_in, theirs_in):
        if ref.requires_grad:
            np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), **tol)
    their_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        ref = their_params[name]
        if ref.grad is None:
            assert param.grad is None or not np.any(param.grad.numpy())
        else:
            np.testing.assert_allclose(param.grad.numpy(), ref.grad.numpy(), **tol, err_msg=name)


def _randn(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


LAYERS = {
    "Linear": (lambda m: m.Linear(5, 3), [(4, 5)]),
    "Linear_nobias": (lambda m: m.Linear(5, 3, bias=False), [(4, 5)]),
    "Linear_3d": (lambda m: m.Linear(5, 3), [(2, 4, 5)]),
    "Linear_1d": (lambda m: m.Linear(5, 3), [(5,)]),
    "Linear_empty": (lambda m: m.Linear(5, 3), [(0, 5)]),
    "Bilinear": (lambda m: m.Bilinear(4, 3, 2), [(5, 4), (5, 3)]),
    "Identity": (lambda m: m.Identity(), [(3, 4)]),
    "ReLU": (lambda m: m.ReLU(), [(3, 4)]),
    "ReLU6": (lambda m: m.ReLU6(), [(3, 4)]),
    "LeakyReLU": (lambda m: m.LeakyReLU(0.2), [(3, 4)]),
    "ELU": (lambda m: m.ELU(0.7), [(3, 4)]),
    "SELU": (lambda m: m.SELU(), [(3, 4)]),
    "CELU": (lambda m: m.CELU(0.5), [(3, 4)]),
    "GELU": (lambda m: m.GELU(), [(3, 4)]),
    "GELU_tanh": (lambda m: m.GELU(approximate="tanh"), [(3, 4)]),
    "SiLU": (lambda m: m.SiLU(), [(3, 4)]),
    "Mish": (lambda m: m.Mish(), [(3, 4)]),
    "Tanh": (lambda m: m.Tanh(), [(3, 4)]),
    "Sigmoid": (lambda m: m.Sigmoid(), [(3, 4)]),
    "Softplus": (lambda m: m.Softplus(beta=2.0, threshold=1.0), [(3, 4)]),
    "Softsign": (lambda m: m.Softsign(), [(3, 4)]),
    "Softmax": (lambda m: m.Softmax(dim=1), [(3, 4)]),
    "Softmax0": (lambda m: m.Softmax(dim=0), [(3, 4, 2)]),
    "Softmin": (lambda m: m.Softmin(dim=-1), [(3, 4)]),
    "LogSoftmax": (lambda m: m.LogSoftmax(dim=1), [(3, 4)]),
    "Hardtanh": (lambda m: m.Hardtanh(-0.5, 0.5), [(3, 4)]),
    "Hardsigmoid": (lambda m: m.Hardsigmoid(), [(3, 4)]),
    "Hardswish": (lambda m: m.Hardswish(), [(3, 4)]),
    "LogSigmoid": (lambda m: m.LogSigmoid(), [(3, 4)]),
    "Tanhshrink": (lambda m: m.Tanhshrink(), [(3, 4)]),
    "Threshold": (lambda m: m.Threshold(0.1, -2.0), [(3, 4)]),
    "GLU": (lambda m: m.GLU(dim=1), [(3, 4)]),
    "PReLU": (lambda m: m.PReLU(), [(3, 4)]),
    "PReLU_channels": (lambda m: m.PReLU(4), [(3, 4, 2)]),
    "Flatten": (lambda m: m.Flatten(), [(2, 3, 4)]),
    "Unflatten": (lambda m: m.Unflatten(1, (2, 2)), [(3, 4)]),
    "Dropout_eval": (lambda m: m.Dropout(0.5).eval(), [(3, 4)]),
    "Sequential": (lambda m: m.Sequential(m.Linear(4, 8), m.Tanh(), m.Linear(8, 2)), [(5, 4)]),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name, dtype):
    build, shapes = LAYERS[name]
    inputs = [_randn(*s, dtype=dtype, seed=i) for i, s in enumerate(shapes)]
    # PyTorch's hardsigmoid/hardswish kernels use the float constant 1/6f even in float64.
    tol = dict(rtol=1e-7, atol=1e-9) if name.startswith("Hards") and dtype == np.float64 else None
    _compare(build(nn), build(torch.nn), inputs, dtype, needs_grad=(True,) * len(inputs), tol=tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_embedding_matches_torch(dtype):
    for padding_idx in (None, 2, -1):
        theirs = torch.nn.Embedding(6, 3, padding_idx=padding_idx).to(_torch_dtype(dtype))
        ours = nn.Embedding(6, 3, padding_idx=padding_idx).to(_torch_dtype(dtype) == torch.float64
                                                                and chainrule.float64 or chainrule.float32)
        ids = np.array([[0, 2, 5], [2, 2, 1]])
        _compare(ours, theirs, [ids], dtype, needs_grad=(False,))
        assert ours.padding_idx == theirs.padding_idx
        if padding_idx is not None:
            assert not ours.weight.grad.numpy()[ours.padding_idx].any()


def test_embedding_errors_and_init():
    layer = nn.Embedding(4, 2, padding_idx=1)
    assert not layer.weight.detach().numpy()[1].any()
    with pytest.raises(IndexError, match="index out of range in self"):
        layer(chainrule.tensor([4]))
    with pytest.raises(RuntimeError, match="Long, Int"):
        layer(chainrule.tensor([1.0]))
    frozen = nn.Embedding.from_pretrained(chainrule.eye(3))
    assert not frozen.weight.requires_grad
    assert repr(layer) == repr(torch.nn.Embedding(4, 2, padding_idx=1))


def test_embedding_scale_grad_by_freq_and_max_norm():
    weight = _randn(5, 3)
    ids = np.array([0, 0, 3, 1])
    ours = chainrule.tensor(weight.copy(), requires_grad=True)
    theirs = torch.tensor(weight.copy(), requires_grad=True)
    F.embedding(chainrule.tensor(ids), ours, scale_grad_by_freq=True, max_norm=1.0).sum().backward()
    torch.nn.functional.embedding(torch.tensor(ids), theirs, scale_grad_by_freq=True,
                                  max_norm=1.0).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (0, 4)])
def test_linear_grad_fn_names_and_gradcheck(shape):
    x = chainrule.tensor(_randn(*shape), requires_grad=True)
    w = chainrule.tensor(_randn(3, 4, seed=1), requires_grad=True)
    b = chainrule.tensor(_randn(3, seed=2), requires_grad=True)
    tx, tw, tb = (torch.tensor(t.detach().numpy(), requires_grad=True) for t in (x, w, b))
    assert F.linear(x, w, b).grad_fn.name() == type(torch.nn.functional.linear(tx, tw, tb).grad_fn).__name__
    assert F.linear(x, w).grad_fn.name() == type(torch.nn.functional.linear(tx, tw).grad_fn).__name__
    assert chainrule.autograd.gradcheck(F.linear, (x, w, b))
    assert chainrule.autograd.gradgradcheck(F.linear, (x, w, b))


@pytest.mark.parametrize("x_shape, w_shape, with_bias", [
    ((3,), (4, 3), True), ((3,), (4, 3), False), ((3,), (3,), False), ((3,), (3,), True),
    ((2, 3), (3,), False), ((5, 2, 3), (3,), False)])
def test_linear_with_vectors_matches_torch(x_shape, w_shape, with_bias):
    from torch_compare import compare_with_torch

    arrays = [_randn(*x_shape), _randn(*w_shape, seed=1)]
    if with_bias:
        arrays.append(_randn(*w_shape[:-1], seed=2))
    compare_with_torch(lambda lib, *t: lib.nn.functional.linear(*t), *arrays)


def test_linear_vector_weight_with_bias_on_a_matrix_fails_as_in_torch():
    with pytest.raises(RuntimeError, match="mat2 must be a matrix, got 1-D tensor"):
        F.linear(chainrule.ones(2, 3), chainrule.ones(3), chainrule.ones(()))


def test_linear_backward_skips_unneeded_grads():
    x = chainrule.randn(4, 5)
    layer = nn.Linear(5, 3)
    layer.weight.requires_grad_(False)
    layer(x).sum().backward()
    assert layer.weight.grad is None
    np.testing.assert_allclose(layer.bias.grad.numpy(), np.full(3, 4.0))


def test_linear_uses_a_weight_replaced_by_a_plain_tensor_and_no_bias():
    results = []
    for lib in (chainrule, torch):
        layer = lib.nn.Linear(3, 2)
        del layer.weight
        layer.weight = lib.ones(2, 3)
        layer.bias = None
        results.append(layer(lib.ones(1, 3)).numpy())
    np.testing.assert_array_equal(*results)


def test_linear_shape_and_dtype_errors():
    layer = nn.Linear(784, 128)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(64x100 and 784x128\)"):
        layer(chainrule.randn(64, 100))
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype, but got Double and Float"):
        layer(chainrule.randn(2, 784, dtype=chainrule.float64))
    with pytest.raises(RuntimeError, match="at least 1D"):
        F.linear(chainrule.tensor(1.0), layer.weight)


@pytest.mark.parametrize("name,args", [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.1}), ("elu", {"alpha": 1.5}),
    ("selu", {}), ("celu", {"alpha": 2.0}), ("gelu", {}), ("gelu", {"approximate": "tanh"}),
    ("silu", {}), ("mish", {}), ("softplus", {}), ("softplus", {"beta": 3.0, "threshold": 0.5}),
    ("softsign", {}), ("tanh", {}), ("sigmoid", {}), ("hardtanh", {"min_val": -0.3, "max_val": 0.7}),
    ("hardsigmoid", {}), ("hardswish", {}), ("logsigmoid", {}), ("tanhshrink", {}),
    ("softmax", {"dim": 1}), ("softmax", {"dim": 0}), ("log_softmax", {"dim": -1}),
    ("softmin", {"dim": 1}), ("glu", {"dim": 0}),
])
def test_functional_activation_matches_torch_with_gradgrad(name, args):
    data = _randn(4, 6) * 3
    x = chainrule.tensor(data, requires_grad=True)
    ref = torch.tensor(data, requires_grad=True)
    out = getattr(F, name)(x, **args)
    expected = getattr(torch.nn.functional, name)(ref, **args)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    smooth = name not in ("relu", "relu6", "leaky_relu", "hardtanh", "hardsigmoid", "hardswish")
    check = chainrule.autograd.gradgradcheck if smooth else chainrule.autograd.gradcheck
    assert check(lambda t: getattr(F, name)(t, **args), (x,))
    if expected.grad_fn is not None and name not in ("mish", "softsign", "logsigmoid", "tanhshrink",
                                                      "softmin", "glu", "hardsigmoid", "hardswish"):
        assert out.grad_fn.name() == type(expected.grad_fn).__name__


@pytest.mark.parametrize("name,args", [("relu", {}), ("leaky_relu", {}), ("elu", {}), ("hardtanh", {}),
                                       ("relu6", {}), ("silu", {}), ("selu", {})])
def test_inplace_activation_writes_input(name, args):
    data = _randn(3, 4)
    x = chainrule.tensor(data)
    result = getattr(F, name)(x, inplace=True, **args)
    assert result is x
    expected = getattr(torch.nn.functional, name)(torch.tensor(data), **args)
    np.testing.assert_allclose(x.numpy(), expected.numpy(), rtol=1e-12)
    # Through autograd: in place on a non-leaf keeps the gradient right.
    leaf = chainrule.tensor(data, requires_grad=True)
    ref = torch.tensor(data, requires_grad=True)
    getattr(F, name)(leaf * 1, inplace=True, **args).sum().backward()
    getattr(torch.nn.functional, name)(ref * 1, inplace=True, **args).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), ref.grad.numpy(), rtol=1e-12)


def test_softmax_is_stable_and_float32_stays_float32():
    x = chainrule.tensor([[1000.0, 0.0, -1000.0]])
    assert np.isfinite(F.log_softmax(x, dim=1).numpy()).all()
    np.testing.assert_allclose(F.softmax(x, dim=1).numpy(), [[1.0, 0.0, 0.0]])
    assert F.softmax(x, dim=1).dtype == chainrule.float32
    assert F.softmax(x, dim=1, dtype=chainrule.float64).dtype == chainrule.float64
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        F.softmax(x)
    np.testing.assert_allclose(F.softmax(chainrule.tensor(3.0), dim=0).numpy(), 1.0)


def test_activation_errors():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(chainrule.randn(2), approximate="fast")
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(chainrule.randn(3, 3))
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.softmax(chainrule.tensor([1, 2]), dim=0)


def test_dropout_statistics_mask_and_modes():
    x = chainrule.ones(200, 100, requires_grad=True)
    out = F.dropout(x, p=0.3, training=True)
    kept = out.detach().numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(out.detach().numpy()[kept], 1 / 0.7, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)
    assert F.dropout(x, 0.3, training=False) is x
    assert not F.dropout(chainrule.ones(10), p=1.0).numpy().any()
    layer = nn.Dropout(0.5)
    assert repr(layer) == repr(torch.nn.Dropout(0.5)) == "Dropout(p=0.5, inplace=False)"
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    y = chainrule.ones(4, 4)
    assert F.dropout(y, 0.5, inplace=True) is y


def test_one_hot_matches_torch():
    labels = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(chainrule.tensor(labels)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(labels)).numpy())
    assert F.one_hot(chainrule.tensor(labels), 6).shape == (2, 2, 6)
    assert F.one_hot(chainrule.tensor(labels)).dtype == chainrule.int64
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(chainrule.tensor(labels), 2)


PADS = [
    ("constant", (1, 2), (2, 3, 4)),
    ("constant", (1, 0, 2, 1), (2, 3, 4)),
    ("constant", (-1, 2), (2, 3, 4)),
    ("reflect", (2, 1), (2, 3, 4)),
    ("reflect", (1, 2, 2, 1), (1, 2, 3, 4)),
    ("replicate", (3, 1), (2, 3, 4)),
    ("replicate", (1, 2, 3, 0), (1, 2, 3, 4)),
    ("circular", (2, 1), (2, 3, 4)),
    ("circular", (1, 1, 2, 1), (1, 2, 3, 4)),
]


@pytest.mark.parametrize("mode,pad,shape", PADS)
def test_pad_matches_torch(mode, pad, shape):
    data = _randn(*shape)
    x = chainrule.tensor(data, requires_grad=True)
    ref = torch.tensor(data, requires_grad=True)
    kwargs = {"value": 1.5} if mode == "constant" else {}
    out = F.pad(x, pad, mode=mode, **kwargs)
    expected = torch.nn.functional.pad(ref, pad, mode=mode, **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy())
    upstream = _randn(*expected.shape, seed=3)
    out.backward(chainrule.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy(), rtol=1e-12)
    assert chainrule.autograd.gradgradcheck(lambda t: F.pad(t, pad, mode=mode), (x,))


def test_pad_errors():
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(chainrule.ones(2, 2), (1,))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(chainrule.ones(1, 2, 3), (3, 3), mode="reflect")


WRONG_INPUTS = {
    "Linear": (lambda nn: nn.Linear(5, 3), [(4, 6)]),
    "Sequential": (lambda nn: nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(3, 2)), [(2, 5)]),
    "Bilinear": (lambda nn: nn.Bilinear(5, 4, 2), [(3, 5), (3, 5)]),
    "BatchNorm1d": (lambda nn: nn.BatchNorm1d(5), [(4, 6)]),
    "BatchNorm1d_no_stats": (lambda nn: nn.BatchNorm1d(5, track_running_stats=False), [(4, 6)]),
    "LayerNorm": (lambda nn: nn.LayerNorm((2, 5)), [(4, 3, 5)]),
    "Unflatten": (lambda nn: nn.Unflatten(1, (2, 2)), [(3, 5)]),
    "Conv2d": (lambda nn: nn.Conv2d(3, 4, 3), [(1, 2, 5, 5)]),
}


@pytest.mark.parametrize("name", sorted(WRONG_INPUTS))
def test_wrong_input_shape_names_expected_and_received_shapes(name):
    build, shapes = WRONG_INPUTS[name]
    with pytest.raises(RuntimeError) as theirs:
        build(torch.nn)(*(torch.zeros(s) for s in shapes))
    with pytest.raises(RuntimeError) as ours:
        build(chainrule.nn)(*(chainrule.zeros(s) for s in shapes))
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("shape", [(12, 64), (0,), (5,)])
def test_embedding_gradient_sums_repeated_rows_as_torch(shape):
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((65, 8))
    ids = rng.integers(0, 40, shape)  # repeats, and rows 40..64 never used
    upstream = rng.standard_normal(shape + (8,))
    ours = chainrule.tensor(weight, requires_grad=True)
    theirs = torch.tensor(weight, requires_grad=True)
    F.embedding(chainrule.tensor(ids), ours).backward(chainrule.tensor(upstream))
    torch.nn.functional.embedding(torch.tensor(ids), theirs).backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_float32_without_compiled_kernels_matches_torch(approximate):
    from chainrule.backends import native

    data = (np.random.default_rng(4).standard_normal((64, 100)) * 4).astype(np.float32)
    data[0, :3] = [0.0, 12.0, -12.0]
    saved, native.enabled = native.enabled, False
    try:
        x = chainrule.tensor(data, requires_grad=True)
        out = F.gelu(x, approximate=approximate)
        out.sum().backward()
    finally:
        native.enabled = saved
    ref = torch.tensor(data, requires_grad=True)
    expected = torch.nn.functional.gelu(ref, approximate=approximate)
    expected.sum().backward()
    assert out.dtype == chainrule.float32 and x.grad.dtype == chainrule.float32
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy(), rtol=2e-6, atol=2e-6)
