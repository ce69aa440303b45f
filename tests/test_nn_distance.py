"""cosine_similarity and pairwise_distance (torch.*, F.* and the nn modules) against torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]


def sample(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).uniform(-3, 3, shape).astype(dtype)


def _functional(lib):
    return F if lib is chainrule else torch.nn.functional


@pytest.mark.parametrize("shape_a, shape_b, dim", [((4, 3), (4, 3), 1), ((4, 3), (3,), -1),
                                                   ((4, 3), (4, 1), 0), ((2, 4, 3), (4, 3), 2),
                                                   ((3,), (3,), 0), ((0, 3), (0, 3), 1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cosine_similarity_matches_torch(shape_a, shape_b, dim, dtype):
    a, b = sample(shape_a, dtype, 1), sample(shape_b, dtype, 2)
    compare_with_torch(lambda lib, x, y: lib.cosine_similarity(x, y, dim=dim), a, b)
    compare_with_torch(lambda lib, x, y: _functional(lib).cosine_similarity(x, y, dim, 1e-6), a, b)
    compare_with_torch(lambda lib, x, y: lib.nn.CosineSimilarity(dim=dim)(x, y), a, b)


def test_cosine_similarity_zero_vectors_and_dtypes():
    compare_with_torch(lambda lib, x, y: lib.cosine_similarity(x, y), np.zeros((2, 3)), np.ones((2, 3)))
    compare_with_torch(lambda lib, x, y: lib.cosine_similarity(x, y, dim=0),
                       sample((3,), np.float32), sample((3,), np.float64, 1))
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="expected common dtype to be floating point, yet common "
                                               "dtype is Long"):
            lib.cosine_similarity(lib.ones(2, 3, dtype=lib.int64), lib.ones(2, 3, dtype=lib.int64))
        with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                               r"tensor b \(4\) at non-singleton dimension 0"):
            lib.cosine_similarity(lib.ones(3), lib.ones(4), dim=0)


@pytest.mark.parametrize("shape_a, shape_b", [((4, 3), (4, 3)), ((4, 3), (3,)), ((3,), (3,)),
                                              ((2, 4, 3), (4, 3)), ((), ())])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, np.inf, 0.0])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_distance_matches_torch(shape_a, shape_b, p, keepdim, dtype):
    a, b = sample(shape_a, dtype, 1), sample(shape_b, dtype, 2)
    compare_with_torch(lambda lib, x, y: lib.pairwise_distance(x, y, p, keepdim=keepdim), a, b)
    compare_with_torch(lambda lib, x, y: _functional(lib).pairwise_distance(x, y, p, 1e-3, keepdim), a, b)
    compare_with_torch(lambda lib, x, y: lib.nn.PairwiseDistance(p, keepdim=keepdim)(x, y), a, b)


def test_pairwise_distance_integers():
    compare_with_torch(lambda lib, x, y: lib.pairwise_distance(x, y), np.ones((2, 3), np.int64),
                       np.zeros((2, 3), np.int64))


def test_modules_match_torch():
    for ours, theirs in [(nn.CosineSimilarity(), torch.nn.CosineSimilarity()),
                         (nn.PairwiseDistance(p=1.0, eps=1e-3, keepdim=True),
                          torch.nn.PairwiseDistance(p=1.0, eps=1e-3, keepdim=True))]:
        assert repr(ours) == repr(theirs)
        assert {k: v for k, v in vars(ours).items() if not k.startswith("_") and k != "training"} == \
            {k: v for k, v in vars(theirs).items() if not k.startswith("_") and k != "training"}
        assert list(ours.state_dict()) == list(theirs.state_dict()) == []


def test_gradgradcheck():
    a = chainrule.tensor(sample((4, 3), seed=1), requires_grad=True)
    b = chainrule.tensor(sample((4, 3), seed=2), requires_grad=True)
    for fn in (chainrule.cosine_similarity, chainrule.pairwise_distance,
               lambda x, y: F.pairwise_distance(x, y, p=3.0)):
        assert chainrule.autograd.gradcheck(fn, (a, b))
        assert chainrule.autograd.gradgradcheck(fn, (a, b))
