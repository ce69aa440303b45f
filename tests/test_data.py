"""chainrule.utils.data against torch.utils.data: datasets, samplers, collation, DataLoader."""

from __future__ import annotations

import collections
import multiprocessing
import time

import numpy as np
import pytest

import chainrule
from chainrule.utils import data as cdata

torch = pytest.importorskip("torch")
tdata = torch.utils.data

Point = collections.namedtuple("Point", ["x", "y"])


def _same(ours, theirs):
    """Recursively compare a chainrule batch with a torch batch: structure, dtype, values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, chainrule.Tensor)
        assert str(ours.dtype) == str(theirs.dtype)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and ours.keys() == theirs.keys()
        for key in theirs:
            _same(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        assert ours == theirs


SAMPLES = {
    "ints": [1, 2, 3],
    "floats": [1.5, 2.5],
    "bools": [True, False],
    "strings": ["a", "b"],
    "numpy_float32": [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
    "numpy_scalars": [np.float32(1.0), np.float32(2.0)],
    "tuples": [(1, 2.0, "a"), (3, 4.0, "b")],
    "lists": [[1, 2], [3, 4]],
    "dicts": [{"a": 1, "b": [1.0, 2.0]}, {"a": 2, "b": [3.0, 4.0]}],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_default_collate_matches_torch(name):
    batch = SAMPLES[name]
    _same(cdata.default_collate(batch), tdata.default_collate(batch))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_default_collate_stacks_tensors(dtype):
    rows = np.arange(12).reshape(3, 4).astype(dtype)
    ours = cdata.default_collate([chainrule.tensor(r) for r in rows])
    theirs = tdata.default_collate([torch.tensor(r) for r in rows])
    _same(ours, theirs)


def test_default_collate_rejects_unsupported():
    with pytest.raises(TypeError, match="NoneType"):
        cdata.default_collate([None, None])
    with pytest.raises(RuntimeError, match="equal size"):
        cdata.default_collate([[1, 2], [3]])


def test_default_convert():
    out = cdata.default_convert({"x": np.arange(3), "y": "s"})
    assert isinstance(out["x"], chainrule.Tensor) and out["y"] == "s"


def _tensor_datasets(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n) % 3
    return (cdata.TensorDataset(chainrule.tensor(x), chainrule.tensor(y)),
            tdata.TensorDataset(torch.tensor(x), torch.tensor(y)))


@pytest.mark.parametrize("batch_size", [1, 3, 4, 10, 11])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sequential_loader_matches_torch(batch_size, drop_last):
    ours_ds, theirs_ds = _tensor_datasets()
    ours = cdata.DataLoader(ours_ds, batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(theirs_ds, batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    ours_batches, theirs_batches = list(ours), list(theirs)
    assert len(ours_batches) == len(theirs_batches)
    for a, b in zip(ours_batches, theirs_batches):
        _same(a, b)


class _Squares(cdata.Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"i": i, "sq": np.array([i * i], dtype=np.float64), "name": f"n{i}"}


class _TorchSquares(tdata.Dataset):
    __len__ = _Squares.__len__
    __getitem__ = _Squares.__getitem__


@pytest.mark.parametrize("batch_size", [None, 1, 3])
def test_generic_dataset_loader_matches_torch(batch_size):
    ours = list(cdata.DataLoader(_Squares(), batch_size=batch_size))
    theirs = list(tdata.DataLoader(_TorchSquares(), batch_size=batch_size))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        _same(a, b)


def test_fast_path_through_subsets_matches_slow_path():
    ds, _ = _tensor_datasets(20)
    subset = cdata.Subset(cdata.Subset(ds, list(range(19, -1, -1))), [0, 5, 2, 7, 3])
    fast = list(cdata.DataLoader(subset, batch_size=2))
    slow = list(cdata.DataLoader(subset, batch_size=2, collate_fn=cdata.default_collate.__call__))
    for a, b in zip(fast, slow):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.numpy(), y.numpy())
            assert x.dtype == y.dtype


def test_dataset_combinators_match_torch():
    ours = cdata.ConcatDataset([range(3), range(10, 15)])
    theirs = tdata.ConcatDataset([range(3), range(10, 15)])
    assert len(ours) == len(theirs) and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]
    sub = cdata.Subset(range(10), [3, 1, 4])
    assert list(sub[i] for i in range(3)) == [3, 1, 4] and len(sub) == 3
    stacked = cdata.StackDataset(a=range(3), b=range(3, 6))
    assert stacked[1] == {"a": 1, "b": 4}
    with pytest.raises(AssertionError, match="Size mismatch"):
        cdata.TensorDataset(chainrule.zeros(2), chainrule.zeros(3))


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [0.33, 0.33, 0.34],
                                     [1, 1, 8]])
def test_random_split_lengths_match_torch_and_partition(lengths):
    ours = cdata.random_split(range(10), lengths, generator=chainrule.Generator().manual_seed(1))
    theirs = tdata.random_split(range(10), lengths, generator=torch.Generator().manual_seed(1))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s) == list(range(10))


def test_random_split_is_reproducible_and_validates():
    def split():
        return [list(s) for s in cdata.random_split(range(20), [5, 15],
                                                    generator=chainrule.Generator().manual_seed(3))]
    assert split() == split()
    with pytest.raises(ValueError, match="Sum of input lengths"):
        cdata.random_split(range(10), [3, 3])


def test_random_sampler_permutation_and_reproducibility():
    order = list(cdata.RandomSampler(range(10), generator=chainrule.Generator().manual_seed(0)))
    again = list(cdata.RandomSampler(range(10), generator=chainrule.Generator().manual_seed(0)))
    assert sorted(order) == list(range(10)) and order == again
    longer = list(cdata.RandomSampler(range(4), num_samples=10))
    assert len(longer) == 10 and sorted(longer[:4]) == [0, 1, 2, 3]
    drawn = list(cdata.RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples"):
        cdata.RandomSampler(range(3), num_samples=0)


def test_other_samplers():
    sub = list(cdata.SubsetRandomSampler([5, 7, 9]))
    assert sorted(sub) == [5, 7, 9]
    weighted = list(cdata.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 200))
    assert set(weighted) <= {1, 3} and weighted.count(3) > weighted.count(1)
    unique = list(cdata.WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False))
    assert sorted(unique) == [0, 1, 2]
    seq = cdata.SequentialSampler(range(5))
    for drop_last in (False, True):
        ours = cdata.BatchSampler(seq, 2, drop_last)
        theirs = tdata.BatchSampler(tdata.SequentialSampler(range(5)), 2, drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(ValueError, match="batch_size"):
        cdata.BatchSampler(seq, 0, False)


def test_shuffled_loader_covers_dataset_and_is_reproducible():
    ds, _ = _tensor_datasets(10)

    def epoch(seed):
        loader = cdata.DataLoader(ds, batch_size=3, shuffle=True,
                                  generator=chainrule.Generator().manual_seed(seed))
        return np.concatenate([y.numpy() for _, y in loader]), [x[:, 0].tolist() for x, _ in loader]

    labels, _ = epoch(0)
    assert sorted(labels.tolist()) == sorted((np.arange(10) % 3).tolist())
    assert epoch(5)[1] == epoch(5)[1]


@pytest.mark.parametrize("kwargs, message", [
    ({"num_workers": -1}, "num_workers"),
    ({"timeout": -1}, "timeout"),
    ({"prefetch_factor": 2}, "prefetch_factor"),
    ({"persistent_workers": True}, "persistent_workers"),
    ({"shuffle": True, "sampler": [0, 1]}, "mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler"),
    ({"batch_size": None, "drop_last": True}, "batch_size=None"),
])
def test_loader_argument_errors_match_torch(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cdata.DataLoader(range(4), **kwargs)
    with pytest.raises(ValueError, match=message):
        tdata.DataLoader(range(4), **kwargs)


class _Stream(cdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = cdata.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


class _TorchStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


@pytest.mark.parametrize("batch_size, drop_last", [(None, False), (3, False), (3, True)])
def test_iterable_dataset_matches_torch(batch_size, drop_last):
    ours = cdata.DataLoader(_Stream(10), batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(_TorchStream(10), batch_size=batch_size, drop_last=drop_last)
    for a, b in zip(list(ours), list(theirs), strict=True):
        _same(a, b)
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        cdata.DataLoader(_Stream(3), shuffle=True)


# ---- worker processes -------------------------------------------------------------------------

def _no_children_left(deadline=5.0):
    end = time.monotonic() + deadline
    while multiprocessing.active_children() and time.monotonic() < end:
        time.sleep(0.05)
    return not multiprocessing.active_children()


def test_workers_give_same_batches_as_main_process():
    ds, _ = _tensor_datasets(23)
    single = list(cdata.DataLoader(ds, batch_size=4))
    multi = list(cdata.DataLoader(ds, batch_size=4, num_workers=2))
    assert len(single) == len(multi)
    for a, b in zip(single, multi):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.numpy(), y.numpy())
    generic = list(cdata.DataLoader(_Squares(), batch_size=2, num_workers=2))
    _same(generic, list(tdata.DataLoader(_TorchSquares(), batch_size=2)))
    assert _no_children_left()


class _WhoLoads(cdata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = cdata.get_worker_info()
        return {"worker": info.id, "seed": info.seed, "draw": float(chainrule.rand(1).item()),
                "np_draw": float(np.random.rand())}


def test_worker_info_seeding_and_init_fn():
    initialised = multiprocessing.get_context("fork").Array("i", 2)

    def init(worker_id):
        initialised[worker_id] = 1

    def run():
        loader = cdata.DataLoader(_WhoLoads(), batch_size=2, num_workers=2,
                                  worker_init_fn=init, generator=chainrule.Generator().manual_seed(7))
        return list(loader)

    batches = run()
    assert [b["worker"].tolist() for b in batches] == [[0, 0], [1, 1]] * 2
    seeds = {int(b["worker"][0]): int(b["seed"][0]) for b in batches}
    assert seeds[1] == seeds[0] + 1
    draws = [b["draw"].tolist() for b in batches]
    assert draws[0] != draws[1]
    again = run()
    assert draws == [b["draw"].tolist() for b in again]
    assert [b["np_draw"].tolist() for b in batches] == [b["np_draw"].tolist() for b in again]
    assert list(initialised) == [1, 1]
    assert cdata.get_worker_info() is None
    assert _no_children_left()


def test_iterable_dataset_sharded_across_workers():
    loader = cdata.DataLoader(_Stream(11), batch_size=2, num_workers=3)
    items = sorted(v for batch in loader for v in batch.tolist())
    assert items == list(range(11))
    assert _no_children_left()


class _Faulty(cdata.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"bad sample {i}")
        return i


def test_worker_exception_reraised_with_type_and_traceback():
    start = time.monotonic()
    loader = cdata.DataLoader(_Faulty(), batch_size=2, num_workers=2)
    with pytest.raises(ValueError, match="bad sample 5") as info:
        list(loader)
    assert time.monotonic() - start < 30
    message = str(info.value)
    assert "DataLoader worker process" in message and "__getitem__" in message
    assert _no_children_left()


class _Killer(cdata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        import os

        os._exit(1)


def test_worker_that_dies_is_reported():
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(cdata.DataLoader(_Killer(), num_workers=1))
    assert _no_children_left()


class _Slow(cdata.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(10)
        return i


def test_worker_timeout_raises():
    with pytest.raises(RuntimeError, match="timed out after 0.3 seconds"):
        list(cdata.DataLoader(_Slow(), num_workers=1, timeout=0.3))
    assert _no_children_left()


def test_persistent_workers_and_early_break():
    ds, _ = _tensor_datasets(12)
    loader = cdata.DataLoader(ds, batch_size=5, num_workers=2, persistent_workers=True)
    first = [y.tolist() for _, y in loader]
    workers = list(loader._iterator._workers)
    for _, _ in loader:
        break
    second = [y.tolist() for _, y in loader]
    assert first == second and loader._iterator._workers == workers
    assert all(w.is_alive() for w in workers)
    loader._iterator._shutdown_workers()
    it = iter(cdata.DataLoader(ds, batch_size=2, num_workers=2))
    next(it)
    del it
    assert _no_children_left()
