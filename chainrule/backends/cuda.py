"""``torch.backends.cuda``: the TF32 and reduced-precision switches, kept as settable flags
(there is no GPU; CPU matmuls always run in full float32), and the float32 matmul precision
that ``torch.set_float32_matmul_precision`` sets. As in PyTorch, ``matmul.allow_tf32`` and the
precision are one setting: ``allow_tf32`` is True exactly when the precision is not "highest".

>>> import chainrule as torch
>>> torch.backends.cuda.matmul.allow_tf32
False
"""

from __future__ import annotations

import warnings

__all__ = ["matmul", "is_built", "set_float32_matmul_precision", "get_float32_matmul_precision"]

_PRECISIONS = ("highest", "high", "medium")
_precision = ["highest"]


def is_built() -> bool:
    return False


def get_float32_matmul_precision() -> str:
    """The float32 matmul precision: "highest" (the default), "high" or "medium"."""
    return _precision[0]


def set_float32_matmul_precision(precision: str) -> None:
    """Record ``precision`` ("highest", "high" or "medium"); anything else warns and is ignored,
    as in PyTorch. It changes no result on the CPU."""
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      "setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _precision[0] = precision


class _MatmulFlags:
    """``torch.backends.cuda.matmul``."""

    def __init__(self) -> None:
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self) -> bool:
        return _precision[0] != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        _precision[0] = "high" if value else "highest"


matmul = _MatmulFlags()
