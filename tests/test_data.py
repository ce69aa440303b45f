"""chainrule.utils.data against torch.utils.data: datasets, samplers, collation, DataLoader."""

from __future__ import annotations

import collections
import contextlib
import itertools
import multiprocessing
import re
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
    # A batch is typed by its first element, then torch.tensor infers from all of them.
    "int_then_float": [1, 2.7, 3],
    "float_then_int": [2.7, 1, 3],
    "bool_then_int": [True, 2],
    "int_then_bool": [1, True],
    "bool_then_float": [True, 2.5],
    "float_then_bool": [1.5, True],
    "big_ints": [1, 2**40],
    "numpy_int32_scalars": [np.int32(1), np.int32(2)],
    "numpy_uint8_scalars": [np.uint8(1), np.uint8(200)],
    "numpy_float16_scalars": [np.float16(1), np.float16(2)],
    "numpy_float32_and_float64": [np.float32(1), np.float64(2)],
    "numpy_int64_and_float32": [np.int64(1), np.float32(2.5)],
    "numpy_int8_and_uint8": [np.int8(1), np.uint8(2)],
    "numpy_float32_then_python_float": [np.float32(1), 2.5],
    "numpy_float64_then_python_int": [np.float64(1.5), 2],
    "numpy_int64_then_python_float": [np.int64(1), 2.5],
    "numpy_strings": [np.str_("a"), np.str_("b")],
    "mixed_tuples": [(1, 2.5), (2.5, 1)],
    "mixed_dicts": [{"a": 1, "b": (True,)}, {"a": 2.5, "b": (3,)}],
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


def test_random_sampler_with_replacement_draws_lazily_in_chunks_of_32():
    huge = cdata.RandomSampler(range(10), replacement=True, num_samples=int(1e10))
    assert len(huge) == 10**10
    first = list(itertools.islice(huge, 100))
    assert len(first) == 100 and set(first) <= set(range(10))

    generator = chainrule.Generator().manual_seed(3)
    untouched = generator.get_state()
    indices = iter(cdata.RandomSampler(range(7), True, 100, generator=generator))
    assert chainrule.equal(generator.get_state(), untouched)  # nothing drawn before next()
    next(indices)
    one_chunk = chainrule.Generator().manual_seed(3)
    chainrule.randint(0, 7, (32,), generator=one_chunk)
    assert chainrule.equal(generator.get_state(), one_chunk.get_state())
    # The same indices as one randint draw of them all: the sequence a seed gives is unchanged.
    drawn = list(cdata.RandomSampler(range(7), True, 100,
                                     generator=chainrule.Generator().manual_seed(3)))
    assert drawn == chainrule.randint(0, 7, (100,),
                                      generator=chainrule.Generator().manual_seed(3)).tolist()


@pytest.mark.parametrize("replacement", [True, False])
def test_random_sampler_without_generator_draws_lazily_from_the_default_one(replacement):
    untouched = chainrule.manual_seed(0).get_state()
    indices = iter(cdata.RandomSampler(range(5), replacement, 12))
    assert chainrule.equal(chainrule.get_rng_state(), untouched)
    drawn = list(indices)
    chainrule.manual_seed(0)
    if replacement:
        expected = chainrule.randint(0, 5, (12,)).tolist()
    else:  # whole permutations, then the start of one more, as torch draws them
        expected = [i for _ in range(3) for i in chainrule.randperm(5).tolist()][:12]
    assert drawn == expected


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


def test_worker_timeout_is_honoured_with_several_workers():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 1 seconds"):
        list(cdata.DataLoader(_Slow(), num_workers=2, timeout=1))
    assert time.monotonic() - start < 3.0  # not the timeout plus a 2 s join timeout per worker
    assert _no_children_left()


class _BrokenSampler(cdata.Sampler):
    def __iter__(self):
        raise ValueError("sampler broke")

    def __len__(self):
        return 4


