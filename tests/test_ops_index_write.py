"""index_fill and masked_scatter (out of place and in place) against torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]


def sample(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).uniform(-3, 3, shape).astype(dtype)


@pytest.mark.parametrize("shape, dim, index", [((3, 4), 1, [0, 2]), ((3, 4), 0, [1]), ((3, 4), -1, [-1]),
                                               ((3, 4), 1, [0, 2, 2]), ((2, 3, 4), 1, [2, 0]),
                                               ((3, 4), 0, 1), ((3, 4), 1, []), ((), 0, [0])])
@pytest.mark.parametrize("dtype", DTYPES)
def test_index_fill_matches_torch(shape, dim, index, dtype):
    x = sample(shape, dtype)

    def op(lib, t, form="function"):
        i = lib.tensor(index, dtype=lib.int64)
        if form == "function":
            return lib.index_fill(t, dim, i, -1.5)
        if form == "method":
            return t.index_fill(dim, i, -1.5)
        return (t * 1).index_fill_(dim, i, -1.5)

    for form in ("function", "method", "inplace"):
        compare_with_torch(lambda lib, t, f=form: op(lib, t, f), x)


@pytest.mark.parametrize("index", [[0, 2], [0, 2, 2]])
def test_index_fill_with_a_tensor_value_matches_torch(index):
    x, value = sample((3, 4)), np.array(5.0)
    compare_with_torch(lambda lib, t, v: t.index_fill(1, lib.tensor(index), v), x, value)


def test_index_fill_integers_and_errors():
    ours = chainrule.arange(4).index_fill(0, chainrule.tensor([1]), 2.7)
    theirs = torch.arange(4).index_fill(0, torch.tensor([1]), 2.7)
    assert ours.dtype == chainrule.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for lib in (chainrule, torch):
        m = lib.ones(3, 4)
        with pytest.raises(IndexError, match=r"index_fill_\(\): Expected dtype int64 for index."):
            m.index_fill(0, lib.tensor([1], dtype=lib.int32), 5.0)
        with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
            m.index_fill(0, lib.tensor([5]), 5.0)
        with pytest.raises(RuntimeError, match="Index has to be a vector/scalar"):
            m.index_fill(0, lib.tensor([[1]]), 5.0)
        with pytest.raises(RuntimeError, match=r"index_fill_ only supports a 0-dimensional value "
                                               r"tensor, but got tensor with 1 dimension\(s\)."):
            m.index_fill(0, lib.tensor([1]), lib.tensor([5.0]))


MASKS = [np.array([[True, False, True, False], [False] * 4, [True] * 4]),
         np.array([True, False, False, True]), np.zeros((3, 4), bool), np.ones((3, 4), bool)]


@pytest.mark.parametrize("mask", MASKS, ids=range(len(MASKS)))
@pytest.mark.parametrize("source_shape", [(2, 6), (12,), (3, 5)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_scatter_matches_torch(mask, source_shape, dtype):
    x, source = sample((3, 4), dtype, 1), sample(source_shape, dtype, 2)
    compare_with_torch(lambda lib, t, s: lib.masked_scatter(t, lib.tensor(mask), s), x, source)
    compare_with_torch(lambda lib, t, s: t.masked_scatter(lib.tensor(mask), s), x, source)
    compare_with_torch(lambda lib, t, s: (t * 1).masked_scatter_(lib.tensor(mask), s), x, source)


def test_masked_scatter_broadcasts_input_and_errors():
    compare_with_torch(lambda lib, t, s: t.masked_scatter(lib.ones(2, 4, dtype=lib.bool), s),
                       sample((4,)), sample((8,), seed=1))
    for lib in (chainrule, torch):
        m, mask = lib.ones(3, 4), lib.tensor(MASKS[0])
        with pytest.raises(RuntimeError, match="Number of elements of source < number of ones in mask"):
            m.masked_scatter(mask, lib.ones(3))
        with pytest.raises(RuntimeError, match="masked_scatter_ only supports boolean masks, but got "
                                               "mask with dtype Long"):
            m.masked_scatter(mask.long(), lib.ones(12))
        with pytest.raises(RuntimeError, match="masked_scatter: expected self and source to have same "
                                               "dtypes but gotFloat and Double"):
            m.masked_scatter(mask, lib.ones(12, dtype=lib.float64))


def test_gradcheck_and_gradgradcheck():
    x = chainrule.tensor(sample((3, 4), seed=3), requires_grad=True)
    s = chainrule.tensor(sample((2, 6), seed=4), requires_grad=True)
    v = chainrule.tensor(2.0, dtype=chainrule.float64, requires_grad=True)
    mask = chainrule.tensor(MASKS[0])
    for fn, inputs in [(lambda t, u: t.masked_scatter(mask, u), (x, s)),
                       (lambda t, w: t.index_fill(1, chainrule.tensor([0, 2, 2]), w), (x, v)),
                       (lambda t: t.index_fill(0, chainrule.tensor([1]), 0.5), (x,))]:
        assert chainrule.autograd.gradcheck(fn, inputs)
        assert chainrule.autograd.gradgradcheck(fn, inputs)
