"""Diagonals and triangles (diagonal, diag, diag_embed, diagflat, trace, tril, triu,
fill_diagonal_) against torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]


def sample(shape, dtype, seed=0):
    return np.random.default_rng(seed).uniform(-3, 3, shape).astype(dtype)


@pytest.mark.parametrize("shape, offset, dim1, dim2", [
    ((3, 4), 0, 0, 1), ((3, 4), 1, 0, 1), ((3, 4), -2, 0, 1), ((4, 3), 2, 1, 0), ((3, 4), 5, 0, 1),
    ((2, 3, 4), 0, 1, 2), ((2, 3, 4), 1, 2, 0), ((2, 3, 4), -1, -1, -3), ((0, 3), 0, 0, 1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_diagonal_matches_torch(shape, offset, dim1, dim2, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: lib.diagonal(t, offset, dim1, dim2), x)
    compare_with_torch(lambda lib, t: t.diagonal(offset=offset, dim1=dim1, dim2=dim2), x)


def test_diagonal_is_a_writable_view():
    for lib in (chainrule, torch):
        x = lib.zeros(3, 3)
        d = x.diagonal()
        d.fill_(2.0)
        assert d._base is x
        np.testing.assert_array_equal(x.numpy(), 2 * np.eye(3))
    compare_with_torch(lambda lib, t: _zero_diagonal(t * 1), sample((3, 4), np.float64))


def _zero_diagonal(t):
    t.diagonal(1).zero_()
    return t


@pytest.mark.parametrize("shape, offset, dim1, dim2", [
    ((3,), 0, -2, -1), ((2, 3), 1, -2, -1), ((2, 3), -1, 0, 2), ((2, 3, 2), 0, 1, 3), ((0,), 0, 0, 1),
    ((2, 0), 2, -2, -1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_diag_embed_matches_torch(shape, offset, dim1, dim2, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: lib.diag_embed(t, offset, dim1, dim2), x)
    compare_with_torch(lambda lib, t: t.diag_embed(offset=offset, dim1=dim1, dim2=dim2), x)


@pytest.mark.parametrize("shape", [(4,), (3, 4), (4, 3), (0,), (1, 1)])
@pytest.mark.parametrize("offset", [0, 1, -2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_diag_and_diagflat_match_torch(shape, offset, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: lib.diag(t, offset), x)
    compare_with_torch(lambda lib, t: t.diag(diagonal=offset), x)
    compare_with_torch(lambda lib, t: lib.diagflat(t, offset), x)
    compare_with_torch(lambda lib, t: t.diagflat(offset), x)


@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (5, 2), (0, 0), (1, 4)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_trace_matches_torch(shape, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: lib.trace(t), x)
    compare_with_torch(lambda lib, t: t.trace(), x)
    compare_with_torch(lambda lib, t: lib.trace(t), np.arange(9, dtype=np.int32).reshape(3, 3))


@pytest.mark.parametrize("name", ["tril", "triu"])
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (2, 3, 3), (2, 1, 3, 4), (0, 3)])
@pytest.mark.parametrize("diagonal", [0, 1, -1, 5, -5])
@pytest.mark.parametrize("dtype", DTYPES)
def test_tril_triu_match_torch(name, shape, diagonal, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t, diagonal), x)
    compare_with_torch(lambda lib, t: getattr(t, name)(diagonal=diagonal), x)
    compare_with_torch(lambda lib, t: getattr(t * 1, name + "_")(diagonal), x)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t, diagonal), np.arange(12).reshape(3, 4))


@pytest.mark.parametrize("shape, wrap", [((3, 3), False), ((3, 5), False), ((7, 3), False),
                                         ((7, 3), True), ((2, 5), True), ((3, 3, 3), False)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fill_diagonal_matches_torch(shape, wrap, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: (t * 1).fill_diagonal_(-7.0, wrap=wrap), x)
    ours = chainrule.tensor(x)
    assert ours.fill_diagonal_(1.5, wrap) is ours
    np.testing.assert_array_equal(ours.numpy(), torch.tensor(x).fill_diagonal_(1.5, wrap).numpy())


def test_gradcheck_and_gradgradcheck():
    x = chainrule.tensor(sample((3, 4), np.float64, seed=1), requires_grad=True)
    v = chainrule.tensor(sample((2, 3), np.float64, seed=2), requires_grad=True)
    for fn, inputs in [(lambda t: t.diagonal(1), x), (lambda t: chainrule.diag(t, -1), x),
                       (chainrule.trace, x), (lambda t: t.tril(1), x), (lambda t: t.triu(-1), x),
                       (lambda t: chainrule.diag_embed(t, 1, 0, 2), v),
                       (lambda t: (t * 1).fill_diagonal_(0.5), x)]:
        assert chainrule.autograd.gradcheck(fn, (inputs,))
        assert chainrule.autograd.gradgradcheck(fn, (inputs,))


@pytest.mark.parametrize("call, error, message", [
    (lambda lib: lib.tril(lib.ones(3)), RuntimeError, "tril: input tensor must have at least 2 dimensions"),
    (lambda lib: lib.triu(lib.ones(())), RuntimeError, "triu: input tensor must have at least 2 dimensions"),
    (lambda lib: lib.diagonal(lib.ones(2, 2), 0, 0, 0), RuntimeError, "diagonal dimensions cannot be identical 0, 0"),
    (lambda lib: lib.diagonal(lib.ones(3)), IndexError, r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)"),
    (lambda lib: lib.diag(lib.ones(2, 2, 2)), RuntimeError, r"diag\(\): Supports 1D or 2D tensors. Got 3D"),
    (lambda lib: lib.diag(lib.ones(())), RuntimeError, r"diag\(\): Supports 1D or 2D tensors. Got 0D"),
    (lambda lib: lib.trace(lib.ones(3)), RuntimeError, "trace: expected a matrix, but got tensor with dim 1"),
    (lambda lib: lib.trace(lib.ones(2, 2, dtype=lib.bool)), NotImplementedError, "\"trace\" not implemented for 'Bool'"),
    (lambda lib: lib.ones(3).fill_diagonal_(1), RuntimeError, "dimensions must larger than 1"),
    (lambda lib: lib.ones(2, 3, 2).fill_diagonal_(1), RuntimeError, "all dimensions of input must be of equal length"),
    (lambda lib: lib.ones(2, 2, requires_grad=True).fill_diagonal_(1), RuntimeError, r"a leaf Variable that requires grad is being used in an in-place operation"),
])
def test_errors_match_torch(call, error, message):
    for lib in (chainrule, torch):
        with pytest.raises(error, match=message):
            call(lib)
