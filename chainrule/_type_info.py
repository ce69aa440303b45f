"""``finfo`` and ``iinfo``: the numeric limits of chainrule's dtypes, printed as PyTorch does.

>>> import chainrule as torch
>>> torch.finfo(torch.float32).eps
1.1920928955078125e-07
>>> torch.iinfo(torch.int8)
iinfo(min=-128, max=127, dtype=int8)
"""

from __future__ import annotations

import numpy as np

from chainrule._dtype import dtype, get_default_dtype, to_dtype

__all__ = ["finfo", "iinfo"]


class finfo:
    """Limits of a floating point dtype (the default dtype when none is given)."""

    def __init__(self, type: dtype | None = None) -> None:
        chosen = get_default_dtype() if type is None else to_dtype(type)
        if not chosen.is_floating_point:
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo "
                            "to handle 'torch.finfo'")
        info = np.finfo(chosen.numpy)
        self.bits = int(info.bits)
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = chosen.name

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
                f"dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype."""

    def __init__(self, type: dtype) -> None:
        chosen = to_dtype(type)
        if chosen.numpy.kind not in "iu":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        info = np.iinfo(chosen.numpy)
        self.bits, self.max, self.min = int(info.bits), int(info.max), int(info.min)
        self.dtype = chosen.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
