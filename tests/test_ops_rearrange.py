"""Broadcasting and rearranging ops (ravel, broadcast_to/tensors/shapes, meshgrid,
cartesian_prod, repeat_interleave, rot90, atleast_Nd, dstack, column_stack) against torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]


def sample(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).uniform(-3, 3, shape).astype(dtype)


def compare_or_identity(op, *arrays):
    """Where torch's ``op`` returns one of its inputs itself, chainrule's must return the same
    one; otherwise compare values, dtype, node and gradient."""
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    result = op(torch, *inputs)
    same = [i for i, t in enumerate(inputs) if t is result]
    if same:
        ours = [chainrule.tensor(a, requires_grad=True) for a in arrays]
        assert op(chainrule, *ours) is ours[same[0]]
    else:
        compare_with_torch(op, *arrays)


def compare_tuple(op, *arrays):
    """``op`` returns a tuple of tensors: compare each one (values, dtype, node, gradient)."""
    count = len(op(torch, *(torch.tensor(a) for a in arrays)))
    for i in range(count):
        compare_or_identity(lambda lib, *ts, i=i: op(lib, *ts)[i], *arrays)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (), (0, 2), (5,)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_ravel_matches_torch(shape, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: lib.ravel(t), x)
    compare_with_torch(lambda lib, t: t.ravel(), x)
    if len(shape) == 2:
        compare_with_torch(lambda lib, t: t.t().ravel(), x)  # a copy of a non-contiguous tensor
    t = chainrule.tensor(x)
    assert np.shares_memory(t.ravel().numpy(), t.numpy()) or not x.size


@pytest.mark.parametrize("shape, size", [((3,), (2, 3)), ((3,), (2, -1)), ((2, 1), (2, 4)),
                                         ((), (3, 2)), ((1, 3), (0, 3)), ((2, 3), (2, 3))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_to_matches_torch(shape, size, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: lib.broadcast_to(t, size), x)
    compare_with_torch(lambda lib, t: t.broadcast_to(size), x)


@pytest.mark.parametrize("shapes", [[(3,), (2, 3)], [(2, 1), (1, 4), (4,)], [(3,)], [(), (2, 2)],
                                    [(0, 1), (3,)]])
@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_tensors_matches_torch(shapes, dtype):
    arrays = [sample(s, dtype, seed=i) for i, s in enumerate(shapes)]
    compare_tuple(lambda lib, *ts: lib.broadcast_tensors(*ts), *arrays)
    for lib in (chainrule, torch):
        same = lib.tensor(arrays[0])
        assert lib.broadcast_tensors(same, same)[0] is same  # already that shape: itself


@pytest.mark.parametrize("shapes", [[(2,), (3, 1), (1, 1, 1)], [3, (2, 1)], [(0,), (1,)], [()], []])
def test_broadcast_shapes_matches_torch(shapes):
    ours = chainrule.broadcast_shapes(*shapes)
    assert ours == torch.broadcast_shapes(*shapes)
    assert repr(ours) == repr(torch.broadcast_shapes(*shapes))


def test_broadcast_errors_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                               r"tensor b \(4\) at non-singleton dimension 0"):
            lib.broadcast_tensors(lib.ones(3), lib.ones(4))
        with pytest.raises(RuntimeError, match=r"Attempting to broadcast a dimension of length 3 at "
                                               r"-1! Mismatching argument at index 1 had \(3,\); but "
                                               r"expected shape should be broadcastable to \[2\]"):
            lib.broadcast_shapes((2,), (3,))
        with pytest.raises(TypeError, match="expected Tensor as element 0 in argument 0, but got list"):
            lib.broadcast_tensors([lib.ones(2)])


# ----------------------------------------------------------------- meshgrid
@pytest.mark.parametrize("shapes", [[(3,), (4,)], [(3,), (4,), (2,)], [(), (4,)], [(3,)], [(0,), (2,)]])
@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_meshgrid_matches_torch(shapes, indexing, dtype):
    arrays = [sample(s, dtype, seed=i) for i, s in enumerate(shapes)]
    compare_tuple(lambda lib, *ts: lib.meshgrid(*ts, indexing=indexing), *arrays)
    compare_tuple(lambda lib, *ts: lib.meshgrid(list(ts), indexing=indexing), *arrays)


def test_meshgrid_without_indexing_warns_as_torch():
    for lib in (chainrule, torch):
        with pytest.warns(UserWarning, match="torch.meshgrid: in an upcoming release, it will be "
                                             "required to pass the indexing argument."):
            grids = lib.meshgrid(lib.ones(2), lib.ones(3))
        assert tuple(grids[0].shape) == (2, 3)  # 'ij'
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lib.meshgrid(lib.ones(2), lib.ones(3), indexing="ij")


def test_meshgrid_errors_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="torch.meshgrid: indexing must be one of \"xy\" or "
                                               "\"ij\", but received: foo"):
            lib.meshgrid(lib.ones(2), indexing="foo")
        with pytest.raises(RuntimeError, match="meshgrid expects a non-empty TensorList"):
            lib.meshgrid(indexing="ij")
        with pytest.raises(RuntimeError, match="meshgrid expects all tensors to have the same dtype"):
            lib.meshgrid(lib.ones(2), lib.arange(3), indexing="ij")
        with pytest.raises(RuntimeError, match="torch.meshgrid: Expected 0D or 1D tensor in the "
                                               "tensor list but got: "):
            lib.meshgrid(lib.ones(2, 2), indexing="ij")


@pytest.mark.parametrize("shapes", [[(3,), (4,)], [(2,), (3,), (2,)], [(3,)], [(0,), (2,)]])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cartesian_prod_matches_torch(shapes, dtype):
    arrays = [sample(s, dtype, seed=i) for i, s in enumerate(shapes)]
    compare_or_identity(lambda lib, *ts: lib.cartesian_prod(*ts), *arrays)
    ours = chainrule.cartesian_prod(chainrule.tensor([1, 2]), chainrule.tensor([3, 4, 5]))
    np.testing.assert_array_equal(ours.numpy(), torch.cartesian_prod(torch.tensor([1, 2]),
                                                                     torch.tensor([3, 4, 5])).numpy())
    with pytest.raises(RuntimeError, match=r"Expect a 1D vector, but got shape \[2, 3\]"):
        chainrule.cartesian_prod(chainrule.ones(2, 3), chainrule.ones(2))


# ------------------------------------------------------------ repeat_interleave
@pytest.mark.parametrize("shape, repeats, dim", [
    ((2, 3), 2, None), ((2, 3), 2, 1), ((2, 3), 3, 0), ((2, 3), 1, -1), ((2, 3), 0, 0), ((), 2, None),
    ((2, 3), np.array([1, 2]), 0), ((2, 3), np.array([2, 0, 1]), 1), ((2, 3), np.array([2]), 0),
    ((2, 3), np.array(3), 1), ((2, 3), np.array([1, 2, 1, 1, 1, 1]), None), ((0, 3), 2, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_interleave_matches_torch(shape, repeats, dim, dtype):
    x = sample(shape, dtype)

    def op(lib, t, method=False):
        r = lib.tensor(repeats) if isinstance(repeats, np.ndarray) else repeats
        return t.repeat_interleave(r, dim=dim) if method else lib.repeat_interleave(t, r, dim)

    compare_with_torch(op, x)
    compare_with_torch(lambda lib, t: op(lib, t, method=True), x)


def test_repeat_interleave_counts_only_and_errors():
    counts = np.array([1, 2, 0, 3])
    ours = chainrule.repeat_interleave(chainrule.tensor(counts))
    theirs = torch.repeat_interleave(torch.tensor(counts))
    assert ours.dtype == chainrule.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match=r"repeats must have the same size as input along dim, "
                                               r"but got repeats.size\(0\) = 3 and input.size\(0\) = 2"):
            lib.ones(2, 3).repeat_interleave(lib.tensor([1, 2, 3]), dim=0)
        with pytest.raises(RuntimeError, match="Repeats must be non-negative"):
            lib.ones(2).repeat_interleave(-1)
        with pytest.raises(RuntimeError, match="repeats can not be negative"):
            lib.ones(2).repeat_interleave(lib.tensor([1, -1]))
        with pytest.raises(RuntimeError, match="repeat_interleave only accept 1D vector as repeat"):
            lib.repeat_interleave(lib.tensor([[1, 2]]))


# --------------------------------------------------------------------- rot90
@pytest.mark.parametrize("shape, k, dims", [((3, 4), 1, (0, 1)), ((3, 4), 2, [0, 1]), ((3, 4), 3, (0, 1)),
                                            ((3, 4), -1, (1, 0)), ((3, 4), 0, (0, 1)), ((3, 4), 5, (0, 1)),
                                            ((2, 3, 4), 1, (2, 0)), ((2, 3, 4), -2, (-1, -2)),
                                            ((0, 3), 1, (0, 1))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rot90_matches_torch(shape, k, dims, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: lib.rot90(t, k, dims), x)
    compare_with_torch(lambda lib, t: t.rot90(k, dims), x)
    if k == 1 and dims == (0, 1):
        compare_with_torch(lambda lib, t: lib.rot90(t), x)


def test_rot90_gradgradcheck_and_errors():
    x = chainrule.tensor(sample((2, 3)), requires_grad=True)
    assert chainrule.autograd.gradgradcheck(lambda t: chainrule.rot90(t, 1), (x,))
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="expected total rotation dims == 2, but got dims = 3"):
            lib.rot90(lib.ones(2, 3), 1, [0, 1, 2])
        with pytest.raises(RuntimeError, match="expected rotation dims to be different, but got dim0 "
                                               "= 0 and dim1 = 0"):
            lib.rot90(lib.ones(2, 3), 1, [0, 0])
        with pytest.raises(RuntimeError, match="expected total dims >= 2, but got total dims = 1"):
            lib.rot90(lib.ones(3))


# ----------------------------------------------------- atleast, dstack, column_stack
@pytest.mark.parametrize("name", ["atleast_1d", "atleast_2d", "atleast_3d"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (2, 1, 3, 2)])
def test_atleast_matches_torch(name, shape):
    x = sample(shape)
    compare_or_identity(lambda lib, t: getattr(lib, name)(t), x)
    compare_tuple(lambda lib, a, b: getattr(lib, name)(a, b), x, sample((4,), seed=1))
    compare_tuple(lambda lib, a, b: getattr(lib, name)([a, b]), x, sample((), seed=1))


@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (2, 3)], [(2, 3, 1), (2, 3, 2)], [(), ()],
                                    [(1, 3), (3,)]])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dstack_matches_torch(shapes, dtype):
    arrays = [sample(s, dtype, seed=i) for i, s in enumerate(shapes)]
    compare_with_torch(lambda lib, *ts: lib.dstack(ts), *arrays)


@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(3,), (3, 2), ()], [(2, 3), (2, 1)], [(), ()]])
@pytest.mark.parametrize("dtype", DTYPES)
def test_column_stack_matches_torch(shapes, dtype):
    if shapes == [(3,), (3, 2), ()]:
        shapes = [(3,), (3, 2), (3,)]
    arrays = [sample(s, dtype, seed=i) for i, s in enumerate(shapes)]
    compare_with_torch(lambda lib, *ts: lib.column_stack(list(ts)), *arrays)
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="column_stack expects a non-empty TensorList"):
            lib.column_stack([])
