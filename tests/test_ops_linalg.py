"""Matrix products (matmul, mm, bmm, mv, dot, outer, addmm, baddbmm, einsum) against torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch, raises_like_torch  # noqa: E402

DTYPES = [np.float32, np.float64]


def sample(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)),
                 ((5, 2, 3), (3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((3,), (2, 3, 4)), ((0, 3), (3, 2)),
                 ((2, 0), (0, 4))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_matches_torch(shapes, dtype):
    a, b = sample(shapes[0], dtype, 1), sample(shapes[1], dtype, 2)
    compare_with_torch(lambda lib, x, y: lib.matmul(x, y), a, b)
    compare_with_torch(lambda lib, x, y: x @ y, a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shapes", [("mm", ((2, 3), (3, 4))), ("bmm", ((5, 2, 3), (5, 3, 4))),
                                          ("mv", ((2, 3), (3,))), ("dot", ((3,), (3,))),
                                          ("outer", ((3,), (4,))),
                                          ("ger", ((2,), (5,))), ("bmm", ((0, 2, 3), (0, 3, 1)))])
def test_named_products_match_torch(name, shapes, dtype):
    a, b = sample(shapes[0], dtype, 1), sample(shapes[1], dtype, 2)
    compare_with_torch(lambda lib, x, y: getattr(lib, name)(x, y), a, b)
    compare_with_torch(lambda lib, x, y: getattr(x, name)(y), a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias_shape", [(4,), (2, 4), (1, 4), ()])
@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 2.0), (0, 1)])
def test_addmm_matches_torch(dtype, bias_shape, beta, alpha):
    bias, a, b = sample(bias_shape, dtype, 0), sample((2, 3), dtype, 1), sample((3, 4), dtype, 2)
    compare_with_torch(lambda lib, c, x, y: lib.addmm(c, x, y, beta=beta, alpha=alpha), bias, a, b)
    compare_with_torch(lambda lib, c, x, y: c.addmm(x, y, beta=beta, alpha=alpha), bias, a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 2.0)])
def test_baddbmm_matches_torch(dtype, beta, alpha):
    bias, a, b = sample((1, 2, 4), dtype, 0), sample((3, 2, 5), dtype, 1), sample((3, 5, 4), dtype, 2)
    compare_with_torch(lambda lib, c, x, y: lib.baddbmm(c, x, y, beta=beta, alpha=alpha), bias, a, b)


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ijk->j", [(2, 3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ba,ab", [(2, 3), (3, 2)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (1, 3, 4)]),
    ("...j,j", [(2, 3, 4), (4,)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("i j , j k -> i k", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("equation, shapes", EINSUM_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_einsum_matches_torch(equation, shapes, dtype):
    operands = [sample(s, dtype, i) for i, s in enumerate(shapes)]
    compare_with_torch(lambda lib, *ts: lib.einsum(equation, *ts), *operands, name="EinsumBackward0")
    compare_with_torch(lambda lib, *ts: lib.einsum(equation, list(ts)), *operands, name="EinsumBackward0")


@pytest.mark.parametrize("equation, shapes", [("ii->i", [(3, 3)]), ("ii", [(3, 3)]),
                                              ("iij,j->i", [(2, 2, 3), (3,)]), ("iji->j", [(2, 4, 2)])])
def test_einsum_repeated_subscripts_match_torch(equation, shapes):
    operands = [sample(s, np.float64, i) for i, s in enumerate(shapes)]
    compare_with_torch(lambda lib, *ts: lib.einsum(equation, *ts), *operands, name="EinsumBackward0")


def test_linalg_gradcheck():
    def leaf(*shape, seed):
        return chainrule.tensor(sample(shape, np.float64, seed), requires_grad=True)

    gradcheck = chainrule.autograd.gradcheck
    assert gradcheck(chainrule.matmul, (leaf(2, 2, 3, seed=1), leaf(3, 2, seed=2)))
    assert gradcheck(chainrule.addmm, (leaf(3, seed=0), leaf(2, 4, seed=1), leaf(4, 3, seed=2)))
    assert gradcheck(lambda x, y, z: chainrule.einsum("bn,anm,bm->ba", x, y, z),
                     (leaf(2, 3, seed=1), leaf(2, 3, 2, seed=2), leaf(2, 2, seed=3)))
    assert gradcheck(chainrule.outer, (leaf(3, seed=1), leaf(2, seed=2)))


def test_einsum_second_derivative_matches_torch():
    a, b = sample((2, 3), np.float64, 1), sample((3, 4), np.float64, 2)

    def second(lib):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        (gx,) = lib.autograd.grad((lib.einsum("ij,jk->ik", x, y) ** 2).sum(), x, create_graph=True)
        (gy,) = lib.autograd.grad((gx * x).sum(), y)
        return gy.numpy()

    np.testing.assert_allclose(second(chainrule), second(torch), rtol=1e-10)


def test_product_errors():
    ones = chainrule.ones
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        ones(2, 3).bmm(ones(2, 3))
    with pytest.raises(RuntimeError, match=r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: \[2, 3\]"):
        ones(2, 3, 4).bmm(ones(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"):
        ones(2, 3).mv(ones(4))
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 2D and 2D tensors"):
        ones(2, 3).dot(ones(2, 3))
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        ones(3).dot(ones(4))
    with pytest.raises(RuntimeError, match="expected both vectors to have same dtype, but found Float and Double"):
        ones(3).dot(ones(3, dtype=chainrule.float64))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        chainrule.addmm(ones(5), ones(2, 3), ones(4, 5))
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        chainrule.matmul(chainrule.tensor(1.0), ones(2))


@pytest.mark.parametrize("call", [
    lambda lib: lib.ones(2, 3, 4) @ lib.ones(3, 4, 5),
    lambda lib: lib.matmul(lib.ones(2, 1, 3, 4), lib.ones(3, 3, 4, 2)),
    lambda lib: lib.einsum("ij,jk->ik", lib.ones(3, 4), lib.ones(5, 5)),
    lambda lib: lib.einsum("bij,bjk->bik", lib.ones(2, 3, 4), lib.ones(3, 4, 5)),
])
def test_broadcast_errors_of_products_match_torch(call):
    raises_like_torch(lambda: call(chainrule), lambda: call(torch), RuntimeError)


@pytest.mark.parametrize("shapes", [((2, 3, 4), (4,)), ((4,), (2, 4, 5)), ((2, 3, 4), (4, 5)),
                                    ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 6))])
def test_batched_matmul_records_torchs_product_node_under_its_unsafe_view(shapes):
    def nodes(lib):
        a, b = (lib.ones(*shape, requires_grad=True) for shape in shapes)
        node = (a @ b).grad_fn
        return node.name(), [f.name() for f, _ in node.next_functions]

    assert nodes(chainrule) == nodes(torch)


@pytest.mark.parametrize("matrices", [
    [[1.0, 2.0], [2.0, 1.0]],
    [[[4.0, 2.0], [2.0, 2.0]], [[-1.0, 0.0], [0.0, 1.0]]],
    [[[4.0, 0.0, 0.0], [0.0, 1.0, 3.0], [0.0, 3.0, 1.0]]],
])
def test_cholesky_of_a_matrix_that_is_not_positive_definite_raises_torchs_error(matrices):
    _same_linalg_error(lambda lib: lib.linalg.cholesky(lib.tensor(matrices)))


@pytest.mark.parametrize("matrices", [[[1.0, 2.0], [2.0, 4.0]],
                                      [[[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 1.0]]]])
def test_inverse_of_a_singular_matrix_raises_torchs_error(matrices):
    _same_linalg_error(lambda lib: lib.linalg.inv(lib.tensor(matrices)))


def _same_linalg_error(call):
    """``call(lib)`` raises each library's own ``linalg.LinAlgError`` with the same message."""
    with pytest.raises(torch.linalg.LinAlgError) as theirs:
        call(torch)
    with pytest.raises(chainrule.linalg.LinAlgError) as ours:
        call(chainrule)
    assert str(ours.value) == str(theirs.value)
