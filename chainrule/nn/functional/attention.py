"""``F.scaled_dot_product_attention``: ``softmax(q @ k.T * scale + mask) @ v`` as one op.

The forward is two batched matrix products around a stable softmax, over every
batch and head at once. The backward is the chain rule in closed form,
written once (``attention_grads``) for NumPy arrays and for chainrule tensors
alike: arrays when no graph is recorded (the fast, common case), tensors when
``create_graph=True`` asks for a differentiable backward. With ``weights = P * keep``
(``P`` the softmax, ``keep`` the scaled dropout mask) and ``G`` the output gradient::

    dV = weights.T @ G        dP = (G @ V.T) * keep
    dS = P * (dP - rowsum(dP * P))      (softmax's Jacobian, applied without building it)
    dQ = dS @ K * scale       dK = dS.T @ Q * scale       dmask = dS

Without dropout and with no mask or the causal one alone, both passes (the array form of the
backward) run on the compiled kernels where they are built (``backends.cpu.attention``), which
the op asks first: the same formulas, fused per batch and head.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> q = torch.zeros(1, 3, 2)  # equal scores: each position averages the values it may see
>>> F.scaled_dot_product_attention(q, q, torch.tensor([[[0.0, 3.0], [2.0, 3.0], [4.0, 3.0]]]),
...                                is_causal=True)
tensor([[[0., 3.],
         [1., 3.],
         [2., 3.]]])
"""

from __future__ import annotations

import math

import numpy as np

from chainrule._ops._util import CPP_TYPE_NAMES, Tensor, broadcast_error, make_tensor
from chainrule.autograd.function import Function
from chainrule.backends.cpu import attention as compiled
from chainrule.nn.functional.activation import softmax
from chainrule.nn.functional.dropout import scaled_keep_mask

__all__ = ["scaled_dot_product_attention"]



def _transposed(x):
    return x.swapaxes(-1, -2)


def attention_grads(query, key, value, probs, keep, grad, scale: float, out=(None,) * 3) -> tuple:
    """Gradients of ``(probs * keep) @ value`` for query, key, value and the additive
    mask, where ``probs = softmax(query @ key.T * scale + mask)``: arrays or tensors (then
    differentiable). ``out`` may hold arrays to write the first three into."""
    weights = probs if keep is None else probs * keep
    grad_value = _product(_transposed(weights), grad, out[2])
    grad_probs = grad @ _transposed(value)
    if keep is not None:
        grad_probs = grad_probs * keep
    grad_scores = probs * (grad_probs - _row_dot(grad_probs, probs)[..., None])
    grad_query = _product(grad_scores, key, out[0], scale)
    grad_key = _product(_transposed(grad_scores), query, out[1], scale)
    return grad_query, grad_key, grad_value, grad_scores


def _product(a, b, out=None, scale: float | None = None):
    """``a @ b`` (times ``scale``), written into the array ``out`` if given."""
    if out is None:
        return a @ b if scale is None else a @ b * scale
    np.matmul(a, b, out=out)
    if scale is not None:
        out *= scale
    return out


def _row_dot(a, b):
    """``(a * b).sum(-1)``; on arrays in one pass (einsum), without the product in memory."""
    if isinstance(a, np.ndarray):
        return np.einsum("...ij,...ij->...i", a, b)
    return (a * b).sum(-1)


def _probabilities_of_arrays(scores: np.ndarray) -> np.ndarray:
    """Row softmax; a row whose every score is ``-inf`` attends to nothing (zeros, as PyTorch)."""
    # fmax skips NaN (a row holding one comes out all NaN all the same) and so takes 2/3 of max's time.
    row_max = np.fmax.reduce(scores, axis=-1, keepdims=True, initial=-np.inf)
    row_max[~np.isfinite(row_max)] = 0
    exps = np.exp(scores - row_max)
    totals = np.einsum("...ij->...i", exps)[..., None]  # as exps.sum(-1), in a third of the time
    totals[totals == 0] = 1
    return exps / totals


def _probabilities_of_tensors(query: Tensor, key: Tensor, bias: Tensor | None, scale: float) -> Tensor:
    """The same probabilities from differentiable ops (for a backward that is itself differentiated)."""
    scores = query.matmul(_transposed(key)) * scale
    if bias is not None:
        scores = scores + bias
    dead_rows = make_tensor(np.isneginf(scores._data).all(axis=-1, keepdims=True))
    return softmax(scores.masked_fill(dead_rows, 0.0), -1).masked_fill(dead_rows, 0.0)


