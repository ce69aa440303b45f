"""``chainrule.backends.native``: compiled kernels for the copies around convolutions, for max
pooling, for ReLU, GELU, layer norm, cross-entropy's softmax, embedding's gradient, Adam's step
and scaled dot-product attention (no mask or the causal one, no dropout), and, on x86 CPUs with
AVX2 and FMA, direct convolutions for layers with few input channels (and, with AVX-512, the
input gradient of those with few output channels), in the spirit of ``torch.backends.mkldnn``.
pip builds them from ``chainrule/_native/kernels.c`` and ``attention.c`` when a C compiler (GCC
or Clang) is present; they are used when built. They give the pure-NumPy path's results value
for value, except GELU and softmax (their own exp, erf and tanh formulas), layer norm (sums in
double precision), embedding's gradient (rows added in order), Adam (fused multiply-adds),
attention and the direct convolutions (stride 1, no dilation, one group;
``backends.cpu.conv.ConvGeometry.direct`` and ``direct_input_grad``), which add in their own
order: those agree to rounding.

Set ``enabled = False`` (or the environment variable ``CHAINRULE_NATIVE=0``) to run on
NumPy alone.

>>> import chainrule
>>> isinstance(chainrule.backends.native.is_available(), bool)
True
"""

from __future__ import annotations

import os

import numpy as np

from chainrule import _native

__all__ = ["enabled", "is_available", "kernels", "kernels_for", "MIN_SIZE"]

enabled: bool = os.environ.get("CHAINRULE_NATIVE", "1") != "0"

MIN_SIZE = 4096  # elements: below this an elementwise kernel's call costs more than it saves


def is_available() -> bool:
    """Whether the compiled kernels were built (pip builds them where a C compiler is present)."""
    return _native.library is not None


def kernels(dtype: np.dtype) -> _native.Kernels | None:
    """The kernels for arrays of ``dtype``; ``None`` when switched off or not built for it."""
    return _native.KERNELS.get(dtype) if enabled else None


def kernels_for(x: np.ndarray, *others: np.ndarray) -> _native.Kernels | None:
    """The kernels for an elementwise pass over ``x`` and ``others``, or ``None``: switched
    off, not built for their dtype, fewer than ``MIN_SIZE`` elements, or not all C-contiguous
    arrays of one dtype and shape."""
    if x.size < MIN_SIZE or not x.flags.c_contiguous:
        return None
    for other in others:
        if not (other.flags.c_contiguous and other.dtype == x.dtype and other.shape == x.shape):
            return None
    return kernels(x.dtype)
