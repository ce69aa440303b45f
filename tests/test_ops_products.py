"""More products (tensordot, inner, kron, cross, cdist, addmv, addr) against torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]


def sample(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, shape).astype(dtype)


@pytest.mark.parametrize("shape_a, shape_b, dims", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3, 4), (4, 5), 1), ((4,), (4,), 0), ((4,), (4,), 1),
    ((2, 3, 4), (3, 4, 5), ([1, 2], [0, 1])), ((2, 3, 4), (3, 4, 5), [[1], [0]]),
    ((2, 3, 4), (3, 4, 5), ([-1], [1])), ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
    ((0, 3), (3, 2), 1), ((2, 3), (3, 2), 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_tensordot_matches_torch(shape_a, shape_b, dims, dtype):
    a, b = sample(shape_a, dtype, 1), sample(shape_b, dtype, 2)
    compare_with_torch(lambda lib, x, y: lib.tensordot(x, y, dims), a, b)
    if dims == 2:
        compare_with_torch(lambda lib, x, y: lib.tensordot(x, y), a, b)
        compare_with_torch(lambda lib, x, y: lib.tensordot(x, y, dims=lib.tensor(2)), a, b)


def test_tensordot_integers_and_errors():
    a, b = np.arange(6).reshape(2, 3), np.arange(3)
    compare_with_torch(lambda lib, x, y: lib.tensordot(x, y, 1), a, b)
    for lib in (chainrule, torch):
        x, y = lib.ones(2, 3, 4), lib.ones(3, 4, 5)
        with pytest.raises(RuntimeError, match="contracted dimensions need to match, but first has "
                                               "size 4 in dim -1 and second has size 3 in dim 0"):
            lib.tensordot(x, y, 1)
        with pytest.raises(RuntimeError, match="both dimension lists should have same length"):
            lib.tensordot(x, y, ([1, 2], [0]))
        with pytest.raises(RuntimeError, match="tensordot expects dims >= 0, but got dims=-1"):
            lib.tensordot(x, y, -1)
        with pytest.raises(RuntimeError, match="both inputs should have same dtype"):
            lib.tensordot(lib.ones(3), lib.ones(3, dtype=lib.float64), 1)


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 3)), ((3,), (3,)), ((2, 1, 3), (5, 3)),
                                              ((), (2, 3)), ((2, 3), ()), ((0, 3), (2, 3))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_inner_matches_torch(shape_a, shape_b, dtype):
    a, b = sample(shape_a, dtype, 1), sample(shape_b, dtype, 2)
    compare_with_torch(lambda lib, x, y: lib.inner(x, y), a, b)
    compare_with_torch(lambda lib, x, y: x.inner(y), a, b)


def test_inner_error_matches_torch():
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match=r"inner\(\) the last dimension must match on both "
                                               r"input tensors but got shapes \[2, 3\] and \[4\]"):
            lib.inner(lib.ones(2, 3), lib.ones(4))


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((3,), (2,)), ((4,), (2, 3)),
                                              ((), (2, 3)), ((2, 1, 3), (2, 2)), ((0, 2), (2, 2))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kron_matches_torch(shape_a, shape_b, dtype):
    a, b = sample(shape_a, dtype, 1), sample(shape_b, dtype, 2)
    compare_with_torch(lambda lib, x, y: lib.kron(x, y), a, b)
    compare_with_torch(lambda lib, x, y: x.kron(y), a, b)


def test_kron_promotes_like_torch():
    compare_with_torch(lambda lib, x, y: lib.kron(x, y), np.array([1, 2]), np.array([0.5, 1.5], np.float32))


# ------------------------------------------------------------------- cross
@pytest.mark.parametrize("shape_a, shape_b, dim", [((4, 3), (4, 3), 1), ((4, 3), (1, 3), -1),
                                                   ((3, 5), (3, 5), 0), ((2, 3, 4), (2, 3, 1), 1),
                                                   ((3,), (3,), 0), ((0, 3), (0, 3), 1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_matches_torch(shape_a, shape_b, dim, dtype):
    a, b = sample(shape_a, dtype, 1), sample(shape_b, dtype, 2)
    compare_with_torch(lambda lib, x, y: lib.cross(x, y, dim=dim), a, b)
    compare_with_torch(lambda lib, x, y: x.cross(y, dim), a, b)
    compare_with_torch(lambda lib, x, y: lib.linalg.cross(x, y, dim=dim), a, b)


def test_cross_default_dims_and_warning():
    a, b = sample((3, 3), seed=1), sample((3, 3), seed=2)
    for lib in (chainrule, torch):
        with pytest.warns(UserWarning, match="Using torch.cross without specifying the dim arg is "
                                             "deprecated."):
            lib.cross(lib.tensor(a), lib.tensor(b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare_with_torch(lambda lib, x, y: lib.cross(x, y), a, b)  # the first dim of size 3
        compare_with_torch(lambda lib, x, y: lib.cross(x, y), sample((2, 3)), sample((2, 3), seed=1))
    compare_with_torch(lambda lib, x, y: lib.linalg.cross(x, y), a, b)  # the last dim


def test_cross_gradgradcheck_and_errors():
    a = chainrule.tensor(sample((2, 3), seed=1), requires_grad=True)
    b = chainrule.tensor(sample((2, 3), seed=2), requires_grad=True)
    assert chainrule.autograd.gradgradcheck(lambda x, y: chainrule.linalg.cross(x, y), (a, b))
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="linalg.cross: inputs dimension 0 must have length 3. "
                                               "Got 2 and 2"):
            lib.cross(lib.ones(2, 3), lib.ones(2, 3), dim=0)
        with pytest.raises(RuntimeError, match="linalg.cross: inputs must have the same number of "
                                               "dimensions."):
            lib.cross(lib.ones(3), lib.ones(2, 3), dim=0)


# ------------------------------------------------------------------- cdist
@pytest.mark.parametrize("shape_a, shape_b", [((4, 3), (5, 3)), ((2, 4, 3), (2, 5, 3)),
                                              ((2, 4, 3), (5, 3)), ((1, 3), (1, 3)), ((0, 3), (2, 3))])
@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 3.0, 0.5, np.inf])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cdist_matches_torch(shape_a, shape_b, p, dtype):
    a, b = sample(shape_a, dtype, 1), sample(shape_b, dtype, 2)
    compare_with_torch(lambda lib, x, y: lib.cdist(x, y, p=p), a, b)


@pytest.mark.parametrize("shape_a, shape_b, mode", [
    ((30, 3), (5, 3), "use_mm_for_euclid_dist_if_necessary"), ((5, 3), (30, 3), None),
    ((2, 30, 3), (30, 3), None), ((4, 3), (5, 3), "use_mm_for_euclid_dist"),
    ((30, 3), (30, 3), "donot_use_mm_for_euclid_dist")])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cdist_matrix_product_path_matches_torch(shape_a, shape_b, mode, dtype):
    a, b = sample(shape_a, dtype, 1), sample(shape_b, dtype, 2)
    kwargs = {} if mode is None else {"compute_mode": mode}
    tol = 1e-4 if dtype == np.float32 else 1e-9  # |a|^2 - 2ab + |b|^2 rounds differently
    compare_with_torch(lambda lib, x, y: lib.cdist(x, y, **kwargs), a, b, rtol=tol, atol=tol)


def test_cdist_zero_distance_gradient_and_gradcheck():
    x = np.array([[1.0, 2.0], [0.5, -1.0]])
    compare_with_torch(lambda lib, t, u: lib.cdist(t, u), x, x.copy())
    a = chainrule.tensor(sample((3, 2), seed=3), requires_grad=True)
    b = chainrule.tensor(sample((4, 2), seed=4), requires_grad=True)
    for p in (1.0, 2.0, 3.0, np.inf):
        assert chainrule.autograd.gradcheck(lambda x, y, p=p: chainrule.cdist(x, y, p=p), (a, b))
    assert chainrule.autograd.gradcheck(
        lambda x, y: chainrule.cdist(x, y, compute_mode="use_mm_for_euclid_dist"), (a, b))


def test_cdist_errors_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="cdist only supports at least 2D tensors, X1 got: 1D"):
            lib.cdist(lib.ones(3), lib.ones(3))
        with pytest.raises(RuntimeError, match="X1 and X2 must have the same number of columns. X1: "
                                               "3 X2: 4"):
            lib.cdist(lib.ones(2, 3), lib.ones(2, 4))
        with pytest.raises(RuntimeError, match="cdist only supports non-negative p values"):
            lib.cdist(lib.ones(2, 3), lib.ones(2, 3), p=-1)
        with pytest.raises(RuntimeError, match="cdist only supports floating-point dtypes, X1 got: Long"):
            lib.cdist(lib.ones(2, 3, dtype=lib.int64), lib.ones(2, 3, dtype=lib.int64))


# ------------------------------------------------------------ addmv, addr
@pytest.mark.parametrize("input_shape", [(3,), (1,), ()])
@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 2.0), (0, 1), (2, -1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_addmv_matches_torch(input_shape, beta, alpha, dtype):
    x, m, v = sample(input_shape, dtype, 1), sample((3, 4), dtype, 2), sample((4,), dtype, 3)
    compare_with_torch(lambda lib, i, a, b: lib.addmv(i, a, b, beta=beta, alpha=alpha), x, m, v)
    compare_with_torch(lambda lib, i, a, b: i.addmv(a, b, beta=beta, alpha=alpha), x, m, v)
    if input_shape == (3,):
        compare_with_torch(lambda lib, i, a, b: (i * 1).addmv_(a, b, beta=beta, alpha=alpha), x, m, v)
        compare_with_torch(lambda lib, i, a, b: lib.addmv_(i * 1, a, b, beta=beta, alpha=alpha), x, m, v)


@pytest.mark.parametrize("input_shape", [(2, 3), (3,), (2, 1), ()])
@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 2.0), (0, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_addr_matches_torch(input_shape, beta, alpha, dtype):
    x, v1, v2 = sample(input_shape, dtype, 1), sample((2,), dtype, 2), sample((3,), dtype, 3)
    compare_with_torch(lambda lib, i, a, b: lib.addr(i, a, b, beta=beta, alpha=alpha), x, v1, v2)
    compare_with_torch(lambda lib, i, a, b: i.addr(a, b, beta=beta, alpha=alpha), x, v1, v2)
    if input_shape == (2, 3):
        compare_with_torch(lambda lib, i, a, b: (i * 1).addr_(a, b, beta=beta, alpha=alpha), x, v1, v2)


def test_addmv_addr_beta_zero_ignores_nan_and_integers():
    compare_with_torch(lambda lib, i, a, b: lib.addmv(i, a, b, beta=0), np.full(3, np.nan),
                       sample((3, 4)), sample((4,)))
    ours = chainrule.addr(chainrule.ones(2, 3, dtype=chainrule.int64), chainrule.tensor([1, 2]),
                          chainrule.tensor([1, 2, 3]), alpha=2)
    theirs = torch.addr(torch.ones(2, 3, dtype=torch.int64), torch.tensor([1, 2]),
                        torch.tensor([1, 2, 3]), alpha=2)
    assert ours.dtype == chainrule.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_addmv_addr_gradgradcheck():
    x = chainrule.tensor(sample((3,), seed=1), requires_grad=True)
    m = chainrule.tensor(sample((3, 4), seed=2), requires_grad=True)
    v = chainrule.tensor(sample((4,), seed=3), requires_grad=True)
    assert chainrule.autograd.gradgradcheck(
        lambda i, a, b: chainrule.addmv(i, a, b, beta=0.5, alpha=2), (x, m, v))
    assert chainrule.autograd.gradgradcheck(
        lambda a, b, c: chainrule.addr(a, b, c, beta=2, alpha=1.5), (m, x, v))


@pytest.mark.parametrize("call, message", [
    (lambda lib: lib.addmv(lib.ones(3), lib.ones(3, 5), lib.ones(4)),
     r"size mismatch, got input \(3\), mat \(3x5\), vec \(4\)"),
    (lambda lib: lib.addmv(lib.ones(4), lib.ones(3, 5), lib.ones(5)),
     r"size mismatch, got input \(4\), mat \(3x5\), vec \(5\)"),
    (lambda lib: lib.addmv(lib.ones(3), lib.ones(3, 5, 1), lib.ones(5)),
     "vector \\+ matrix @ vector expected, got 1, 3, 1"),
    (lambda lib: lib.addr(lib.ones(2, 3), lib.ones(3), lib.ones(3)),
     r"The expanded size of the tensor \(3\) must match the existing size \(2\) at non-singleton "
     r"dimension 0.  Target sizes: \[3, 3\].  Tensor sizes: \[2, 3\]"),
    (lambda lib: lib.addr(lib.ones(2, 3), lib.ones(2, 1), lib.ones(3)),
     "addr: Expected 1-D argument vec1, but got 2-D"),
])
def test_addmv_addr_errors_match_torch(call, message):
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match=message):
            call(lib)
