"""Elementwise ops (unary functions, where/maximum/minimum/clamp, lerp) against torch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

SHAPES = [(), (0,), (5,), (2, 3, 4)]
DTYPES = [np.float32, np.float64]


def sample(shape, dtype, low=-3.0, high=3.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


# name -> (low, high) of the inputs drawn: inside each function's smooth domain.
UNARY = {
    "exp": (-3, 3), "log": (0.1, 5), "log1p": (-0.9, 5), "expm1": (-3, 3), "log2": (0.1, 5),
    "log10": (0.1, 5), "sqrt": (0.1, 5), "rsqrt": (0.1, 5), "sin": (-4, 4), "cos": (-4, 4),
    "tan": (-1.2, 1.2), "tanh": (-4, 4), "sigmoid": (-8, 8), "relu": (-3, 3), "abs": (-3, 3),
    "sign": (-3, 3), "floor": (-3, 3), "ceil": (-3, 3), "round": (-3, 3), "trunc": (-3, 3),
    "frac": (-3, 3), "reciprocal": (0.2, 4), "erf": (-4, 4),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_function_matches_torch(name, shape, dtype):
    x = sample(shape, dtype, *UNARY[name])
    compare_with_torch(lambda lib, t: getattr(lib, name)(t), x)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_method_matches_torch(name):
    x = sample((3, 4), np.float64, *UNARY[name])
    compare_with_torch(lambda lib, t: getattr(t, name)(), x)


@pytest.mark.parametrize("name", ["abs", "sign", "floor", "ceil", "round", "trunc", "relu", "exp",
                                  "log", "sqrt", "sin", "sigmoid", "reciprocal", "erf", "tanh"])
def test_unary_integer_input_dtype(name):
    x = np.array([1, 2, 7, 3], dtype=np.int64)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t), x, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf",
                                  "abs", "floor", "round", "reciprocal", "rsqrt", "frac", "sign"])
def test_unary_inplace_matches_torch(name):
    x = sample((2, 3), np.float64, *UNARY[name])
    compare_with_torch(lambda lib, t: getattr(t * 1, name + "_")(), x)


def test_inplace_writes_into_the_tensor():
    data = sample((4,), np.float32, 0.1, 3)
    x = chainrule.tensor(data)
    assert x.sqrt_() is x
    np.testing.assert_allclose(x.numpy(), np.sqrt(data), rtol=1e-6)
    assert x.dtype == chainrule.float32


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh",
                                  "sigmoid", "erf", "log1p", "expm1", "log2", "log10", "reciprocal",
                                  "abs", "frac"])
def test_unary_gradcheck(name):
    x = chainrule.tensor(sample((3,), np.float64, *UNARY[name], seed=3), requires_grad=True)
    assert chainrule.autograd.gradcheck(getattr(chainrule, name), (x,))


def second_derivative(lib, op, data):
    """d/dx of sum(w2 * d/dx sum(w1 * op(x))): checks that each backward is differentiable."""
    x = lib.tensor(data, requires_grad=True)
    w1 = lib.tensor(np.linspace(-1, 1, data.size).reshape(data.shape))
    (first,) = lib.autograd.grad((op(x) * w1).sum(), x, create_graph=True)
    (second,) = lib.autograd.grad((first * (w1 + 2)).sum(), x)
    return second.numpy()


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh",
                                  "sigmoid", "erf", "log1p", "expm1", "log2", "log10", "reciprocal"])
def test_unary_second_derivative_matches_torch(name):
    data = sample((4,), np.float64, *UNARY[name], seed=3)
    ours = second_derivative(chainrule, getattr(chainrule, name), data)
    theirs = second_derivative(torch, getattr(torch, name), data)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_relu_backward_is_differentiable_in_the_gradient():
    data = sample((3, 4), np.float64, -3, 3, seed=3)
    results = []
    for lib in (chainrule, torch):
        x = lib.tensor(data, requires_grad=True)
        w = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        (g,) = lib.autograd.grad(lib.relu(x), x, w, create_graph=True)
        assert type(g.grad_fn).__name__ == "ThresholdBackwardBackward0"
        (g * w).sum().backward()
        results.append((g.detach().numpy(), w.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_round_decimals_and_half_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, 1.25, 3.14159], dtype=np.float64)
    compare_with_torch(lambda lib, t: lib.round(t), x)
    compare_with_torch(lambda lib, t: lib.round(t, decimals=2), x)
    compare_with_torch(lambda lib, t: t.round(decimals=1), x)


def test_erf_extremes():
    x = np.array([-np.inf, -30, -6, -1.0, -1e-8, 0, 0.5, 1, 1.5, 2.7, 5.5, 9, np.inf])
    compare_with_torch(lambda lib, t: lib.erf(t), x, grad=False, rtol=1e-14, atol=1e-15)


@settings(deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=1, max_size=20))
def test_erf_accuracy_hypothesis(values):
    x = np.array(values, dtype=np.float64)
    compare_with_torch(lambda lib, t: lib.erf(t), x, grad=False, rtol=1e-14, atol=1e-15)


def test_special_values_follow_torch():
    x = np.array([0.0, -1.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    for name in ["log", "sqrt", "rsqrt", "reciprocal", "exp", "sigmoid", "tanh", "sign", "abs"]:
        ours = getattr(chainrule, name)(chainrule.tensor(x)).numpy()
        theirs = getattr(torch, name)(torch.tensor(x)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)


def test_gradient_at_kinks_matches_torch():
    x = np.array([-1.0, 0.0, 1.0])
    for name in ["abs", "relu", "sign", "floor", "frac"]:
        compare_with_torch(lambda lib, t, n=name: getattr(lib, n)(t), x)


def test_unary_errors():
    with pytest.raises(NotImplementedError, match="frac_cpu.*Long"):
        chainrule.frac(chainrule.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="abs_cpu.*Bool"):
        chainrule.abs(chainrule.tensor([True]))
    x = chainrule.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable.*in-place"):
        x.exp_()


# ------------------------------------------------------------- where / max / clamp
BROADCAST_PAIRS = [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (4,)), ((0, 3), (3,))]


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_where_matches_torch(shapes, dtype):
    a, b = sample(shapes[0], dtype, seed=1), sample(shapes[1], dtype, seed=2)
    condition = np.broadcast_to(sample(shapes[1], np.float64, seed=3), np.broadcast_shapes(*shapes)) > 0
    compare_with_torch(lambda lib, c, x, y: lib.where(c, x, y), np.ascontiguousarray(condition), a, b)
    compare_with_torch(lambda lib, c, x, y: x.where(c, y), np.ascontiguousarray(condition), a, b)


@pytest.mark.parametrize("a, b", [(np.array([1.5, 2.0], np.float32), 0.0), (0, np.array([1, 2])),
                                  (1.0, 0.0), (1, 0), (np.array([1, 2]), 0.5),
                                  (np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0]))])
def test_where_number_operands_and_promotion(a, b):
    condition = np.array([True, False])
    compare_with_torch(lambda lib, c, x, y: lib.where(c, x, y), condition, a, b)


def test_where_condition_only_and_errors():
    mask = np.array([[True, False], [False, True]])
    ours = chainrule.where(chainrule.tensor(mask))
    theirs = torch.where(torch.tensor(mask))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
        assert str(o.dtype) == str(t.dtype)
    with pytest.raises(RuntimeError, match="boolean tensor.*Float"):
        chainrule.where(chainrule.ones(2), chainrule.ones(2), chainrule.ones(2))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_maximum_minimum_match_torch(name, shapes, dtype):
    a = np.round(sample(shapes[0], dtype, seed=1))
    b = np.round(sample(shapes[1], dtype, seed=2))  # rounding makes ties, which split the gradient
    compare_with_torch(lambda lib, x, y: getattr(lib, name)(x, y), a, b)
    compare_with_torch(lambda lib, x, y: getattr(x, name)(y), a, b)


def test_maximum_propagates_nan_and_rejects_numbers():
    a = np.array([np.nan, 1.0]), np.array([0.0, np.nan])
    compare_with_torch(lambda lib, x, y: lib.maximum(x, y), *a, grad=False)
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        chainrule.maximum(chainrule.ones(2), 1.0)


CLAMP_BOUNDS = [(-1.0, 1.0), (None, 0.5), (-0.5, None), (1.0, -1.0), (0, 2)]


@pytest.mark.parametrize("bounds", CLAMP_BOUNDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_number_bounds_match_torch(bounds, shape, dtype):
    x = np.round(sample(shape, dtype), 1)  # includes values exactly on the bounds
    low, high = bounds
    compare_with_torch(lambda lib, t: lib.clamp(t, low, high), x)
    compare_with_torch(lambda lib, t: t.clip(min=low, max=high), x)


@pytest.mark.parametrize("name, bound", [("clamp_min", 0.0), ("clamp_max", 0.3)])
def test_clamp_min_max_match_torch(name, bound):
    x = np.round(sample((3, 4), np.float64), 1)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t, bound), x)
    compare_with_torch(lambda lib, t, b: getattr(t, name)(b), x, np.round(sample((4,), np.float64, seed=5), 1))


@pytest.mark.parametrize("shapes", [((3, 4), (4,), (3, 1)), ((5,), (5,), (5,)), ((2, 3), (), ())])
def test_clamp_tensor_bounds_match_torch(shapes):
    x = np.round(sample(shapes[0], np.float64, seed=1), 1)
    low = np.round(sample(shapes[1], np.float64, -2, 1, seed=2), 1)
    high = np.round(sample(shapes[2], np.float64, -1, 2, seed=3), 1)  # some low > high
    compare_with_torch(lambda lib, t, lo, hi: lib.clamp(t, lo, hi), x, low, high)
    compare_with_torch(lambda lib, t, lo: lib.clamp(t, min=lo), x, low)
    compare_with_torch(lambda lib, t, hi: lib.clamp(t, max=hi), x, high)


@pytest.mark.parametrize("x, low", [(np.array([1, 5, -3]), 0), (np.array([1, 5, -3]), 0.5),
                                    (np.array([1.0, 5.0], np.float32), 2)])
def test_clamp_dtype_promotion(x, low):
    compare_with_torch(lambda lib, t: lib.clamp(t, low), x)


def test_clamp_inplace_and_errors():
    x = np.array([-2.0, 0.0, 3.0])
    compare_with_torch(lambda lib, t: (t * 1).clamp_(-1, 1), x)
    compare_with_torch(lambda lib, t: (t * 1).clamp_min_(0.5), x)
    compare_with_torch(lambda lib, t: (t * 1).clamp_max_(0.5), x)
    plain = chainrule.tensor(x)
    assert plain.clamp_(max=1.0) is plain
    assert plain.tolist() == [-2.0, 0.0, 1.0]
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        chainrule.clamp(plain)
    with pytest.raises(TypeError, match="invalid combination of arguments"):
        chainrule.clamp(plain, plain, 1.0)


def test_clamp_gradcheck():
    x = chainrule.tensor(sample((4,), np.float64, seed=7), requires_grad=True)
    low = chainrule.tensor(sample((4,), np.float64, -2, 0, seed=8), requires_grad=True)
    high = chainrule.tensor(sample((4,), np.float64, 0, 2, seed=9), requires_grad=True)
    assert chainrule.autograd.gradcheck(chainrule.clamp, (x, low, high))
    assert chainrule.autograd.gradcheck(lambda t: chainrule.clamp(t, -0.5, 0.5), (x,))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight", [0.3, "tensor"])
def test_lerp_matches_torch(dtype, weight):
    a, b = sample((2, 3), dtype, seed=1), sample((3,), dtype, seed=2)
    if weight == "tensor":
        w = sample((2, 1), dtype, 0, 1, seed=3)
        compare_with_torch(lambda lib, x, y, t: lib.lerp(x, y, t), a, b, w)
    else:
        compare_with_torch(lambda lib, x, y: x.lerp(y, weight), a, b)
    compare_with_torch(lambda lib, x, y: (x * 1).lerp_(y, 0.25), a, b)


def test_lerp_dtype_error():
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype double"):
        chainrule.ones(2).lerp(chainrule.ones(2, dtype=chainrule.float64), 0.5)


# ------------------------------------- inverse trig, hyperbolic, exp2, angles, signs
# name -> (low, high) of the inputs drawn: inside each function's smooth domain.
MORE_UNARY = {
    "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atan": (-4, 4), "sinh": (-3, 3), "cosh": (-3, 3),
    "asinh": (-4, 4), "acosh": (1.1, 5), "atanh": (-0.9, 0.9), "exp2": (-3, 3), "deg2rad": (-360, 360),
    "rad2deg": (-4, 4), "sgn": (-3, 3), "nan_to_num": (-3, 3),
}
ALIASES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
           "arccosh": "acosh", "arctanh": "atanh"}


@pytest.mark.parametrize("name", sorted(MORE_UNARY) + sorted(ALIASES))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_more_unary_functions_match_torch(name, shape, dtype):
    x = sample(shape, dtype, *MORE_UNARY[ALIASES.get(name, name)])
    if name == "sgn":  # torch's gradient is a ZeroTensor, which has no .numpy(): see below
        compare_with_torch(lambda lib, t: getattr(lib, name)(t), x, grad=False)
        return
    compare_with_torch(lambda lib, t: getattr(lib, name)(t), x)
    compare_with_torch(lambda lib, t: getattr(t, name)(), x)
    underived = ALIASES.get(name, name) in ("asinh", "acosh", "atanh")
    compare_with_torch(lambda lib, t: getattr(t * 1, name + "_")(), x, grad=not underived)
    if hasattr(torch, name + "_"):
        compare_with_torch(lambda lib, t: getattr(lib, name + "_")(t * 1), x, grad=not underived)


@pytest.mark.parametrize("name", ["asinh", "acosh", "atanh", "arccosh"])
def test_inplace_inverse_hyperbolic_has_no_derivative_as_in_torch(name):
    base = ALIASES.get(name, name)
    for lib in (chainrule, torch):
        y = lib.tensor([1.5, 2.5] if base == "acosh" else [0.5, -0.2], requires_grad=True) * 1
        getattr(y, name + "_")()
        assert y.grad_fn.name() == base.capitalize() + "Backward1"
        with pytest.raises(NotImplementedError,
                           match=f"the derivative for 'inplace version of {base}' is not implemented."):
            y.sum().backward()


@pytest.mark.parametrize("name", sorted(MORE_UNARY) + ["signbit"])
@pytest.mark.parametrize("data", [np.array([1, 2, 0, -3]), np.array([True, False])])
def test_more_unary_integer_and_bool_inputs(name, data):
    compare_with_torch(lambda lib, t: getattr(lib, name)(t), data, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
                                  "exp2", "deg2rad", "rad2deg", "nan_to_num"])
def test_more_unary_gradcheck_and_second_derivative(name):
    data = sample((4,), np.float64, *MORE_UNARY[name], seed=3)
    x = chainrule.tensor(data, requires_grad=True)
    assert chainrule.autograd.gradcheck(getattr(chainrule, name), (x,))
    if name in ("deg2rad", "rad2deg", "nan_to_num"):
        return  # linear: the first derivative no longer depends on x
    ours = second_derivative(chainrule, getattr(chainrule, name), data)
    theirs = second_derivative(torch, getattr(torch, name), data)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_sgn_node_and_zero_gradient_match_torch():
    data = sample((2, 3), np.float64)
    grads = []
    for lib in (chainrule, torch):
        x = lib.tensor(data, requires_grad=True)
        y = (x * 1).sgn_() if lib is chainrule else (x * 1).sgn_()
        assert y.grad_fn.name() == lib.sgn(x).grad_fn.name() == "SgnBackward0"
        (lib.sgn(x) * 3).sum().backward()
        grads.append(x.grad.numpy(force=True) if lib is torch else x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    np.testing.assert_array_equal(grads[0], np.zeros((2, 3)))


def test_signs_and_special_values_match_torch():
    x = np.array([-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, -2.0, 3.0])
    for name in ["sgn", "signbit", "asin", "atanh", "cosh", "exp2"]:
        compare_with_torch(lambda lib, t, n=name: getattr(lib, n)(t), x, grad=False)


@pytest.mark.parametrize("nan, posinf, neginf", [(0.0, None, None), (2.0, 3.0, -4.0), (-1.0, None, 7.0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_to_num_matches_torch(nan, posinf, neginf, dtype):
    x = np.array([np.nan, np.inf, -np.inf, 1.5, -2.0], dtype=dtype)
    compare_with_torch(lambda lib, t: lib.nan_to_num(t, nan, posinf, neginf), x)
    compare_with_torch(lambda lib, t: t.nan_to_num(nan=nan, posinf=posinf, neginf=neginf), x)
    compare_with_torch(lambda lib, t: (t * 1).nan_to_num_(nan, posinf=posinf), x)


# ------------------------------------------------------------- binary elementwise
# name -> (low, high) for both operands.
BINARY = {"atan2": (-3, 3), "arctan2": (-3, 3), "hypot": (-3, 3), "logaddexp": (-5, 5),
          "logaddexp2": (-5, 5), "copysign": (-3, 3), "float_power": (0.2, 3), "fmax": (-3, 3),
          "fmin": (-3, 3)}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_elementwise_matches_torch(name, shapes, dtype):
    a = sample(shapes[0], dtype, *BINARY[name], seed=1)
    b = sample(shapes[1], dtype, *BINARY[name], seed=2)
    compare_with_torch(lambda lib, x, y: getattr(lib, name)(x, y), a, b)
    compare_with_torch(lambda lib, x, y: getattr(x, name)(y), a, b)


@pytest.mark.parametrize("name", ["atan2", "arctan2", "hypot", "copysign"])
def test_binary_elementwise_inplace_matches_torch(name):
    a, b = sample((2, 3), np.float64, seed=1), sample((3,), np.float64, seed=2)
    compare_with_torch(lambda lib, x, y: getattr(x * 1, name + "_")(y), a, b)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("a, b", [(np.array([1, 2, 3]), np.array([2, 1, 3])),
                                  (np.array([1, 2, 3]), np.array([0.5, -2.0, 1.0], np.float32)),
                                  (np.array([0.5, 2.0], np.float32), np.array([1.5, 0.25])),
                                  (np.array([True, False]), np.array([2, 1], np.int32))])
def test_binary_elementwise_dtypes_match_torch(name, a, b):
    try:
        torch_result = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    except NotImplementedError as error:
        with pytest.raises(NotImplementedError, match=str(error).replace('"', '.')):
            getattr(chainrule, name)(chainrule.tensor(a), chainrule.tensor(b))
        return
    ours = getattr(chainrule, name)(chainrule.tensor(a), chainrule.tensor(b))
    assert str(ours.dtype) == str(torch_result.dtype)
    np.testing.assert_allclose(ours.numpy(), torch_result.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp", "logaddexp2", "copysign", "fmax",
                                  "fmin", "float_power"])
def test_binary_elementwise_gradcheck(name):
    x = chainrule.tensor(sample((2, 3), np.float64, 0.3, 2, seed=4), requires_grad=True)
    y = chainrule.tensor(sample((3,), np.float64, 0.3, 2, seed=5) * [1, -1, 1], requires_grad=True)
    if name == "float_power":
        y = chainrule.tensor(sample((3,), np.float64, 0.3, 2, seed=5), requires_grad=True)
    assert chainrule.autograd.gradcheck(getattr(chainrule, name), (x, y))
    if name not in ("fmax", "fmin", "copysign"):
        assert chainrule.autograd.gradgradcheck(getattr(chainrule, name), (x, y))


def test_fmax_fmin_ignore_nan_and_send_ties_to_input():
    a = np.array([1.0, 2.0, np.nan, 3.0, np.nan, 2.0])
    b = np.array([1.0, np.nan, 1.0, 4.0, np.nan, 5.0])
    for name in ("fmax", "fmin"):
        compare_with_torch(lambda lib, x, y, n=name: getattr(lib, n)(x, y), a, b)
    compare_with_torch(lambda lib, x, y: lib.fmax(x, y), np.array([3, 1]), np.array([2, 5]))


def test_copysign_with_numbers_and_zeros():
    x = np.array([0.0, -0.0, 2.0, -3.0, 1.5])
    compare_with_torch(lambda lib, t: lib.copysign(t, -1.0), x)
    compare_with_torch(lambda lib, t: t.copysign(2), x)
    compare_with_torch(lambda lib, t, s: lib.copysign(t, s), x, np.array([-1.0, 1.0, -0.0, 1.0, -2.0]))


@pytest.mark.parametrize("base, exponent", [(np.array([1.5, 2.0], np.float32), 2),
                                            (np.array([1.5, 2.0], np.float32), 0.5),
                                            (2, np.array([0.5, 3.0], np.float32)),
                                            (np.array([1, 2, 3]), np.array([2, 3, 1])),
                                            (np.array([1.5, 2.0]), np.array([2, 1]))])
def test_float_power_matches_torch(base, exponent):
    compare_with_torch(lambda lib, x, y: lib.float_power(x, y), base, exponent)
    if isinstance(base, np.ndarray):
        compare_with_torch(lambda lib, x, y: x.float_power(y), base, exponent)


def test_float_power_inplace_needs_double():
    compare_with_torch(lambda lib, t: (t * 1).float_power_(2), np.array([1.5, -2.0]))
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="the base given to float_power_ has dtype Float but "
                                               "the operation's result requires dtype Double"):
            lib.ones(2).float_power_(2)


def test_binary_elementwise_errors_match_torch():
    for lib in (chainrule, torch):
        for name in ("atan2", "hypot", "logaddexp", "fmax", "fmin"):
            with pytest.raises(TypeError, match=f"{name}\\(\\): argument 'other' \\(position 2\\) "
                                                "must be Tensor, not int"):
                getattr(lib, name)(lib.ones(2), 2)
        with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                               r"tensor b \(4\) at non-singleton dimension 0"):
            lib.atan2(lib.ones(3), lib.ones(4))


# ----------------------------------------------------------- addcmul, addcdiv
ADDC_SHAPES = [((3,), (3,), (3,)), ((2, 3), (3,), (2, 1)), ((), (4,), ()), ((3, 1), (4,), (2, 1, 1)),
               ((0, 3), (3,), (1,))]


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("shapes", ADDC_SHAPES)
@pytest.mark.parametrize("value", [1, 0.5, -2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_addcmul_addcdiv_match_torch(name, shapes, value, dtype):
    a = sample(shapes[0], dtype, seed=1)
    t1 = sample(shapes[1], dtype, seed=2)
    t2 = sample(shapes[2], dtype, 0.5, 2, seed=3)
    compare_with_torch(lambda lib, x, y, z: getattr(lib, name)(x, y, z, value=value), a, t1, t2)
    compare_with_torch(lambda lib, x, y, z: getattr(x, name)(y, z, value=value), a, t1, t2)
    if shapes[0] == np.broadcast_shapes(*shapes):
        compare_with_torch(lambda lib, x, y, z: getattr(x * 1, name + "_")(y, z, value=value), a, t1, t2)


def test_addcmul_addcdiv_gradcheck():
    a = chainrule.tensor(sample((2, 3), np.float64, seed=1), requires_grad=True)
    t1 = chainrule.tensor(sample((3,), np.float64, seed=2), requires_grad=True)
    t2 = chainrule.tensor(sample((2, 1), np.float64, 0.5, 2, seed=3), requires_grad=True)
    for name in ("addcmul", "addcdiv"):
        fn = lambda x, y, z, n=name: getattr(chainrule, n)(x, y, z, value=0.7)  # noqa: E731
        assert chainrule.autograd.gradcheck(fn, (a, t1, t2))
        assert chainrule.autograd.gradgradcheck(fn, (a, t1, t2))


def test_addcmul_addcdiv_dtypes_and_errors():
    i = np.array([1, 2, 3])
    f = np.array([1.0, -2.0, 0.5], np.float32)
    compare_with_torch(lambda lib, x, y, z: lib.addcmul(x, y, z), i, i, i)
    compare_with_torch(lambda lib, x, y, z: lib.addcmul(x, y, z, value=0.5), i, i, i)
    compare_with_torch(lambda lib, x, y, z: lib.addcmul(x, y, z, value=0.5), f, i, i, grad=False)
    compare_with_torch(lambda lib, x, y, z: lib.addcdiv(x, y, z), i, f, i, grad=False)
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer supported"):
            lib.addcdiv(lib.tensor(i), lib.tensor(i), lib.tensor(i))
        with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                               r"tensor b \(4\) at non-singleton dimension 0"):
            lib.addcmul(lib.ones(3), lib.ones(4), lib.ones(3))


@pytest.mark.parametrize("name", ["sin_", "cos_", "tan_", "tanh_", "exp_", "sqrt_", "sigmoid_"])
def test_inplace_function_forms_match_torch(name):
    x = sample((2, 3), np.float64, 0.1, 1.0)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t * 1), x)


@pytest.mark.parametrize("name", ["log", "log1p", "log2", "log10", "sqrt", "rsqrt", "reciprocal"])
def test_poles_give_inf_or_nan_without_numpy_warnings(name):
    import warnings

    x = np.array([0.0, -1.0, -2.0, 1.0])
    with np.errstate(all="warn"), warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_with_torch(lambda lib, t: getattr(lib, name)(t), x, grad=False)
