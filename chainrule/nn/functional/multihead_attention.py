"""``F.multi_head_attention_forward``: the stateless math behind ``nn.MultiheadAttention``.

Project query, key and value, split the embedding into heads, attend (through
``scaled_dot_product_attention``, or written out when the weights are asked
for), join the heads and project back. Sequences come first: ``(L, N, E)``,
or ``(L, E)`` for one unbatched sequence. Masks follow PyTorch's MHA
convention, the opposite of SDPA's: a bool ``True`` means *may not* attend.

>>> import chainrule as torch
>>> mha = torch.nn.MultiheadAttention(8, 2)
>>> x = torch.randn(5, 3, 8)
>>> out, weights = mha(x, x, x)
>>> out.shape, weights.shape
(torch.Size([5, 3, 8]), torch.Size([3, 5, 5]))
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from chainrule._creation import zeros
from chainrule._ops._util import Tensor, make_tensor
from chainrule._ops.shape import cat
from chainrule.nn.functional.activation import softmax
from chainrule.nn.functional.attention import scaled_dot_product_attention
from chainrule.nn.functional.dropout import dropout
from chainrule.nn.functional.linear import linear
from chainrule.nn.functional.padding import pad

__all__ = ["multi_head_attention_forward"]


def _none_or_dtype(input: Tensor | None):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask: Tensor | None, mask_name: str, other_type, other_name: str, target_type,
                    check_other: bool = True) -> Tensor | None:
    """A bool mask (True = may not attend) as a float mask of ``-inf`` and 0; a float mask as is."""
    if mask is None:
        return None
    kind = mask._data.dtype.kind
    if kind not in "bf":
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type "
                      "for both instead.", stacklevel=3)
    if kind == "b":
        dtype = target_type.numpy
        return make_tensor(np.where(mask._data, np.asarray(-np.inf, dtype), np.zeros((), dtype)))
    return mask


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None,
                     attn_mask: Tensor | None, num_heads: int) -> bool:
    """Whether the input is batched; PyTorch's AssertionError for inconsistent dimensions."""
    if query.ndim not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{query.ndim}-D query tensor")
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but "
                             f"found {key.ndim}-D and {value.ndim}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{query.ndim - 1}-D but found {key_padding_mask.ndim}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.ndim}-D tensor instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}")
    return batched


def _in_projection(query: Tensor, key: Tensor, value: Tensor, weights: tuple, biases: tuple) -> tuple:
    if query is key and key is value and len(weights) == 1:  # self-attention: one product
        return tuple(linear(query, weights[0], biases[0]).chunk(3, -1))
    if len(weights) == 1:
        weights = weights[0].chunk(3)
        biases = (None,) * 3 if biases[0] is None else biases[0].chunk(3)
    return tuple(linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases))


def _checked_attn_mask(attn_mask: Tensor, tgt_len: int, src_len: int, bsz: int, num_heads: int) -> Tensor:
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                               f"{(tgt_len, src_len)}.")
        return attn_mask.unsqueeze(0)
    if attn_mask.ndim == 3:
        if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                               f"{(bsz * num_heads, tgt_len, src_len)}.")
        return attn_mask
    raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")


def _heads(x: Tensor, static: Tensor | None, length: int, bsz: int, num_heads: int, head_dim: int,
           name: str) -> Tensor:
    """``(S, N, E)`` -> ``(N * heads, S, head_dim)``, or the given precomputed ``static_k``/``static_v``."""
    if static is None:
        return x.reshape(length, bsz * num_heads, head_dim).transpose(0, 1)
    for dim, expected in ((0, bsz * num_heads), (2, head_dim)):
        if static.size(dim) != expected:
            raise AssertionError(f"expecting {name}.size({dim}) of {expected}, but got {static.size(dim)}")
    return static


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True, key_padding_mask: Tensor | None = None,
        need_weights: bool = True, attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None, static_v: Tensor | None = None,
        average_attn_weights: bool = True, is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention of ``query`` ``(L, N, E)`` over ``key``/``value`` ``(S, N, E_k / E_v)``.

    Returns the output ``(L, N, E)`` and, with ``need_weights``, the attention weights
    ``(N, L, S)`` (averaged over heads) or ``(N, heads, L, S)``; unbatched inputs drop ``N``.
    """
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask),
                                       "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                           "module method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # SDPA applies the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False  # merged with the padding mask, it is no longer causal
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                                 f"{value.shape[:2]}")
        biases = (None,) * 3 if in_proj_bias is None else tuple(in_proj_bias.chunk(3))
        q, k, v = _in_projection(query, key, value, (q_proj_weight, k_proj_weight, v_proj_weight), biases)
    else:
        if key.shape != value.shape:
            raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
        q, k, v = _in_projection(query, key, value, (in_proj_weight,), (in_proj_bias,))
    if attn_mask is not None:
        attn_mask = _checked_attn_mask(attn_mask, tgt_len, src_len, bsz, num_heads)

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError(f"bias cannot be added to static {'key' if static_k is not None else 'value'}.")
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask, key_padding_mask = _pad_one(attn_mask), _pad_one(key_padding_mask)
    elif (bias_k is None) != (bias_v is None):
        raise AssertionError("bias_k is set but bias_v is None" if bias_k is not None
                             else "bias_v is set but bias_k is None")

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, k.shape[0], bsz, num_heads, head_dim, "static_k")
    v = _heads(v, static_v, v.shape[0], bsz, num_heads, head_dim, "static_v")
    if add_zero_attn:
        k = cat([k, zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype)], 1)
        v = cat([v, zeros((bsz * num_heads, 1, head_dim), dtype=v.dtype)], 1)
        attn_mask, key_padding_mask = _pad_one(attn_mask), _pad_one(key_padding_mask)
    src_len = k.size(1)

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            dim, expected = (0, bsz) if key_padding_mask.shape[0] != bsz else (1, src_len)
            raise AssertionError(f"Expected key_padded_mask.shape[{dim}] to be {expected}, but got "
                                 f"{key_padding_mask.shape[dim]}")
        key_padding_mask = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1) \
            .reshape(bsz * num_heads, 1, src_len)
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * math.sqrt(1.0 / head_dim)).matmul(k.transpose(-2, -1))
        weights = softmax(scores if attn_mask is None else scores + attn_mask, dim=-1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        attn_output = weights.bmm(v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
    else:
        if attn_mask is not None:
            attn_mask = attn_mask.unsqueeze(0) if attn_mask.size(0) == 1 \
                else attn_mask.reshape(bsz, num_heads, -1, src_len)
        attn_output = scaled_dot_product_attention(
            q.reshape(bsz, num_heads, tgt_len, head_dim), k.reshape(bsz, num_heads, src_len, head_dim),
            v.reshape(bsz, num_heads, src_len, head_dim), attn_mask, dropout_p, is_causal)
        attn_output = attn_output.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
        weights = None
    attn_output = linear(attn_output, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not batched:
        attn_output = attn_output.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return attn_output, weights


def _pad_one(mask: Tensor | None) -> Tensor | None:
    """One more key position, which every query may attend to."""
    return None if mask is None else pad(mask, (0, 1))
