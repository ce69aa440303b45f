"""Softmax along rows on the compiled kernels: where cross-entropy's ``log_softmax`` takes the
fast path. NumPy spends a pass per line of the stable formula, and its float32 exp is slow; the
kernel makes one row at a time, with exp_f32 (GELU's).

``log_softmax_rows`` returns the kernel's ``(log_probs, probs)``, ``log_softmax`` the
log-probabilities alone, or ``None`` when the kernels do not apply (switched off, not built for
the dtype, not a C-contiguous matrix); the caller then computes them in NumPy. The two
agree to rounding.

>>> import numpy as np
>>> from chainrule.backends.cpu import softmax
>>> softmax.log_softmax_rows(np.zeros((2, 3), np.float32).T) is None  # not C-contiguous
True
"""

from __future__ import annotations

import numpy as np

from chainrule.backends import native

__all__ = ["log_softmax", "log_softmax_rows"]


def _kernels_for_rows(rows: np.ndarray):
    if rows.ndim != 2 or rows.shape[1] == 0 or not rows.flags.c_contiguous:
        return None
    return native.kernels(rows.dtype)


def log_softmax_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(log_softmax(rows), softmax(rows))`` along the last axis of the matrix ``rows``, or
    ``None``. At any size: NumPy's six passes cost more than the call even on one row of 18."""
    kernels = _kernels_for_rows(rows)
    if kernels is None:
        return None
    log_probs, probs = np.empty_like(rows), np.empty_like(rows)
    kernels.log_softmax_rows(rows, log_probs, probs, *rows.shape)
    return log_probs, probs


def log_softmax(rows: np.ndarray) -> np.ndarray | None:
    """``log_softmax(rows)`` alone along the last axis of the matrix ``rows``, or ``None``."""
    kernels = _kernels_for_rows(rows)
    if kernels is None:
        return None
    log_probs = np.empty_like(rows)
    kernels.log_softmax_rows(rows, log_probs, None, *rows.shape)
    return log_probs
