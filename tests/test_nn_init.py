"""``nn.init`` against PyTorch: gains and fans exactly, random fills by their bounds and statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule
from chainrule import nn

torch = pytest.importorskip("torch")
from tests.torch_compare import raises_like_torch  # noqa: E402


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
    ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None),
])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        nn.init.calculate_gain("foo")
    with pytest.raises(ValueError, match="not a valid number"):
        nn.init.calculate_gain("leaky_relu", "x")


@pytest.mark.parametrize("shape", [(3, 5), (4, 3, 2), (8, 4, 3, 3), (2, 3, 1, 2, 2)])
def test_fan_in_and_fan_out_match_torch(shape):
    ours = nn.init._calculate_fan_in_and_fan_out(chainrule.empty(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fan_needs_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(chainrule.empty(3))


SHAPE = (256, 300)


def _fan_in_bound(gain):
    return gain * math.sqrt(3.0 / SHAPE[1])


@pytest.mark.parametrize("dtype", [chainrule.float32, chainrule.float64])
@pytest.mark.parametrize("fill,bound", [
    (lambda t: nn.init.uniform_(t, -0.3, 0.7), (-0.3, 0.7)),
    (lambda t: nn.init.xavier_uniform_(t, gain=2.0), (-2.0 * math.sqrt(6 / sum(SHAPE)),) * 2),
    (lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)), (-_fan_in_bound(math.sqrt(2 / 6)),) * 2),
    (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu", mode="fan_out"),
     (-math.sqrt(2.0) * math.sqrt(3.0 / SHAPE[0]),) * 2),
    (lambda t: nn.init.trunc_normal_(t, mean=0.5, std=2.0, a=-1.0, b=1.0), (-1.0, 1.0)),
])
def test_uniform_like_fills_stay_in_bounds_and_cover_them(fill, bound, dtype):
    low, high = bound if bound[0] != bound[1] else (bound[0], -bound[0])
    t = chainrule.empty(*SHAPE, dtype=dtype, requires_grad=True)
    assert fill(t) is t
    values = t.detach().numpy()
    assert t.dtype == dtype and t.requires_grad and t.grad_fn is None
    assert values.min() >= low and values.max() <= high
    span = high - low
    assert values.min() < low + 0.01 * span and values.max() > high - 0.01 * span


@pytest.mark.parametrize("fill,torch_fill", [
    (lambda t: nn.init.normal_(t, 1.0, 0.5), lambda t: torch.nn.init.normal_(t, 1.0, 0.5)),
    (lambda t: nn.init.xavier_normal_(t, gain=3.0), lambda t: torch.nn.init.xavier_normal_(t, gain=3.0)),
    (lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"),
     lambda t: torch.nn.init.kaiming_normal_(t, nonlinearity="relu")),
    (lambda t: nn.init.kaiming_normal_(t, a=0.1, mode="fan_out"),
     lambda t: torch.nn.init.kaiming_normal_(t, a=0.1, mode="fan_out")),
    (lambda t: nn.init.kaiming_uniform_(t), lambda t: torch.nn.init.kaiming_uniform_(t)),
    (lambda t: nn.init.trunc_normal_(t, std=0.02), lambda t: torch.nn.init.trunc_normal_(t, std=0.02)),
    (lambda t: nn.init.trunc_normal_(t, mean=1.0, a=0.0, b=3.0),
     lambda t: torch.nn.init.trunc_normal_(t, mean=1.0, a=0.0, b=3.0)),
])
def test_random_fills_have_torchs_mean_and_std(fill, torch_fill):
    ours = fill(chainrule.empty(*SHAPE)).numpy()
    theirs = torch_fill(torch.empty(*SHAPE)).numpy()
    scale = theirs.std()
    assert abs(ours.mean() - theirs.mean()) < 0.03 * scale + 1e-6
    assert abs(ours.std() - scale) < 0.03 * scale


@pytest.mark.parametrize("fill,torch_fill", [
    (lambda t: nn.init.constant_(t, 0.25), lambda t: torch.nn.init.constant_(t, 0.25)),
    (nn.init.ones_, torch.nn.init.ones_),
    (nn.init.zeros_, torch.nn.init.zeros_),
    (nn.init.eye_, torch.nn.init.eye_),
])
def test_deterministic_fills_match_torch(fill, torch_fill):
    for shape in ((3, 5), (4, 2)):
        np.testing.assert_array_equal(fill(chainrule.empty(*shape)).numpy(), torch_fill(torch.empty(*shape)).numpy())


@pytest.mark.parametrize("shape", [(3, 4, 3), (4, 2, 3, 3), (2, 2, 1, 3, 3)])
def test_dirac_matches_torch(shape):
    np.testing.assert_array_equal(nn.init.dirac_(chainrule.empty(*shape)).numpy(),
                                  torch.nn.init.dirac_(torch.empty(*shape)).numpy())


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    flat = nn.init.orthogonal_(chainrule.empty(*shape, dtype=chainrule.float64), gain=2.0).numpy().reshape(shape[0], -1)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-10)


def test_init_does_not_record_and_bumps_version():
    param = nn.Parameter(chainrule.empty(3, 4))
    before = param._version
    nn.init.normal_(param)
    assert param.grad_fn is None and param._version > before


def test_linear_default_init_matches_torchs_bounds():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for tensor in (layer.weight, layer.bias):
        values = tensor.detach().numpy()
        assert values.min() >= -bound and values.max() <= bound
        assert values.max() > 0.95 * bound
    std = layer.weight.detach().numpy().std()
    assert abs(std - torch.nn.Linear(400, 300).weight.detach().numpy().std()) < 0.02 * std
    assert layer.weight.dtype == chainrule.float32


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.init.kaiming_uniform_(lib.empty(3, 3), mode="bad"),
    lambda lib: lib.nn.init.calculate_gain("foo"),
    lambda lib: lib.nn.init.eye_(lib.empty(3, 4, 2)),
    lambda lib: lib.nn.init.xavier_uniform_(lib.empty(3)),
])
def test_init_errors_match_torch(call):
    raises_like_torch(lambda: call(chainrule), lambda: call(torch), ValueError)
