"""NumPy's floating-point warnings, silenced while chainrule's ops run.

PyTorch computes ``log(0)``, ``0 / 0`` and overflow silently (``-inf``, ``nan``, ``inf``);
NumPy warns for each. chainrule silences them only while an op runs, so the user's own
``np.seterr`` settings are never changed. ``np.errstate`` does this too, but costs about a
microsecond, a third of a small op's framework cost; the same switch through the context
variable behind it (NumPy 2) costs a third of that.

>>> import numpy as np
>>> before = np.geterr()
>>> token = ignore_float_errors()
>>> np.geterr()["divide"]
'ignore'
>>> restore_float_errors(token)
>>> np.geterr() == before
True
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["ignore_float_errors", "restore_float_errors"]

try:  # NumPy >= 2: the context variable np.errstate sets
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    # Bound C methods, not Python functions: no frame of their own on every op.
    ignore_float_errors = functools.partial(_extobj_contextvar.set, _make_extobj(all="ignore"))
    restore_float_errors = _extobj_contextvar.reset

except ImportError:  # NumPy 1.x: the public, slower switch

    def ignore_float_errors():
        """Turn NumPy's floating-point warnings off; returns the token that turns them back."""
        return np.seterr(all="ignore")

    def restore_float_errors(token) -> None:
        """Restore the settings ``ignore_float_errors`` replaced."""
        np.seterr(**token)
