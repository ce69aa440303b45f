"""The worker process loop, worker info and exception transport."""

from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any

_worker_info: WorkerInfo | None = None

# How often a waiting worker checks that its parent is still alive.
_PARENT_CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself (see ``get_worker_info``)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process, its ``WorkerInfo``; in the main process, ``None``."""
    return _worker_info


class _KeyErrorMessage(str):
    # KeyError's str() is the repr of its argument, which would print the traceback's
    # newlines as \n.
    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception and its traceback text, picklable across processes."""

    def __init__(self, exc_info=None, where: str = "in background") -> None:
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where
        try:
            pickle.dumps(self.exc_type)
        except Exception:  # e.g. a class defined inside a function: re-raised as RuntimeError
            self.exc_type = RuntimeError

    def reraise(self):
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            message = _KeyErrorMessage(message)
        try:
            exception = self.exc_type(message)
        except Exception:
            raise RuntimeError(message) from None
        raise exception


@dataclass(frozen=True)
class IterableEnded:
    """Sent by a worker whose copy of an iterable dataset is exhausted."""

    worker_id: int


def seed_worker(seed: int) -> None:
    """Seed Python's, NumPy's and chainrule's generators (chainrule.manual_seed does both)."""
    import chainrule

    random.seed(seed)
    chainrule.manual_seed(seed)


def _serialise(data, worker_id: int) -> bytes:
    """Pickle a result in the worker itself: the queue's feeder thread would only print a
    pickling error, and the main process would wait for the lost batch for ever."""
    try:
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        return pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)


def worker_loop(dataset, index_queue, result_queue, make_fetcher,
                base_seed: int, worker_id: int, num_workers: int, worker_init_fn) -> None:
    """Serve ``(epoch, send_idx, indices)`` tasks until a ``None`` task arrives."""
    global _worker_info
    parent = os.getppid()
    seed = base_seed + worker_id
    seed_worker(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception:
        init_error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")

    fetcher, fetcher_epoch, ended = None, None, False
    while True:
        try:
            task = index_queue.get(timeout=_PARENT_CHECK_INTERVAL)
        except queue.Empty:
            if os.getppid() != parent:
                break
            continue
        if task is None:
            break
        epoch, send_idx, indices = task
        if epoch != fetcher_epoch:
            fetcher, fetcher_epoch, ended = None, epoch, False
        if init_error is not None:
            result_queue.put((epoch, send_idx, _serialise(init_error, worker_id)))
            continue
        if ended:
            result_queue.put((epoch, send_idx, _serialise(IterableEnded(worker_id), worker_id)))
            continue
        try:
            if fetcher is None:
                fetcher = make_fetcher()
            data = fetcher.fetch(indices)
        except StopIteration:
            ended = True
            data = IterableEnded(worker_id)
        except Exception:
            data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        result_queue.put((epoch, send_idx, _serialise(data, worker_id)))
    # The main process may not drain everything on shutdown: do not block exiting on it.
    result_queue.cancel_join_thread()
    result_queue.close()


__all__ = ["WorkerInfo", "get_worker_info"]
