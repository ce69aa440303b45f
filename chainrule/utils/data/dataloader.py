"""``DataLoader``: batches from a dataset, in the main process or in worker processes."""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import pickle
import queue
import sys
import time
from collections.abc import Callable

from chainrule._random import Generator, rng_of
from chainrule.utils.data._utils.collate import default_collate, default_convert
from chainrule.utils.data._utils.fetch import IterableDatasetFetcher, MapDatasetFetcher
from chainrule.utils.data._utils.worker import ExceptionWrapper, IterableEnded, worker_loop
from chainrule.utils.data.dataset import Dataset, IterableDataset
from chainrule.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler

# How long the main process waits on the result queue before checking the workers are alive.
_LIVENESS_CHECK_INTERVAL = 0.2
_JOIN_TIMEOUT = 2.0


class DataLoader:
    """Iterate over ``dataset`` in batches, optionally shuffled and loaded by worker processes.

    >>> import chainrule as torch
    >>> from chainrule.utils.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(torch.randn(10, 3)), batch_size=4, drop_last=True)
    >>> len(loader), [b[0].shape for b in loader]
    (2, [torch.Size([4, 3]), torch.Size([4, 3])])
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context=None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if not self._is_iterable:
            if sampler is None:
                sampler = (RandomSampler(dataset, generator=generator) if shuffle
                           else SequentialSampler(dataset))
            if batch_size is not None and batch_sampler is None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._is_iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def _make_fetcher(self):
        if self._is_iterable:
            return functools.partial(IterableDatasetFetcher, self.dataset, self._auto_collation,
                                     self.collate_fn, self.drop_last, self.batch_size)
        return functools.partial(MapDatasetFetcher, self.dataset, self._auto_collation,
                                 self.collate_fn)

    def _context(self):
        if self.multiprocessing_context is not None:
            context = self.multiprocessing_context
            return multiprocessing.get_context(context) if isinstance(context, str) else context
        # 'fork' shares the dataset with the workers without pickling it.
        if "fork" in multiprocessing.get_all_start_methods():
            return multiprocessing.get_context("fork")
        return multiprocessing.get_context()

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        if not self.persistent_workers:
            return _MultiProcessingDataLoaderIter(self)
        if self._iterator is None or self._iterator._shut_down:
            self._iterator = _MultiProcessingDataLoaderIter(self)
        else:
            self._iterator._reset()
        return self._iterator

    def __len__(self) -> int:
        if not self._is_iterable:
            return len(self._index_sampler)
        length = len(self.dataset)
        if self.batch_size is not None:
            whole, rest = divmod(length, self.batch_size)
            length = whole + (1 if rest and not self.drop_last else 0)
        return length


def _base_seed(loader: DataLoader) -> int:
    # Drawn by every iterator, as PyTorch does, so a seeded generator gives the same shuffled
    # order with or without worker processes.
    return int(rng_of(loader.generator).integers(2**62))


class _SingleProcessDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        _base_seed(loader)
        self._fetcher = loader._make_fetcher()()
        self._sampler_iter = None if loader._is_iterable else iter(loader._index_sampler)

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self):
        if self._sampler_iter is None:
            return self._fetcher.fetch(None)
        return self._fetcher.fetch(next(self._sampler_iter))


class _MultiProcessingDataLoaderIter:
    """Workers each have an index queue; results come back on one queue and are reordered."""

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._num_workers = loader.num_workers
        self._shut_down = False
        self._epoch = 0
        context = loader._context()
        base_seed = _base_seed(loader)
        self._result_queue = context.Queue()
        self._index_queues, self._workers = [], []
        try:
            self._start_workers(context, base_seed)
            self._reset()
        except BaseException:
            # An error while setting up (a sampler that raises, a worker that cannot start)
            # must not leave workers behind: their queues would hang the interpreter's exit.
            self._shutdown_workers(graceful=False)
            raise

    def _start_workers(self, context, base_seed: int) -> None:
        loader = self._loader
        make_fetcher = loader._make_fetcher()
        for worker_id in range(self._num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()
            worker = context.Process(
                target=worker_loop, daemon=True,
                args=(loader.dataset, index_queue, self._result_queue,
                      make_fetcher, base_seed, worker_id, self._num_workers,
                      loader.worker_init_fn))
            self._index_queues.append(index_queue)
            self._workers.append(worker)
            worker.start()

    def _reset(self) -> None:
        self._epoch += 1
        loader = self._loader
        self._sampler_iter = (itertools.repeat(None) if loader._is_iterable
                              else iter(loader._index_sampler))
        self._send_idx = self._rcvd_idx = 0
        self._buffer: dict[int, object] = {}
        self._active = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        for _ in range(loader.prefetch_factor * self._num_workers):
            self._put_next_index()

    def _put_next_index(self) -> None:
        if not any(self._active):
            return
        try:
            indices = next(self._sampler_iter)
        except StopIteration:
            return
        worker_id = next(self._worker_cycle)
        while not self._active[worker_id]:
            worker_id = next(self._worker_cycle)
        self._index_queues[worker_id].put((self._epoch, self._send_idx, indices))
        self._send_idx += 1

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self):
        while True:
            if self._shut_down or self._rcvd_idx == self._send_idx:
                self._finish_epoch()
                raise StopIteration
            if self._rcvd_idx not in self._buffer:
                epoch, send_idx, payload = self._get_result()
                if epoch == self._epoch:
                    self._buffer[send_idx] = pickle.loads(payload)
                continue
            data = self._buffer.pop(self._rcvd_idx)
            self._rcvd_idx += 1
            if isinstance(data, IterableEnded):
                self._active[data.worker_id] = False
                self._put_next_index()
                continue
            if isinstance(data, ExceptionWrapper):
                self._shutdown_workers()
                data.reraise()
            self._put_next_index()
            return data

    def _get_result(self):
        timeout = self._loader.timeout
        deadline = time.monotonic() + timeout if timeout > 0 else None
        while True:
            try:
                return self._result_queue.get(timeout=_LIVENESS_CHECK_INTERVAL)
            except queue.Empty:
                pass
            dead = [w.pid for w in self._workers if not w.is_alive()]
            if dead:
                self._shutdown_workers(graceful=False)
                pids = ", ".join(str(pid) for pid in dead)
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly")
            if deadline is not None and time.monotonic() > deadline:
                # The late workers are stuck in the dataset: asking them to stop would only
                # wait out the join timeout, so they are terminated.
                self._shutdown_workers(graceful=False)
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")

    def _finish_epoch(self) -> None:
        if not self._loader.persistent_workers:
            self._shutdown_workers()

    def _shutdown_workers(self, graceful: bool = True) -> None:
        """Stop the workers: ask them to exit (``graceful``), terminating any still alive after
        one shared join timeout, then close the queues."""
        if self._shut_down:
            return
        self._shut_down = True
        # At interpreter exit a queue cannot start the feeder thread that put() needs.
        if graceful and not sys.is_finalizing():
            for index_queue in self._index_queues:
                try:
                    index_queue.put(None)
                except (OSError, ValueError):
                    pass
            deadline = time.monotonic() + _JOIN_TIMEOUT
            for worker in self._workers:
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            if worker.pid is not None and worker.is_alive():
                worker.terminate()
        for worker in self._workers:
            if worker.pid is not None:
                worker.join()
        for q in [*self._index_queues, self._result_queue]:
            q.cancel_join_thread()
            q.close()

    def __del__(self) -> None:
        try:
            self._shutdown_workers()
        except Exception:
            pass
