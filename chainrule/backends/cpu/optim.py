"""Adam's step on the compiled kernels: one pass over a parameter, its gradient and its two
moments, where NumPy makes eleven (each line of the update a pass of its own).

``adam`` returns ``True`` when the kernel did the step, ``None`` when it does not apply
(switched off, not built for the dtype, arrays not all C-contiguous of one dtype and shape);
``Adam.update`` then runs its lines in NumPy. The two agree to rounding.

>>> import numpy as np
>>> from chainrule.backends.cpu import optim
>>> p, g, m, v = np.zeros(3, np.float32), np.ones(3, np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32)
>>> done = optim.adam(p, g, m, v, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
...                   decoupled=False, step=1.0)
>>> done is None or np.allclose(p, -0.1)
True
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.backends import native

__all__ = ["adam"]


def adam(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray, *,
         lr: float, betas: tuple[float, float], eps: float, weight_decay: float, decoupled: bool,
         step: float) -> bool | None:
    """One Adam step of ``param`` and its moments, in place (``weight_decay`` L2, or decoupled
    as AdamW's); ``True``, or ``None`` when the kernels do not apply."""
    kernels = native.kernels(param.dtype)
    if kernels is None or not all(  # (a 0-d parameter's negated gradient is a NumPy scalar)
            isinstance(a, np.ndarray) and a.flags.c_contiguous and a.dtype == param.dtype
            and a.shape == param.shape for a in (param, grad, exp_avg, exp_avg_sq)):
        return None
    beta1, beta2 = betas
    l2, shrink = (0.0, 1 - lr * weight_decay) if decoupled else (weight_decay, 1.0)
    hyper = np.array([l2, shrink, 1 - beta1, beta2, 1 - beta2,
                      math.sqrt(1 - beta2 ** step), eps, -lr / (1 - beta1 ** step)])
    kernels.adam(param, grad, exp_avg, exp_avg_sq, param.size, hyper)
    return True
