"""GELU on the compiled kernels: where ``F.gelu``'s forward and backward take the fast path.

Each function returns the kernel's result, or ``None`` when the kernels do not apply (switched
off, not built, an input too small to pay for the call, or not laid out as they need); the op
then evaluates its formula in NumPy. The two agree to rounding.

>>> import numpy as np
>>> from chainrule.backends.cpu import activation
>>> activation.gelu(np.zeros(3, np.float32), "none") is None  # too small for a compiled call
True
"""

from __future__ import annotations

import numpy as np

from chainrule._native import Kernels
from chainrule._ops.unary import NATIVE_MIN_SIZE
from chainrule.backends import native

__all__ = ["gelu", "gelu_grad"]


def _kernels(x: np.ndarray, *others: np.ndarray) -> Kernels | None:
    if x.size < NATIVE_MIN_SIZE or not all(
            a.flags.c_contiguous and a.dtype == x.dtype and a.shape == x.shape for a in (x, *others)):
        return None
    return native.kernels(x.dtype)


def gelu(x: np.ndarray, approximate: str) -> np.ndarray | None:
    """``x * Phi(x)`` (or its tanh approximation), or ``None``."""
    kernels = _kernels(x)
    if kernels is None:
        return None
    out = np.empty_like(x)
    kernels.gelu(x, out, x.size, approximate == "tanh")
    return out


def gelu_grad(grad: np.ndarray, x: np.ndarray, approximate: str) -> np.ndarray | None:
    """``grad * gelu'(x)``, or ``None``."""
    kernels = _kernels(x, grad)
    if kernels is None:
        return None
    out = np.empty_like(x)
    kernels.gelu_grad(x, grad, out, x.size, approximate == "tanh")
    return out
