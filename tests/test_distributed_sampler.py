"""DistributedSampler: the same indices as torch's, rank by rank, epoch by epoch."""

from __future__ import annotations

import pytest
from conftest import require_torch

from chainrule.utils.data import DistributedSampler
from chainrule.utils.data.distributed import torch_randperm


@pytest.mark.parametrize("n, seed", [(1, 0), (2, 3), (10, 5), (100, 7), (1000, 123456789),
                                     (37, 2**32 + 5)])
def test_randperm_is_torchs(n, seed):
    torch = require_torch()
    generator = torch.Generator()
    generator.manual_seed(seed)
    assert torch_randperm(n, seed) == torch.randperm(n, generator=generator).tolist()


@pytest.mark.parametrize("size", [0, 1, 7, 10, 13])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_indices_equal_torchs(size, replicas, shuffle, drop_last):
    require_torch()
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    dataset = list(range(size))
    for rank in range(replicas):
        ours = DistributedSampler(dataset, replicas, rank, shuffle=shuffle, seed=11,
                                  drop_last=drop_last)
        theirs = TorchSampler(dataset, replicas, rank, shuffle=shuffle, seed=11,
                              drop_last=drop_last)
        for epoch in (0, 3):
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            if size == 0 and not drop_last:
                continue  # torch divides by zero padding an empty dataset
            assert list(ours) == list(theirs), (rank, epoch)
        assert len(ours) == len(theirs)
        assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)


def test_epochs_reshuffle():
    sampler = DistributedSampler(range(20), num_replicas=2, rank=0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(set(first)) == sorted(first)


@pytest.mark.parametrize("rank", [-1, 2])
def test_invalid_rank(rank):
    with pytest.raises(ValueError, match=r"Invalid rank .*, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=rank)


def test_defaults_come_from_the_process_group():
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    import chainrule.distributed as dist

    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))
    dist.init_process_group("gloo")
    try:
        sampler = DistributedSampler(range(4), shuffle=False)
        assert (sampler.num_replicas, sampler.rank, list(sampler)) == (1, 0, [0, 1, 2, 3])
    finally:
        dist.destroy_process_group()


def test_importable_by_torch_paths():
    import chainrule.utils.data as data
    import chainrule.utils.data.distributed as module

    assert data.DistributedSampler is module.DistributedSampler
