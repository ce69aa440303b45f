"""``fit`` on several ranks: which ranks train, how the data is shared, how numbers agree.

Training is distributed when a process group of more than one rank is initialised (or when
``fit(distributed=True)`` asks for it). Then each rank trains a ``DistributedDataParallel``
replica on its ``DistributedSampler`` share of every batch, the losses and metrics are summed
over the ranks so that every rank logs the same numbers (and so decides the same: early
stopping, divergence), and only rank 0 writes files or prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["Ranks", "ranks_for"]


class Ranks:
    """The ranks ``fit`` trains on: ``rank`` of ``world_size`` (a world of one when not
    distributed, where every method is the identity).

    >>> ranks = Ranks()
    >>> ranks.rank, ranks.world_size, ranks.is_writer, ranks.sum([1.0, 2.0])
    (0, 1, True, [1.0, 2.0])
    """

    def __init__(self, rank: int = 0, world_size: int = 1) -> None:
        self.rank, self.world_size = rank, world_size

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_writer(self) -> bool:
        """Only rank 0 prints and writes files."""
        return self.rank == 0

    def sum(self, values: Sequence[float]) -> list[float]:
        """``values`` summed element-wise over the ranks (one all-reduce), the same on every rank."""
        if not self.distributed:
            return list(values)
        import chainrule
        from chainrule import distributed as dist

        totals = chainrule.tensor(np.asarray(values, dtype=np.float64))
        dist.all_reduce(totals)
        return [float(value) for value in totals.numpy()]

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the ranks: a batch's loss on the whole global batch."""
        return self.sum([value])[0] / self.world_size

    def barrier(self) -> None:
        """Wait for every rank (so that rank 0's last checkpoint is on disk before any returns)."""
        if self.distributed:
            from chainrule import distributed as dist

            dist.barrier()

    def wrap(self, model):
        """``model`` in ``DistributedDataParallel`` (a DDP model is used as it is)."""
        from chainrule.nn.parallel import DistributedDataParallel

        if not self.distributed or isinstance(model, DistributedDataParallel):
            return model
        return DistributedDataParallel(model)

    def share_training(self, loader: Iterable, seed: int) -> Iterable:
        """A ``DataLoader`` like ``loader`` whose sampler is this rank's ``DistributedSampler``
        (shuffled from ``seed`` when ``loader`` shuffles), with the same batch size per rank.
        Loaders that already have one, and iterables that are not DataLoaders, are kept."""
        from chainrule.utils.data import DistributedSampler, RandomSampler

        if not self._reshardable(loader) or isinstance(loader.sampler, DistributedSampler):
            return loader
        sampler = DistributedSampler(loader.dataset, self.world_size, self.rank,
                                     shuffle=isinstance(loader.sampler, RandomSampler), seed=seed,
                                     drop_last=loader.drop_last)
        return self._like(loader, loader.dataset, sampler)

    def share_validation(self, loader: Iterable | None) -> Iterable | None:
        """This rank's share of a validation ``DataLoader``: every ``world_size``-th sample from
        ``rank`` on, without the padding a ``DistributedSampler`` adds (each sample counts once)."""
        from chainrule.utils.data import Subset

        if loader is None or not self._reshardable(loader):
            return loader
        share = Subset(loader.dataset, range(self.rank, len(loader.dataset), self.world_size))
        return self._like(loader, share, None)

    def _reshardable(self, loader) -> bool:
        from chainrule.utils.data import BatchSampler, DataLoader

        return (self.distributed and isinstance(loader, DataLoader) and not loader._is_iterable
                and type(loader.batch_sampler) is BatchSampler)

    @staticmethod
    def _like(loader, dataset, sampler):
        from chainrule.utils.data import DataLoader

        return DataLoader(dataset, batch_size=loader.batch_size, sampler=sampler,
                          num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                          drop_last=loader.drop_last)


def ranks_for(distributed: bool | None) -> Ranks:
    """The ranks to train on: ``None`` means all ranks of the initialised default process group
    when it has more than one, ``True`` requires an initialised group, ``False`` trains alone."""
    from chainrule import distributed as dist

    initialised = dist.is_available() and dist.is_initialized()
    if distributed and not initialised:
        raise RuntimeError("fit(distributed=True) needs an initialised process group: call "
                           "torch.distributed.init_process_group() first")
    if distributed is False or not initialised:
        return Ranks()
    return Ranks(dist.get_rank(), dist.get_world_size())
