"""``Work``: the handle of a collective started with ``async_op=True``.

MPI's non-blocking operations (``Iallreduce``, ``Ibcast``, ...) run the collective; ``wait()``
polls them against the process group's timeout, so a rank that never arrives surfaces as a
``DistBackendError`` rather than a hang, and then runs the step that completes the result
(AVG's division, copying a non-contiguous tensor back).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta

from chainrule.distributed.errors import DistBackendError

__all__ = ["Work"]

# A peer that is running arrives within microseconds: spin that long (as MPI's own blocking
# calls do) before yielding the core, which costs a scheduler round trip (~20 us measured).
SPIN_SECONDS = 200e-6


def wait_all(MPI, requests: list, timeout: float, what: str, statuses: list | None = None) -> None:
    """Complete ``requests`` or raise ``DistBackendError`` after ``timeout`` seconds."""
    if MPI.Request.Testall(requests, statuses):
        return
    start = time.monotonic()
    while not MPI.Request.Testall(requests, statuses):
        waited = time.monotonic() - start
        if waited > timeout:
            raise DistBackendError(
                f"Timed out waiting {int(timeout * 1000)}ms for {what} to complete")
        if waited > SPIN_SECONDS:
            os.sched_yield()  # ranks may outnumber cores: let the peer we wait for run


class Work:
    """A started collective: ``wait()`` blocks until it is done, ``is_completed()`` asks."""

    def __init__(self, MPI, requests: list, timeout: float, what: str,
                 finish: Callable[[], None] | None = None, result: list | None = None,
                 statuses: list | None = None) -> None:
        self._mpi = MPI
        self._requests = requests
        self._timeout = timeout
        self._what = what
        self._finish = finish
        self._result = result or []
        self._statuses = statuses
        self._done = False

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until the collective completed (at most ``timeout``, default the group's)."""
        if not self._done:
            seconds = self._timeout if timeout is None else timeout.total_seconds()
            wait_all(self._mpi, self._requests, seconds, self._what, self._statuses)
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and self._mpi.Request.Testall(self._requests, self._statuses):
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def result(self) -> list:
        """The output tensors of the collective."""
        self.wait()
        return self._result

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()