def test_setup_error_propagates_and_workers_are_cleaned_up():
    loader = cdata.DataLoader(list(range(8)), sampler=_BrokenSampler(), num_workers=2)
    with pytest.raises(ValueError, match="sampler broke") as info:
        iter(loader)
    assert _no_children_left(), "workers outlive the error"
    del info  # its traceback holds the half-built iterator: cleanup must not wait for it


SETUP_ERROR_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from chainrule.utils.data import DataLoader, Sampler

class Broken(Sampler):
    def __iter__(self):
        raise ValueError("sampler broke")

    def __len__(self):
        return 4

for batch in DataLoader(list(range(8)), sampler=Broken(), num_workers=2):
    pass
"""


def test_uncaught_setup_error_lets_the_process_exit(tmp_path):
    import os
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = tmp_path / "setup_error.py"
    script.write_text(SETUP_ERROR_SCRIPT.format(repo=repo))
    try:
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung after a DataLoader setup error")
    assert result.returncode == 1 and "ValueError: sampler broke" in result.stderr


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


# ---- more of torch.utils.data's contract ------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda d: d.RandomSampler(range(3), replacement="x"),
    lambda d: d.RandomSampler(range(3), num_samples=0),
    lambda d: d.WeightedRandomSampler([1.0, 2.0], 0),
    lambda d: d.WeightedRandomSampler([1.0, 2.0], 2, replacement=1),
    lambda d: d.WeightedRandomSampler([[1.0, 2.0]], 2),
    lambda d: d.BatchSampler(range(3), 2, "no"),
    lambda d: d.BatchSampler(range(3), True, False),
    lambda d: d.random_split(range(10), [1.2, -0.2]),
    lambda d: d.ConcatDataset([]),
    lambda d: d.ConcatDataset([range(3)])[-4],
])
def test_argument_errors_match_torch(make):
    with pytest.raises(Exception) as theirs:
        make(tdata)
    with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value))):
        make(cdata)


@pytest.mark.parametrize("n, lengths, empty_fraction", [
    (7, [0.5, 0.5], False), (3, [0.1, 0.9], False), (11, [0.2] * 5, False), (5, [0.0, 1.0], True),
    (9, [4, 0, 5], False)])
def test_random_split_sizes_match_torch(n, lengths, empty_fraction):
    with pytest.warns(UserWarning, match="index 0 is 0") if empty_fraction else \
            contextlib.nullcontext():
        ours = cdata.random_split(range(n), lengths, generator=chainrule.Generator().manual_seed(0))
        theirs = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert all(type(s) is cdata.Subset for s in ours)
    assert sorted(i for s in ours for i in s) == list(range(n))


def test_samplers_lengths_and_orders_match_torch():
    for ours, theirs in [
        (cdata.SequentialSampler(range(6)), tdata.SequentialSampler(range(6))),
        (cdata.RandomSampler(range(6), num_samples=14), tdata.RandomSampler(range(6), num_samples=14)),
        (cdata.SubsetRandomSampler([4, 2, 9]), tdata.SubsetRandomSampler([4, 2, 9])),
        (cdata.WeightedRandomSampler([1.0, 0.0, 2.0], 7), tdata.WeightedRandomSampler([1.0, 0.0, 2.0], 7)),
    ]:
        assert len(ours) == len(theirs) == len(list(ours))
    assert list(cdata.SequentialSampler(range(6))) == list(tdata.SequentialSampler(range(6)))
    # Past one permutation, RandomSampler without replacement starts a new one (as torch does).
    drawn = list(cdata.RandomSampler(range(6), num_samples=14))
    assert sorted(drawn[:6]) == sorted(drawn[6:12]) == list(range(6)) and len(set(drawn[12:])) == 2
    weights = chainrule.tensor([1.0, 0.0, 2.0])
    assert cdata.WeightedRandomSampler(weights, 3).weights.dtype == chainrule.float64
    for sampler in (cdata.RandomSampler(range(8), generator=chainrule.Generator().manual_seed(4)),
                    cdata.SubsetRandomSampler(range(8), generator=chainrule.Generator().manual_seed(4)),
                    cdata.WeightedRandomSampler([1.0] * 8, 8, False,
                                                generator=chainrule.Generator().manual_seed(4))):
        first = list(sampler)
        assert sorted(first) == list(range(8)) and first != list(sampler)  # the generator moves on


def test_loader_with_explicit_sampler_batch_sampler_and_collate_fn_matches_torch():
    ours_ds, theirs_ds = _tensor_datasets(10)
    order = [7, 2, 9, 0, 4]
    groups = [[1, 3], [8], [0, 2, 5]]

    def first_column(batch):
        return [int(sample[1]) for sample in batch]

    cases = [dict(sampler=order, batch_size=2), dict(sampler=order, batch_size=2, drop_last=True),
             dict(batch_sampler=groups), dict(batch_sampler=groups, collate_fn=first_column),
             dict(sampler=order, batch_size=None), dict(batch_size=4, collate_fn=first_column)]
    for kwargs in cases:
        ours = list(cdata.DataLoader(ours_ds, **kwargs))
        theirs = list(tdata.DataLoader(theirs_ds, **kwargs))
        assert len(ours) == len(theirs) == len(cdata.DataLoader(ours_ds, **kwargs)), kwargs
        for a, b in zip(ours, theirs):
            _same(a, b)
    sampler = cdata.SubsetRandomSampler([1, 5, 6], generator=chainrule.Generator().manual_seed(2))
    seen = [y.item() for _, y in cdata.DataLoader(ours_ds, sampler=sampler)]
    assert sorted(seen) == sorted((np.array([1, 5, 6]) % 3).tolist())


def _collate_samples(lib, np_module=np):
    t = lib.tensor
    return {
        "tensor_lists": [[t([1.0, 2.0]), t(3)], [t([4.0, 5.0]), t(6)]],
        "nested_dicts": [{"x": {"y": t([1, 2]), "z": 1.5}, "s": "a"},
                         {"x": {"y": t([3, 4]), "z": 2.5}, "s": "b"}],
        "namedtuple_of_arrays": [Point(np.ones(3), np.int64(1)), Point(np.zeros(3), np.int64(2))],
        "float64_arrays": [np.arange(4.0), np.arange(4.0) * 2],
        "bool_arrays": [np.array([True, False]), np.array([False, False])],
        "numpy_ints": [np.int64(3), np.int64(-1)],
        "numpy_bools": [np.bool_(True), np.bool_(False)],
        "bytes": [b"ab", b"cd"],
        "tuple_of_tensor_and_label": [(t([[1.0]]), 0), (t([[2.0]]), 1)],
    }


@pytest.mark.parametrize("name", list(_collate_samples(torch)))
def test_default_collate_nested_structures_match_torch(name):
    ours = cdata.default_collate(_collate_samples(chainrule)[name])
    theirs = tdata.default_collate(_collate_samples(torch)[name])
    _same(ours, theirs)


def test_shuffled_order_is_the_same_with_or_without_workers():
    ds, _ = _tensor_datasets(20)

    def labels_and_rows(num_workers, generator):
        loader = cdata.DataLoader(ds, batch_size=3, shuffle=True, num_workers=num_workers,
                                  generator=generator)
        return [x[:, 0].tolist() for x, _ in loader]

    seeded = [labels_and_rows(w, chainrule.Generator().manual_seed(11)) for w in (0, 2)]
    assert seeded[0] == seeded[1]
    chainrule.manual_seed(5)
    main_rng = labels_and_rows(0, None)
    chainrule.manual_seed(5)
    assert labels_and_rows(2, None) == main_rng
    assert _no_children_left()


# ---- worker processes: real processes, failures, cleanup --------------------------------------

class _Pids(cdata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        import os

        return os.getpid()


def _gone(pids, deadline=10.0):
    """True once none of ``pids`` is a live process (a zombie counts as gone)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        alive = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                continue
            if state not in ("Z", "X"):
                alive.append(pid)
        if not alive:
            return True
        time.sleep(0.05)
    return False


