"""Arithmetic operators and their function/method forms against torch: values, dtypes,
grad_fn names and gradients, across broadcasting, 0-d and empty tensors, float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]
# (left shape, right shape): equal, broadcast either way, 0-d, and empty operands.
SHAPE_PAIRS = [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)), ((2, 3), ()),
               ((), ()), ((4, 1, 3), (2, 1)), ((0, 3), (1, 3)), ((0,), (0,))]

BINARY = {
    "add": lambda lib, a, b: a + b,
    "add_fn_alpha": lambda lib, a, b: lib.add(a, b, alpha=2),
    "sub": lambda lib, a, b: a - b,
    "sub_method_alpha": lambda lib, a, b: a.sub(b, alpha=0.5),
    "mul": lambda lib, a, b: a * b,
    "mul_fn": lambda lib, a, b: lib.mul(a, b),
    "div": lambda lib, a, b: a / b,
    "div_method": lambda lib, a, b: a.div(b),
    "true_divide": lambda lib, a, b: lib.true_divide(a, b),
    "div_floor": lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda lib, a, b: a.div(b, rounding_mode="trunc"),
    "remainder": lambda lib, a, b: a % b,
    "remainder_fn": lambda lib, a, b: lib.remainder(a, b),
    "fmod": lambda lib, a, b: lib.fmod(a, b),
    "pow": lambda lib, a, b: a.abs() ** b,
    "pow_fn": lambda lib, a, b: lib.pow(a.abs(), b),
}
# Divisors stay away from zero, so quotients (and their rounding) are well conditioned.
DIVIDING = {"div", "div_method", "true_divide", "div_floor", "div_trunc", "remainder",
            "remainder_fn", "fmod"}


def sample(shape, dtype, low=-3.0, high=3.0, seed=0):
    return np.asarray(np.random.default_rng(seed).uniform(low, high, shape)).astype(dtype)


def right_operand(name, shape, dtype):
    if name in DIVIDING:
        sign = np.where(sample(shape, dtype, seed=2) > 0, 1, -1).astype(dtype)
        return sample(shape, dtype, 0.5, 3.0, seed=1) * sign
    return sample(shape, dtype, seed=1)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_op_matches_torch(name, shapes, dtype):
    left, right = shapes
    compare_with_torch(BINARY[name], sample(left, dtype), right_operand(name, right, dtype))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_gradcheck(name):
    if name in ("div_floor", "div_trunc"):
        pytest.skip("piecewise constant: finite differences jump at the steps")
    a = chainrule.tensor(sample((2, 3), np.float64, 0.5, 2.5), requires_grad=True)
    b = chainrule.tensor(right_operand(name, (3,), np.float64), requires_grad=True)
    assert chainrule.autograd.gradcheck(lambda x, y: BINARY[name](chainrule, x, y), (a, b))


REFLECTED = {
    "radd": lambda lib, a: 2 + a, "rsub": lambda lib, a: 2 - a, "rmul": lambda lib, a: 2 * a,
    "rdiv": lambda lib, a: 2 / a, "rpow": lambda lib, a: 2 ** a, "pow_int": lambda lib, a: a ** 2,
    "pow_half": lambda lib, a: a.abs() ** 0.5, "pow_zero": lambda lib, a: a ** 0,
    "pow_negative": lambda lib, a: a ** -1, "neg": lambda lib, a: -a,
    "scalar_div": lambda lib, a: a / 4, "scalar_remainder": lambda lib, a: a % 1.5,
    "scalar_fmod": lambda lib, a: lib.fmod(a, 1.5),
}


@pytest.mark.parametrize("name", sorted(REFLECTED))
@pytest.mark.parametrize("shape", [(), (2, 3), (0,)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scalar_and_reflected_operators_match_torch(name, shape, dtype):
    compare_with_torch(REFLECTED[name], sample(shape, dtype, 0.5, 3.0))


@pytest.mark.parametrize("name", ["radd", "rsub", "rmul", "rdiv", "pow_int", "neg", "scalar_div"])
def test_scalar_operators_on_integers_match_torch(name):
    compare_with_torch(REFLECTED[name], np.arange(1, 7).reshape(2, 3), rtol=1e-6, atol=1e-6)


@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=3),
       st.sampled_from(["add", "sub", "mul", "div", "pow"]))
def test_broadcasting_hypothesis(shapes, name):
    left, right = shapes.input_shapes
    compare_with_torch(BINARY[name], sample(left, np.float64), right_operand(name, right, np.float64))


MISMATCHED = [((2, 3), (2,)), ((3, 1, 2), (4, 3)), ((2, 1), (3, 4))]


@pytest.mark.parametrize("shapes", MISMATCHED, ids=str)
@pytest.mark.parametrize("op", [lambda lib, a, b: a + b, lambda lib, a, b: a * b,
                                lambda lib, a, b: lib.sub(a, b, alpha=2), lambda lib, a, b: a / b,
                                lambda lib, a, b: a ** b, lambda lib, a, b: a % b,
                                lambda lib, a, b: lib.maximum(a, b), lambda lib, a, b: a < b,
                                lambda lib, a, b: lib.where(a > 0, a, b),
                                lambda lib, a, b: lib.logical_and(a, b),
                                lambda lib, a, b: a.div(b, rounding_mode="trunc"),
                                lambda lib, a, b: lib.clamp(a, min=b)])
def test_shape_mismatch_is_a_runtime_error_naming_the_sizes(shapes, op):
    left, right = (np.ones(s) for s in shapes)
    with pytest.raises(RuntimeError) as theirs:
        op(torch, torch.tensor(left), torch.tensor(right))
    with pytest.raises(RuntimeError) as ours:
        op(chainrule, chainrule.tensor(left), chainrule.tensor(right))
    assert str(ours.value) == str(theirs.value)


def test_inplace_shape_mismatch_matches_torch():
    for target, other in [((2,), (2, 3)), ((3,), (2, 3))]:
        with pytest.raises(RuntimeError) as theirs:
            torch.zeros(target).add_(torch.zeros(other))
        with pytest.raises(RuntimeError) as ours:
            chainrule.zeros(target).add_(chainrule.zeros(other))
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [1, -0.005, 3])
def test_untracked_add_inplace_writes_in_place_like_torch(dtype, alpha):
    """The optimizer-style ``p.data.add_(g, alpha=...)`` path: exact values, the same memory
    (views see it), one version bump; the parameter's own counter is untouched, as in torch."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((3, 4)).astype(dtype) for _ in range(2))
    param = chainrule.nn.Parameter(chainrule.tensor(a))
    expected = (chainrule.tensor(a) + alpha * chainrule.tensor(b)).numpy()
    data, view = param.data, param[1]
    before, param_version = data._version, param._version
    assert data.add_(chainrule.tensor(b), alpha=alpha) is data
    ref = torch.tensor(a).add_(torch.tensor(b), alpha=alpha)
    np.testing.assert_array_equal(param.detach().numpy(), expected)
    np.testing.assert_allclose(param.detach().numpy(), ref.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(view.detach().numpy(), expected[1])
    assert (data._version, param._version) == (before + 1, param_version)
    with chainrule.no_grad():
        param.add_(chainrule.tensor(b), alpha=alpha)
    assert param._version == param_version + 1
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        param.add_(chainrule.tensor(b), alpha=alpha)


def test_rounded_division_has_zero_gradients():
    ours = compare_with_torch(lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
                              sample((4,), np.float64), sample((4,), np.float64, 1, 2))
    assert ours.grad_fn.name() == "DivBackward2"
