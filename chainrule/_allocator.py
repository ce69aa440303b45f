"""Let freed memory be reused instead of returned to the operating system.

A training step allocates and frees the same large arrays (activations, im2col
columns, gradients) every iteration. With glibc's defaults, blocks of a few MB
go back to the OS when freed and come back as fresh pages that fault in on
first touch on the next step: a quarter of a LeNet-5 step on a laptop CPU was
spent in page faults. Raising two ``mallopt`` thresholds keeps those blocks in
the process, so the next step reuses them. Peak memory is unchanged: the
blocks were in use at the peak anyway.

Only glibc (Linux) is touched; set ``CHAINRULE_MALLOC_TUNING=0`` to opt out.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Serve blocks below ``mmap_threshold`` from the heap and keep up to ``trim_threshold``
    bytes of freed heap; returns whether the allocator was tuned."""
    if os.environ.get("CHAINRULE_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(M_TRIM_THRESHOLD, trim_threshold))
