"""``chainrule.linalg`` (norms, inv, det, slogdet, solve, cross, svdvals) and the
``torch.inverse``/``torch.det``/``torch.slogdet``/``torch.logdet`` aliases against torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule._torch_shim import run_script

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]


def sample(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, shape).astype(dtype)


def well_conditioned(shape, dtype=np.float64, seed=0):
    """Random square matrices kept away from singular (a diagonal shift)."""
    n = shape[-1]
    return (sample(shape, np.float64, seed) + 3 * np.eye(n)).astype(dtype)


def tolerances(dtype):
    return (1e-4, 1e-4) if dtype == np.float32 else (1e-9, 1e-9)


def test_namespace_is_the_package():
    import chainrule.linalg as linalg

    assert chainrule.linalg is linalg
    assert linalg.__name__ == "chainrule.linalg"
    assert issubclass(chainrule.linalg.LinAlgError, RuntimeError)


# --------------------------------------------------------------- vector_norm
@pytest.mark.parametrize("shape, dim", [((2, 3, 4), None), ((2, 3, 4), 1), ((2, 3, 4), (0, 2)),
                                        ((2, 3, 4), (0, 1, 2)), ((5,), 0), ((), None), ((0, 3), 1)])
@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, np.inf, -np.inf, 0])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_norm_matches_torch(shape, dim, ord, keepdim, dtype):
    if np.isinf(ord) and 0 in shape:
        pytest.skip("no identity: an error, tested below")
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: lib.linalg.vector_norm(t, ord, dim, keepdim), x)


def test_vector_norm_dtype_and_errors():
    compare_with_torch(lambda lib, t: lib.linalg.vector_norm(t, dtype=lib.float64),
                       sample((3,), np.float32))
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="linalg.vector_norm: Expected a floating point or "
                                               "complex tensor as input. Got Long"):
            lib.linalg.vector_norm(lib.ones(3, dtype=lib.int64))
        with pytest.raises(TypeError, match=r"linalg_vector_norm\(\): argument 'ord' \(position 2\) "
                                            "must be Number, not str"):
            lib.linalg.vector_norm(lib.ones(3), "fro")


# --------------------------------------------------------------- matrix_norm
@pytest.mark.parametrize("shape, dim", [((3, 4), (-2, -1)), ((4, 3), (0, 1)), ((2, 3, 4), (-2, -1)),
                                        ((2, 3, 4), (0, 2)), ((2, 3, 4), (2, 0))])
@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_norm_matches_torch(shape, dim, ord, keepdim, dtype):
    x = sample(shape, dtype)
    rtol, atol = tolerances(dtype)
    compare_with_torch(lambda lib, t: lib.linalg.matrix_norm(t, ord, dim, keepdim), x,
                       rtol=rtol, atol=atol)
    if dim == (-2, -1):
        compare_with_torch(lambda lib, t: lib.linalg.norm(t, ord, dim, keepdim), x, rtol=rtol, atol=atol)


def test_matrix_norm_errors_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="linalg.matrix_norm: Order 3 not supported."):
            lib.linalg.matrix_norm(lib.ones(3, 3), 3)
        with pytest.raises(RuntimeError, match="linalg.matrix_norm: The input tensor A must have at "
                                               "least 2 dimensions."):
            lib.linalg.matrix_norm(lib.ones(3))
        with pytest.raises(RuntimeError, match="linalg.matrix_norm: dim must be a 2-tuple. Got 0"):
            lib.linalg.matrix_norm(lib.ones(2, 3), dim=(0,))
        with pytest.raises(RuntimeError, match="linalg.matrix_norm: Expected a floating point or "
                                               "complex tensor as input. Got Long"):
            lib.linalg.matrix_norm(lib.ones(2, 3, dtype=lib.int64))


def test_singular_value_norms_are_differentiable_once():
    x = chainrule.tensor(sample((3, 4), seed=2), requires_grad=True)
    for ord in ("nuc", 2, -2):
        assert chainrule.autograd.gradcheck(lambda t, o=ord: chainrule.linalg.matrix_norm(t, o), (x,))
    compare_with_torch(lambda lib, t: lib.linalg.svdvals(t), sample((2, 3, 4), seed=3))
    (grad,) = chainrule.autograd.grad(chainrule.linalg.matrix_norm(x, 2), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="second derivative of the singular values"):
        grad.sum().backward()


# --------------------------------------------------------------------- norm
@pytest.mark.parametrize("shape, ord, dim", [
    ((2, 3, 4), None, None), ((3, 4), None, None), ((3, 4), 1, None), ((3, 4), "fro", None),
    ((3, 4), "nuc", None), ((3, 4), np.inf, None), ((4,), 3, None), ((4,), np.inf, None),
    ((2, 3, 4), 2, 1), ((2, 3, 4), 1, (0, 2)), ((2, 3, 4), None, (1, 2)), ((2, 3, 4), "fro", (0, 1)),
    ((), None, None)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_norm_matches_torch(shape, ord, dim, keepdim, dtype):
    x = sample(shape, dtype)
    rtol, atol = tolerances(dtype)
    compare_with_torch(lambda lib, t: lib.linalg.norm(t, ord, dim, keepdim), x, rtol=rtol, atol=atol)


def test_norm_errors_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="linalg.norm: If dim is not specified but ord is, the "
                                               "input must be 1D or 2D. Got 3D."):
            lib.linalg.norm(lib.ones(2, 3, 4), 2)
        with pytest.raises(RuntimeError, match=r"linalg.norm: If dim is specified, it must be of "
                                               r"length 1 or 2. Got \[0, 1, 2\]"):
            lib.linalg.norm(lib.ones(2, 3, 4), dim=(0, 1, 2))
        with pytest.raises(RuntimeError, match="linalg.matrix_norm: The input tensor A must have at "
                                               "least 2 dimensions."):
            lib.linalg.norm(lib.ones(3), "fro")


# ------------------------------------------------------------------ inverse
@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (2, 4, 4), (2, 1, 3, 3), (0, 0), (2, 0, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_inv_matches_torch(shape, dtype):
    x = well_conditioned(shape, dtype)
    rtol, atol = tolerances(dtype)
    for op in (lambda lib, t: lib.linalg.inv(t), lambda lib, t: lib.inverse(t),
               lambda lib, t: t.inverse()):
        compare_with_torch(op, x, rtol=rtol, atol=atol)


def test_inv_errors_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(lib.linalg.LinAlgError, match="linalg.inv: The diagonal element 2 is zero, "
                                                         "the inversion could not be completed "
                                                         "because the input matrix is singular."):
            lib.linalg.inv(lib.ones(3, 3))
        with pytest.raises(RuntimeError, match=r"linalg.inv: \(Batch element 1\): The diagonal "
                                               "element 2 is zero"):
            lib.linalg.inv(lib.stack([lib.eye(3), lib.ones(3, 3)]))
        with pytest.raises(RuntimeError, match="linalg.inv: A must be batches of square matrices, but "
                                               "they are 2 by 3 matrices"):
            lib.linalg.inv(lib.ones(2, 3))
        with pytest.raises(RuntimeError, match="linalg.inv: Expected a floating point or complex "
                                               "tensor as input. Got Long"):
            lib.linalg.inv(lib.ones(3, 3, dtype=lib.int64))
        with pytest.raises(RuntimeError, match="linalg.inv: The input tensor A must have at least 2 "
                                               "dimensions."):
            lib.linalg.inv(lib.ones(3))


# ---------------------------------------------------------------------- det
@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (2, 4, 4), (0, 0), (2, 0, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_det_matches_torch(shape, dtype):
    x = sample(shape, dtype, seed=4)
    rtol, atol = tolerances(dtype)
    for op in (lambda lib, t: lib.linalg.det(t), lambda lib, t: lib.det(t), lambda lib, t: t.det()):
        compare_with_torch(op, x, rtol=rtol, atol=atol)


def test_det_of_singular_matrices():
    """The gradient of det at a singular matrix is its adjugate (transposed), which is not zero
    for rank n - 1; torch 2.13 returns zeros there, chainrule the true derivative (gradcheck)."""
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]])  # rank 2
    batch = np.stack([singular, well_conditioned((3, 3), seed=5), np.ones((3, 3))])  # and rank 1
    compare_with_torch(lambda lib, t: lib.linalg.det(t), batch, grad=False)
    x = chainrule.tensor(batch, requires_grad=True)
    assert chainrule.autograd.gradcheck(chainrule.linalg.det, (x,))
    chainrule.linalg.det(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[2], np.zeros((3, 3)), atol=1e-12)  # rank 1: zero


def test_det_errors_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="linalg.det: A must be batches of square matrices, but "
                                               "they are 2 by 3 matrices"):
            lib.det(lib.ones(2, 3))
        with pytest.raises(RuntimeError, match="linalg.det: Expected a floating point or complex "
                                               "tensor as input. Got Long"):
            lib.linalg.det(lib.ones(3, 3, dtype=lib.int64))


@pytest.mark.parametrize("data", [well_conditioned((3, 3), seed=6), -well_conditioned((3, 3), seed=6),
                                  well_conditioned((2, 3, 3), seed=7), np.ones((3, 3)), -np.eye(3)])
def test_slogdet_and_logdet_match_torch(data):
    for op in (lambda lib, t: lib.linalg.slogdet(t).logabsdet, lambda lib, t: lib.slogdet(t)[1],
               lambda lib, t: t.slogdet().sign):
        compare_with_torch(op, data, grad=not np.array_equal(data, np.ones((3, 3))))
    compare_with_torch(lambda lib, t: lib.logdet(t), data, grad=bool(np.linalg.det(data).min() > 0))
    ours, theirs = chainrule.linalg.slogdet(chainrule.tensor(data)), torch.linalg.slogdet(torch.tensor(data))
    assert type(ours).__name__ == type(theirs).__name__ == "linalg_slogdet"
    assert type(chainrule.slogdet(chainrule.tensor(data))).__name__ == "slogdet"
    assert repr(ours).startswith("torch.return_types.linalg_slogdet(\nsign=tensor(")


# -------------------------------------------------------------------- solve
@pytest.mark.parametrize("a_shape, b_shape, left", [
    ((3, 3), (3,), True), ((3, 3), (3, 2), True), ((2, 3, 3), (2, 3), True), ((2, 3, 3), (3, 4), True),
    ((3, 3), (2, 3, 1), True), ((2, 3, 3), (2, 3, 2), True), ((3, 3), (4, 3), False),
    ((2, 3, 3), (2, 5, 3), False), ((1, 1), (1,), True)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_matches_torch(a_shape, b_shape, left, dtype):
    a, b = well_conditioned(a_shape, dtype, seed=8), sample(b_shape, dtype, seed=9)
    rtol, atol = tolerances(dtype)
    compare_with_torch(lambda lib, x, y: lib.linalg.solve(x, y, left=left), a, b, rtol=rtol, atol=atol)


def test_solve_errors_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(lib.linalg.LinAlgError, match="torch.linalg.solve: The solver failed "
                                                         "because the input matrix is singular."):
            lib.linalg.solve(lib.ones(3, 3), lib.ones(3))
        with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes of A and B for the "
                                               r"equation AX = B \(3x3 and 4x1\)"):
            lib.linalg.solve(lib.eye(3), lib.ones(4, 1))
        with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes of A and B for the "
                                               r"equation AX = B \(3x3 and 4x1\)"):
            lib.linalg.solve(lib.eye(3), lib.ones(4))
        with pytest.raises(RuntimeError, match="linalg.solve: Expected A and B to have the same dtype, "
                                               "but found A of type Float and B of type Double instead"):
            lib.linalg.solve(lib.eye(3), lib.ones(3, dtype=lib.float64))
        with pytest.raises(RuntimeError, match="linalg.solve: Expected a floating point or complex "
                                               "tensor as input. Got Long"):
            lib.linalg.solve(lib.eye(3, dtype=lib.int64), lib.ones(3, dtype=lib.int64))


def test_gradcheck_and_gradgradcheck():
    a = chainrule.tensor(well_conditioned((3, 3), seed=10), requires_grad=True)
    b = chainrule.tensor(sample((3, 2), seed=11), requires_grad=True)
    v = chainrule.tensor(sample((3,), seed=12), requires_grad=True)
    checks = [(chainrule.linalg.inv, (a,)), (chainrule.linalg.det, (a,)),
              (lambda t: chainrule.linalg.slogdet(t).logabsdet, (a,)),
              (chainrule.linalg.solve, (a, b)), (chainrule.linalg.solve, (a, v)),
              (lambda x, y: chainrule.linalg.solve(x, y.mT, left=False), (a, b)),
              (lambda t: chainrule.linalg.norm(t), (b,)), (lambda t: chainrule.linalg.norm(t, 1), (b,)),
              (lambda t: chainrule.linalg.vector_norm(t, 3, dim=0), (b,))]
    for fn, inputs in checks:
        assert chainrule.autograd.gradcheck(fn, inputs)
        assert chainrule.autograd.gradgradcheck(fn, inputs)


def test_second_derivatives_match_torch():
    data = well_conditioned((3, 3), seed=13)
    results = []
    for lib in (chainrule, torch):
        a = lib.tensor(data, requires_grad=True)
        (g,) = lib.autograd.grad(lib.linalg.det(a) + lib.linalg.inv(a).sum(), a, create_graph=True)
        (h,) = lib.autograd.grad((g * lib.tensor(np.arange(9.0).reshape(3, 3))).sum(), a)
        results.append(h.numpy())
    np.testing.assert_allclose(*results, rtol=1e-9, atol=1e-9)


def test_torch_linalg_resolves_in_scripts(tmp_path, capsys):
    script = tmp_path / "uses_linalg.py"
    script.write_text(
        "import torch\nimport torch.linalg\nfrom torch.linalg import solve\n"
        "A = torch.tensor([[3.0, 1.0], [1.0, 2.0]])\n"
        "print(torch.linalg.norm(A).item() > 0, solve(A, torch.tensor([9.0, 8.0])).tolist(),\n"
        "      torch.inverse(A).shape, round(torch.det(A).item(), 4))\n")
    run_script(script, [])
    assert capsys.readouterr().out.strip() == "True [2.0, 3.0] torch.Size([2, 2]) 5.0"