class ScaledDotProductAttention(Function):
    """``(softmax(query @ key.T * scale + bias) * keep) @ value`` over all leading dimensions."""

    node_name = "ScaledDotProductFlashAttentionForCpuBackward0"

    @staticmethod
    def forward(ctx, query, key, value, bias, keep, scale, causal=False):
        # ``causal``: ``bias`` is the causal mask alone, which the compiled kernels apply themselves.
        ctx.save_for_backward(query, key, value, bias)
        ctx.keep, ctx.scale, ctx.causal = keep, scale, causal
        ctx.compiled = keep is None and (bias is None or causal)
        fused = compiled.attention(query._data, key._data, value._data, causal, scale) if ctx.compiled else None
        if fused is not None:
            out, ctx.probs = fused
            return out
        scores = np.matmul(query._data, _transposed(key._data)) * scale
        if bias is not None:
            scores += bias._data
        ctx.probs = _probabilities_of_arrays(scores)
        return np.matmul(ctx.probs if keep is None else ctx.probs * keep, value._data)

    @staticmethod
    def backward(ctx, grad):
        query, key, value, bias = ctx.saved_tensors
        # The probabilities rebuilt as a function of query and key, for a second derivative.
        probs = _probabilities_of_tensors(query, key, bias, ctx.scale)
        keep = None if ctx.keep is None else make_tensor(ctx.keep)
        return _argument_grads(ctx, attention_grads(query, key, value, probs, keep, grad, ctx.scale))

    @staticmethod
    def backward_arrays(ctx, grad):
        query, key, value = (t._data for t in ctx.saved_tensors[:3])
        if ctx.compiled:
            grads = compiled.attention_grads(query, key, value, ctx.probs, grad, ctx.causal, ctx.scale)
            if grads is not None:
                return _argument_grads(ctx, grads + (None,))
        # Each input's gradient laid out in memory like the input, as PyTorch's flash attention
        # does: for heads split off a wider tensor, what flows back is then a view, not a copy.
        batch = ctx.probs.shape[:-2]
        out = tuple(np.empty_like(t) if t.shape[:-2] == batch else None for t in (query, key, value))
        return _argument_grads(ctx, attention_grads(query, key, value, ctx.probs, ctx.keep, grad, ctx.scale, out))


def _argument_grads(ctx, grads: tuple) -> tuple:
    """One gradient per argument of ``apply`` from query's, key's, value's and the mask's: the
    mask's only where it requires one (the compiled kernels, used only without one, give none)."""
    return grads[:3] + (grads[3] if ctx.needs_input_grad[3] else None, None, None, None)


class ScaledDotProductAttentionMath(ScaledDotProductAttention):
    # PyTorch's composed "math" path (dropout, 3-D or broadcast inputs) ends in a reshape.
    node_name = "UnsafeViewBackward0"


class ScaledDotProductAttentionMatrix(ScaledDotProductAttention):
    # ... and for unbatched 2-D inputs in a plain matrix product.
    node_name = "MmBackward0"


def _check_inputs(query: Tensor, key: Tensor, value: Tensor, attn_mask, dropout_p: float) -> None:
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, but got "
                           f"query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: {value.ndim} "
                           "instead.")
    dtypes = [t._data.dtype for t in (query, key, value)]
    if len(set(dtypes)) > 1:
        q, k, v = (CPP_TYPE_NAMES[d.name] for d in dtypes)
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {q} key.dtype: {k} and value.dtype: {v} instead.")
    if dtypes[0].kind != "f":
        raise RuntimeError(f"expected scalar type Float but found {CPP_TYPE_NAMES[dtypes[0].name].title()}")
    if attn_mask is not None:
        if attn_mask.ndim < 2:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{max(attn_mask.ndim, 1)}, "
                             f"{max(attn_mask.ndim, 1) - 1}], but got -2)")
        mask_dtype = attn_mask._data.dtype
        if mask_dtype != np.bool_ and mask_dtype != dtypes[0]:
            raise RuntimeError(
                f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                f"attn_mask.dtype: {CPP_TYPE_NAMES[mask_dtype.name]} and  query.dtype: "
                f"{CPP_TYPE_NAMES[dtypes[0].name]} instead.")
    if dropout_p > 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")


def _check_products(query: Tensor, key: Tensor, value: Tensor, batch: tuple) -> None:
    """PyTorch's batched-matmul messages for a key or value whose sizes do not fit."""
    count = math.prod(batch)
    if key.shape[-1] != query.shape[-1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{count}, {query.shape[-1]}] but got: [{count}, {key.shape[-1]}].")
    if value.shape[-2] != key.shape[-2]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{count}, {key.shape[-2]}] but got: [{count}, {value.shape[-2]}].")


