"""Embedding's gradient on the compiled kernels: the rows of the output gradient added into
the rows of the table they were looked up from, one row after another in one pass (NumPy needs
a sort and a segmented sum for it).

``add_rows_at`` returns the kernel's result, or ``None`` when the kernels do not apply (switched
off, not built for the dtype, non-contiguous rows); ``F.embedding`` then sums in NumPy. The two
agree to rounding.

>>> import numpy as np
>>> from chainrule.backends.cpu import embedding
>>> rows = np.ones((3, 2), np.float32)
>>> summed = embedding.add_rows_at(rows, np.array([2, 0, 2]), (4, 2))
>>> summed is None or summed.tolist() == [[1, 1], [0, 0], [2, 2], [0, 0]]
True
"""

from __future__ import annotations

import numpy as np

from chainrule.backends import native

__all__ = ["add_rows_at"]


def add_rows_at(rows: np.ndarray, indices: np.ndarray, shape: tuple) -> np.ndarray | None:
    """``out[i] = sum of rows[k] where indices[k] == i``, zeros elsewhere, for ``rows`` of
    shape ``(len(indices), shape[1])`` and indices already checked to lie in ``[0, shape[0])``;
    or ``None``."""
    kernels = native.kernels(rows.dtype)
    if kernels is None or not rows.flags.c_contiguous:
        return None
    out = np.zeros(shape, rows.dtype)
    kernels.add_rows_at(rows, np.ascontiguousarray(indices, np.int64), out, indices.size, shape[1])
    return out
