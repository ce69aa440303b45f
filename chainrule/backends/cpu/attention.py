"""Scaled dot-product attention on the compiled kernels: where ``F.scaled_dot_product_attention``
takes the fast path.

The kernels serve query, key and value of one float dtype and the same batch dimensions (2-d to
4-d), with no mask or the causal one and no dropout; the arrays may have any strides, so the
heads split off one tensor (``x.view(B, T, H, D).transpose(1, 2)``) need no copy. For such
heads the output is laid out as ``(B, L, H, Ev)``, as PyTorch's flash attention lays it out, so
that joining them again (``y.transpose(1, 2).contiguous()``) copies nothing; the gradients are
laid out like the inputs. Each function returns the kernel's result, or ``None`` when it does not apply
(another case, switched off, not built); the op then evaluates its formula in NumPy. The two
agree to rounding.

>>> import numpy as np
>>> from chainrule.backends.cpu import attention
>>> q = np.zeros((1, 2, 3, 4), np.float32)
>>> fused = attention.attention(q, q, q + 1, causal=True, scale=0.5)
>>> fused is None or fused[0].tolist() == np.ones((1, 2, 3, 4)).tolist()
True
"""

from __future__ import annotations

import numpy as np

from chainrule._native import Kernels
from chainrule.backends import native

__all__ = ["attention", "attention_grads"]


def _kernels(query: np.ndarray, *others: np.ndarray) -> Kernels | None:
    """The kernels for these arrays: same dtype, same batch shape, 2 to 4 dimensions, none empty."""
    batch = query.shape[:-2]
    if not 2 <= query.ndim <= 4 or query.size == 0:
        return None
    for other in others:
        if other.dtype != query.dtype or other.shape[:-2] != batch or other.size == 0:
            return None
    return native.kernels(query.dtype)


def _strides(*arrays: np.ndarray) -> list[int] | None:
    """The element strides of each array as four dimensions (leading ones of stride 0 added);
    ``None`` for an array that is not aligned (whose strides may not be whole elements)."""
    strides = []
    for a in arrays:
        if not a.flags.aligned:
            return None
        strides += [0] * (4 - a.ndim) + [s // a.itemsize for s in a.strides]
    return strides


def _geometry(query: np.ndarray, key: np.ndarray, value: np.ndarray, causal: bool,
              strides: list[int]) -> np.ndarray:
    """``attention.c``'s int64 geometry: B, H, L, S, E, Ev, causal, then the strides."""
    batch = (1,) * (4 - query.ndim) + query.shape[:-2]
    sizes = [*batch, *query.shape[-2:]]
    sizes[3:3] = [key.shape[-2]]
    return np.array(sizes + [value.shape[-1], int(causal)] + strides, np.int64)


def attention(query: np.ndarray, key: np.ndarray, value: np.ndarray, causal: bool,
              scale: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``(out, probs)``: ``probs = softmax(query @ key.T * scale)`` (with keys ``0..i`` only
    for query ``i`` when ``causal``) and ``out = probs @ value``; or ``None``."""
    kernels = _kernels(query, key, value)
    if kernels is None:
        return None
    *batch, length, _ = query.shape
    width = value.shape[-1]
    if query.ndim == 4 and query.strides[1] < query.strides[2]:  # heads split off one tensor
        out = np.empty((batch[0], length, batch[1], width), query.dtype).transpose(0, 2, 1, 3)
    else:
        out = np.empty((*batch, length, width), query.dtype)
    strides = _strides(query, key, value, out)
    if strides is None:
        return None
    probs = np.empty((*batch, length, key.shape[-2]), query.dtype)
    kernels.attention(query, key, value, out, probs, _geometry(query, key, value, causal, strides),
                      scale)
    return out, probs


def attention_grads(query: np.ndarray, key: np.ndarray, value: np.ndarray, probs: np.ndarray,
                    grad: np.ndarray, causal: bool,
                    scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The gradients of ``attention``'s ``out`` for query, key and value, given ``probs`` and
    the gradient of ``out``; or ``None``."""
    kernels = _kernels(query, key, value, grad)
    if kernels is None or not probs.flags.c_contiguous or probs.dtype != query.dtype:
        return None
    grads = _grads_like(query, key, value)
    strides = _strides(query, key, value, grad, *grads)
    if strides is None:
        return None
    kernels.attention_grad(query, key, value, probs, grad, *grads,
                           _geometry(query, key, value, causal, strides), scale)
    return grads


def _grads_like(*inputs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Arrays for the inputs' gradients. Where the inputs are views that tile one array (query,
    key and value split off one projection), views of one new array at the same places, so
    that the split's backward joins them without a copy; else one array each (``_like``)."""
    base = inputs[0].base
    if (base is not None and base.flags.c_contiguous and all(x.base is base for x in inputs)
            and base.size == sum(x.size for x in inputs)
            and all(x.strides[-1] == x.itemsize for x in inputs)):
        whole, start = np.empty(base.size, base.dtype), base.ctypes.data
        return tuple(np.ndarray(x.shape, x.dtype, whole, x.ctypes.data - start, x.strides)
                     for x in inputs)
    return tuple(_like(x) for x in inputs)


def _like(x: np.ndarray) -> np.ndarray:
    """An array for the gradient of ``x``, laid out in memory like ``x`` where its last
    dimension is the innermost (the kernel writes rows of unit stride), else C-contiguous."""
    like = np.empty_like(x)
    return like if like.strides[-1] == like.itemsize else np.empty(x.shape, x.dtype)