def _repeat_heads_for_groups(query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
    """Grouped-query attention: each key/value head serves ``heads // kv_heads`` query heads."""
    heads = query.shape[-3]
    if heads % key.shape[-3] or heads % value.shape[-3]:
        raise RuntimeError("Number of heads in key and value must divide the number of heads in ")
    return (key.repeat_interleave(heads // key.shape[-3], dim=-3),
            value.repeat_interleave(heads // value.shape[-3], dim=-3))


def _additive_mask(attn_mask: Tensor | None, is_causal: bool, length: int, source_length: int,
                   dtype) -> Tensor | None:
    """The mask as scores to add: a bool mask (True = may attend) and ``is_causal`` become 0/-inf."""
    allowed = None
    if is_causal:  # aligned top-left, as PyTorch does when length != source_length
        allowed = np.tri(length, source_length, dtype=bool)
    if attn_mask is not None and attn_mask._data.dtype == np.bool_:
        allowed = attn_mask._data if allowed is None else attn_mask._data & allowed
    elif attn_mask is not None and allowed is None:
        return attn_mask
    if allowed is None:
        return None
    bias = make_tensor(np.where(allowed, np.zeros((), dtype), np.asarray(-np.inf, dtype)))
    return bias if attn_mask is None or attn_mask._data.dtype == np.bool_ else attn_mask + bias


def _shape_only(shape: tuple) -> np.ndarray:
    return np.broadcast_to(np.empty((), np.bool_), shape)


def _scores_shape(query: Tensor, key: Tensor, value: Tensor, bias: Tensor | None) -> tuple:
    """``(..., L, S)``: the batch dimensions broadcast; the mask must fit without enlarging it."""
    batches = [t.shape[:-2] for t in (query, key, value)]
    try:
        batch = np.broadcast_shapes(*batches)
    except ValueError as error:
        raise broadcast_error(error, *map(_shape_only, batches)) from None
    _check_products(query, key, value, batch)
    shape = tuple(batch) + (query.shape[-2], key.shape[-2])
    if bias is not None:
        try:
            full = np.broadcast_shapes(shape, bias.shape)
        except ValueError as error:
            raise broadcast_error(error, _shape_only(shape), _shape_only(bias.shape)) from None
        if full != shape:
            raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape "
                               f"{list(full)}")
    return shape


def _is_flash_path(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None,
                   dropout_p: float, enable_gqa: bool) -> bool:
    """Whether PyTorch's CPU dispatcher would pick its fused kernel (which names the node, and alone
    accepts ``attn_mask`` together with ``is_causal``: it applies both)."""
    if not query.ndim == key.ndim == value.ndim == 4 or query.shape[-1] != value.shape[-1]:
        return False
    heads, kv_heads = query.shape[1], key.shape[1]
    same_heads = heads == kv_heads or (enable_gqa and kv_heads and heads % kv_heads == 0)
    same_layout = query.shape[0] == key.shape[0] == value.shape[0] and kv_heads == value.shape[1]
    plain_mask = attn_mask is None or (attn_mask.ndim != 3 and not attn_mask.requires_grad)
    return same_heads and same_layout and dropout_p == 0.0 and plain_mask


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key.transpose(-2, -1) * scale + mask) @ value`` with dropout on the weights.

    Shapes: query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)``, output
    ``(..., L, Ev)``. ``attn_mask`` broadcasts to ``(..., L, S)``: bool (True = may attend) or
    float (added to the scores). ``is_causal`` lets position ``i`` see keys ``0..i``. ``scale``
    defaults to ``1 / sqrt(E)``. ``enable_gqa`` repeats each key/value head over its group of
    query heads. A query that may attend to nothing gets zeros.

    >>> import chainrule as torch
    >>> q = torch.randn(2, 4, 5, 8)
    >>> torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).shape
    torch.Size([2, 4, 5, 8])
    """
    _check_inputs(query, key, value, attn_mask, dropout_p)
    flash = _is_flash_path(query, key, value, attn_mask, dropout_p, enable_gqa)
    if is_causal and attn_mask is not None and not flash:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if enable_gqa:
        key, value = _repeat_heads_for_groups(query, key, value)
    dtype = query._data.dtype
    bias = _additive_mask(attn_mask, is_causal, query.shape[-2], key.shape[-2], dtype)
    shape = _scores_shape(query, key, value, bias)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    keep = scaled_keep_mask(shape, dropout_p, dtype) if dropout_p > 0.0 else None
    if flash:
        function = ScaledDotProductAttention
    elif query.ndim == key.ndim == value.ndim == 2:
        function = ScaledDotProductAttentionMatrix
    else:
        function = ScaledDotProductAttentionMath
    return function.apply(query, key, value, bias, keep, scale, is_causal and attn_mask is None)
