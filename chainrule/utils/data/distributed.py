"""``DistributedSampler``: each rank reads its own share of a dataset, with torch's exact indices.

>>> from chainrule.utils.data import DistributedSampler
>>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
[[0, 2, 4], [1, 3, 0]]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np

from chainrule.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


def torch_randperm(n: int, seed: int) -> list[int]:
    """The permutation ``torch.randperm(n, generator=torch.Generator().manual_seed(seed))``
    returns on the CPU: torch's Fisher-Yates shuffle driven by its MT19937, whose 32-bit outputs
    NumPy's legacy ``RandomState`` (same seeding) reproduces. Every rank must derive the same
    permutation, and torch's sampler defines which one."""
    indices = list(range(n))
    if n < 2:
        return indices
    draws = np.random.RandomState(seed & 0xFFFFFFFF).randint(0, 2**32, size=n - 1, dtype=np.uint32)
    offsets = draws.astype(np.int64) % np.arange(n, 1, -1, dtype=np.int64)
    for i, offset in enumerate(offsets.tolist()):
        j = i + offset
        indices[i], indices[j] = indices[j], indices[i]
    return indices


class DistributedSampler(Sampler):
    """Yields rank ``rank``'s ``len(dataset) / num_replicas`` indices (rounded up, padding with
    indices from the start; or down with ``drop_last``), reshuffled per ``set_epoch`` from
    ``seed + epoch`` when ``shuffle``. ``num_replicas`` and ``rank`` default to the process
    group's."""

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from chainrule import distributed as dist

            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if drop_last and len(dataset) % num_replicas != 0:
            self.num_samples = math.ceil((len(dataset) - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(len(dataset) / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        size = len(self.dataset)
        indices = torch_randperm(size, self.seed + self.epoch) if self.shuffle else list(range(size))
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            padding = self.total_size - size
            indices += (indices * math.ceil(padding / size))[:padding] if size else []
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch``: every rank must call it with the same number, each epoch."""
        self.epoch = epoch
