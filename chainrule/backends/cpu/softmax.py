"""Softmax along rows on the compiled kernels: where cross-entropy's ``log_softmax`` takes the
fast path. NumPy spends a pass per line of the stable formula, and its float32 exp is slow; the
kernel makes one row at a time, with exp_f32 (GELU's).

``log_softmax_rows`` returns the kernel's ``(log_probs, probs)``, ``log_softmax`` the
log-probabilities alone, or ``None`` when the kernels do not apply (switched off, not built for
the dtype, too small, not a C-contiguous matrix); the caller then computes them in NumPy. The two
agree to rounding.

>>> import numpy as np
>>> from chainrule.backends.cpu import softmax
>>> softmax.log_softmax_rows(np.zeros((2, 2), np.float32)) is None  # too small for a call
True
"""

from __future__ import annotations

import numpy as np

from chainrule.backends import native

__all__ = ["log_softmax", "log_softmax_rows"]


def _kernels_for_rows(rows: np.ndarray, min_size: int):
    if (rows.size < min_size or rows.ndim != 2 or rows.shape[1] == 0
            or not rows.flags.c_contiguous):
        return None
    return native.kernels(rows.dtype)


def log_softmax_rows(rows: np.ndarray, min_size: int = native.MIN_SIZE
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """``(log_softmax(rows), softmax(rows))`` along the last axis of the matrix ``rows``, or
    ``None``."""
    kernels = _kernels_for_rows(rows, min_size)
    if kernels is None:
        return None
    log_probs, probs = np.empty_like(rows), np.empty_like(rows)
    kernels.log_softmax_rows(rows, log_probs, probs, *rows.shape)
    return log_probs, probs


def log_softmax(rows: np.ndarray) -> np.ndarray | None:
    """``log_softmax(rows)`` along the last axis of the matrix ``rows``, at any size (NumPy's
    six passes cost more than the call even on one row of 18), or ``None``."""
    kernels = _kernels_for_rows(rows, 0)
    if kernels is None:
        return None
    log_probs = np.empty_like(rows)
    kernels.log_softmax_rows(rows, log_probs, None, *rows.shape)
    return log_probs
