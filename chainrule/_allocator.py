"""Opt-in: let freed memory be reused instead of returned to the operating system.

A training step allocates and frees the same large arrays (activations, im2col
columns, gradients) every iteration. With glibc's defaults, blocks of a few MB
go back to the OS when freed and come back as fresh pages that fault in on
first touch on the next step: a quarter of a LeNet-5 step on a laptop CPU was
spent in page faults. Raising two ``mallopt`` thresholds keeps those blocks in
the process, so the next step reuses them. Peak memory is unchanged: the
blocks were in use at the peak anyway.

The thresholds are process-wide, so ``import chainrule`` leaves them alone: call
``chainrule.backends.cpu.keep_freed_memory()``, or set ``CHAINRULE_MALLOC_TUNING=1``
to have the import do it. Only glibc (Linux) is touched.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["keep_freed_memory", "tune_if_requested"]

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Make glibc serve blocks below ``mmap_threshold`` bytes from the heap and keep up to
    ``trim_threshold`` bytes of freed heap for reuse (process-wide); returns whether the
    allocator was tuned (False where it is not glibc's).

    >>> import chainrule
    >>> chainrule.backends.cpu.keep_freed_memory() in (True, False)
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(M_TRIM_THRESHOLD, trim_threshold))


def tune_if_requested() -> bool:
    """``keep_freed_memory()`` when the environment sets ``CHAINRULE_MALLOC_TUNING=1``."""
    return os.environ.get("CHAINRULE_MALLOC_TUNING") == "1" and keep_freed_memory()