def test_workers_are_separate_processes_and_are_joined():
    import os

    loader = cdata.DataLoader(_Pids(), batch_size=2, num_workers=2)
    iterator = iter(loader)
    worker_pids = {w.pid for w in iterator._workers}
    pids = {pid for batch in iterator for pid in batch.tolist()}
    assert pids == worker_pids and os.getpid() not in pids and len(pids) == 2
    assert _gone(worker_pids, deadline=0.5)


class _SignalTimeout:
    """Turn a hang into a test failure after ``seconds``."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        import signal

        def fail(signum, frame):
            raise TimeoutError(f"DataLoader hung for {self.seconds} s")

        self.previous = signal.signal(signal.SIGALRM, fail)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        import signal

        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


class _LocalErrorDataset(cdata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        class Unpicklable(Exception):  # a class pickle cannot find by name
            pass

        raise Unpicklable(f"local failure {i}")


class _UnpicklableSample(cdata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return lambda: i


class _MissingKey(cdata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {}["label"]


class _FaultyStream(cdata.IterableDataset):
    def __iter__(self):
        yield 1
        raise OSError("stream broke")


def _failing_init(worker_id):
    if worker_id == 1:
        raise ZeroDivisionError("init failed in worker 1")


@pytest.mark.parametrize("make, error, message", [
    (lambda: cdata.DataLoader(_Faulty(), batch_size=2, num_workers=2), ValueError, "bad sample 5"),
    (lambda: cdata.DataLoader(_Faulty(), batch_size=2, num_workers=2, persistent_workers=True),
     ValueError, "bad sample 5"),
    (lambda: cdata.DataLoader(_LocalErrorDataset(), num_workers=1), RuntimeError,
     "Unpicklable: local failure 0"),
    (lambda: cdata.DataLoader(_UnpicklableSample(), num_workers=2, collate_fn=lambda b: b),
     Exception, "pickle"),
    (lambda: cdata.DataLoader(_MissingKey(), num_workers=1), KeyError, "'label'"),
    (lambda: cdata.DataLoader(_FaultyStream(), num_workers=1), OSError, "stream broke"),
    (lambda: cdata.DataLoader(_Faulty(), batch_size=2, num_workers=2, worker_init_fn=_failing_init),
     ZeroDivisionError, "init failed in worker 1"),
], ids=["getitem", "persistent", "local-exception-class", "unpicklable-sample", "keyerror",
        "iterable", "worker_init_fn"])
def test_worker_errors_surface_in_main_process_without_hang_or_orphans(make, error, message):
    loader = make()
    iterator = iter(loader)
    pids = [w.pid for w in iterator._workers]
    with _SignalTimeout(30), pytest.raises(error, match=message) as info:
        list(iterator)
    text = str(info.value)
    assert "DataLoader worker process" in text and "Traceback (most recent call last)" in text
    assert "\\n" not in text  # readable, even for KeyError
    assert _gone(pids)


ORPHAN_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from chainrule.utils.data import DataLoader
loader = DataLoader(list(range(100)), batch_size=2, num_workers=2, persistent_workers=True)
iterator = iter(loader)
next(iterator)
print(" ".join(str(w.pid) for w in iterator._workers), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    import os
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT.format(repo=repo))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == -9, result.stderr
    pids = [int(p) for p in result.stdout.split()]
    assert len(pids) == 2 and _gone(pids)


@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_workers_with_other_start_methods(context):
    if context not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {context} start method here")
    ds, _ = _tensor_datasets(9)
    loader = cdata.DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context=context)
    for a, b in zip(list(loader), list(cdata.DataLoader(ds, batch_size=4)), strict=True):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert _no_children_left()
