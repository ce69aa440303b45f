"""Layer norm on the compiled kernels: where ``Normalize`` (batch, layer, group and instance
norm) takes the fast path.

The kernels serve the layout of layer norm, in which the statistics and the affine parameters
span the same trailing axes, so that each mean and variance belongs to one row of a 2-d view.
Each function returns the kernel's result, or ``None`` when they do not apply (another layout,
switched off, not built, empty or non-contiguous arrays, mixed dtypes); the op then evaluates
its formula in NumPy. The two agree to rounding (the kernels sum rows in double precision).

>>> import numpy as np
>>> from chainrule.backends.cpu import normalization
>>> from chainrule.nn.functional.normalization import NormLayout
>>> layout = NormLayout((2, 3), (1,), (1, 3), 1e-5)  # layer norm over rows of 3
>>> compiled = normalization.layer_norm(np.ones((2, 3), np.float32), None, None, layout)
>>> compiled is None or compiled[0].tolist() == [[0.0] * 3] * 2
True
"""

from __future__ import annotations

import numpy as np

from chainrule._native import Kernels
from chainrule.backends import native

__all__ = ["layer_norm", "layer_norm_grad"]


def _kernels(layout, x: np.ndarray, *params: np.ndarray | None) -> Kernels | None:
    """The kernels for ``x`` (and parameters of its dtype), if ``layout`` is layer norm's for it."""
    ndim, width = x.ndim, len(layout.stats_axes)
    lead = ndim - width
    if (layout.stats_shape != x.shape or layout.stats_axes != tuple(range(lead, ndim))
            or tuple(layout.affine_shape[lead:]) != x.shape[lead:]):
        return None
    if x.size == 0 or not x.flags.c_contiguous or not all(
            p is None or (p.flags.c_contiguous and p.dtype == x.dtype) for p in params):
        return None
    return native.kernels(x.dtype)


def layer_norm(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
               layout) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(out, x_hat, invstd)``: ``out = x_hat * weight + bias`` with ``x_hat`` the standardised
    input and ``invstd`` one ``1 / sqrt(var + eps)`` per row (shaped as the statistics); or
    ``None``."""
    kernels = _kernels(layout, x, weight, bias)
    if kernels is None:
        return None
    out, x_hat = np.empty_like(x), np.empty_like(x)
    invstd = np.empty(tuple(1 if d in layout.stats_axes else s for d, s in enumerate(x.shape)),
                      x.dtype)
    kernels.layer_norm(x, weight, bias, out, x_hat, invstd, invstd.size, x.size // invstd.size,
                       layout.eps)
    return out, x_hat, invstd


def layer_norm_grad(grad: np.ndarray, x_hat: np.ndarray, invstd: np.ndarray,
                    weight: np.ndarray | None, layout, needs: tuple[bool, bool, bool]
                    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None] | None:
    """The gradients of the input, weight and bias (each ``None`` where ``needs`` says it is not
    wanted), or ``None``: per row, ``invstd * (g - mean(g) - x_hat * mean(g * x_hat))`` with
    ``g = grad * weight``; over the rows, the sums of ``grad * x_hat`` and of ``grad``."""
    kernels = _kernels(layout, x_hat, grad, weight)
    if kernels is None:
        return None
    rows = invstd.size
    params = x_hat.shape[x_hat.ndim - len(layout.stats_axes):]
    grads = (np.empty_like(x_hat) if needs[0] else None,
             *(np.empty(params, x_hat.dtype) if need else None for need in needs[1:]))
    kernels.layer_norm_grad(grad, x_hat, invstd, weight, *grads, rows, x_hat.size // rows)
    return grads
