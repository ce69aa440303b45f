"""``torch.multiprocessing.spawn``: run ``fn(i, *args)`` in ``nprocs`` processes and report the
first failure as an exception in the parent.

>>> from chainrule.multiprocessing import start_processes
>>> start_processes(int, nprocs=2, start_method="fork")  # int(0) and int(1), one per process
>>> start_processes(divmod, args=(0,), start_method="fork")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
ProcessRaisedException: -- Process 0 terminated with the following error: ZeroDivisionError
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import sys
import traceback
import warnings
from collections.abc import Callable

__all__ = ["spawn", "start_processes", "ProcessContext", "ProcessException", "ProcessRaisedException",
           "ProcessExitedException"]


class ProcessException(Exception):
    def __init__(self, msg: str, error_index: int, error_pid: int):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.error_pid = error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """A process failed with an exception; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A process was killed by a signal or exited with a non-zero code."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid, self.exit_code,
                            self.signal_name)


def _run_reporting_errors(fn: Callable, index: int, args: tuple, errors) -> None:
    try:
        fn(index, *args)
    except KeyboardInterrupt:
        pass  # the parent stopped us
    except Exception:
        errors.put(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The started processes; ``join()`` waits and raises for the first one that failed."""

    def __init__(self, processes: list, error_queues: list):
        self.processes = processes
        self.error_queues = error_queues
        self.sentinels = {process.sentinel: index for index, process in enumerate(processes)}

    def pids(self) -> list[int]:
        return [int(process.pid) for process in self.processes]

    def join(self, timeout: float | None = None) -> bool:
        """True once every process has exited cleanly; False if ``timeout`` passed first."""
        if not self.sentinels:
            return True
        for sentinel in multiprocessing.connection.wait(list(self.sentinels), timeout=timeout):
            index = self.sentinels.pop(sentinel)
            self.processes[index].join()
            if self.processes[index].exitcode != 0:
                self._stop_all()
                raise self._failure(index)
        return not self.sentinels

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            process.join()

    def _failure(self, index: int) -> ProcessException:
        process = self.processes[index]
        if not self.error_queues[index].empty():
            message = (f"\n\n-- Process {index:d} terminated with the following error:\n"
                       + self.error_queues[index].get())
            return ProcessRaisedException(message, index, process.pid)
        if process.exitcode < 0:
            name = signal.Signals(-process.exitcode).name
            return ProcessExitedException(f"process {index:d} terminated with signal {name}",
                                          index, process.pid, process.exitcode, name)
        return ProcessExitedException(
            f"process {index:d} terminated with exit code {process.exitcode:d}",
            index, process.pid, process.exitcode)


def spawn(fn: Callable, args: tuple = (), nprocs: int = 1, join: bool = True,
          daemon: bool = False, start_method: str = "spawn") -> ProcessContext | None:
    """``start_processes`` with the "spawn" start method, whatever ``start_method`` says."""
    if start_method != "spawn":
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\n"
                      "To use a different start_method use:\n\t\t"
                      " torch.multiprocessing.start_processes(...)", FutureWarning, stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")


def start_processes(fn: Callable, args: tuple = (), nprocs: int = 1, join: bool = True,
                    daemon: bool = False, start_method: str = "spawn") -> ProcessContext | None:
    """Start ``nprocs`` processes running ``fn(i, *args)``; with ``join``, wait for them all."""
    context = multiprocessing.get_context(start_method)
    error_queues = [context.SimpleQueue() for _ in range(nprocs)]
    processes = []
    for index in range(nprocs):
        process = context.Process(target=_run_reporting_errors,
                                  args=(fn, index, args, error_queues[index]), daemon=daemon)
        process.start()
        processes.append(process)
    process_context = ProcessContext(processes, error_queues)
    if not join:
        return process_context
    while not process_context.join():
        pass
    return None
