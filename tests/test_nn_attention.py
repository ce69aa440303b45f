"""``F.scaled_dot_product_attention`` and ``nn.attention`` against PyTorch: values, gradients of
query, key, value and a float mask, node names, dropout statistics, double backward and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")

TOL = {np.float32: dict(rtol=1e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _randn(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _both(array, requires_grad=True):
    ours = chainrule.tensor(array, requires_grad=requires_grad and array.dtype.kind == "f")
    theirs = torch.tensor(array, requires_grad=requires_grad and array.dtype.kind == "f")
    return ours, theirs


def _compare(q_shape, k_shape, v_shape, mask=None, dtype=np.float32, mask_grad=False, **kwargs):
    """Run SDPA in both libraries on the same inputs; compare output, node name and all gradients."""
    arrays = [_randn(*s, seed=i, dtype=dtype) for i, s in enumerate((q_shape, k_shape, v_shape))]
    pairs = [_both(a) for a in arrays]
    if mask is not None:
        pairs.append(_both(mask, requires_grad=mask_grad))
    ours_in, theirs_in = [p[0] for p in pairs], [p[1] for p in pairs]
    mask_kw = lambda inputs: dict(attn_mask=inputs[3]) if mask is not None else {}  # noqa: E731
    ours = F.scaled_dot_product_attention(*ours_in[:3], **mask_kw(ours_in), **kwargs)
    theirs = torch.nn.functional.scaled_dot_product_attention(*theirs_in[:3], **mask_kw(theirs_in), **kwargs)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype)
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), **TOL[dtype])
    upstream = _randn(*theirs.shape, seed=9, dtype=dtype)
    (ours * chainrule.tensor(upstream)).sum().backward()
    (theirs * torch.tensor(upstream)).sum().backward()
    for name, mine, expected in zip("qkvm", ours_in, theirs_in):
        if expected.requires_grad:
            np.testing.assert_allclose(mine.grad.numpy(), expected.grad.numpy(), **TOL[dtype], err_msg=name)
    return ours


CASES = {
    "plain": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), None, {}),
    "value_dim_differs": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), None, {}),
    "three_d": ((3, 4, 8), (3, 5, 8), (3, 5, 6), None, {}),
    "five_d": ((1, 2, 3, 4, 8), (1, 2, 3, 5, 8), (1, 2, 3, 5, 8), None, {}),
    "unbatched_2d": ((4, 8), (5, 8), (5, 8), None, {}),
    "broadcast_heads": ((2, 3, 4, 8), (2, 1, 5, 8), (2, 1, 5, 8), None, {}),
    "causal_square": ((2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), None, dict(is_causal=True)),
    "causal_longer_query": ((2, 3, 6, 8), (2, 3, 4, 8), (2, 3, 4, 8), None, dict(is_causal=True)),
    "causal_longer_key": ((2, 3, 3, 8), (2, 3, 6, 8), (2, 3, 6, 8), None, dict(is_causal=True)),
    "causal_three_d": ((3, 5, 8), (3, 5, 8), (3, 5, 8), None, dict(is_causal=True)),
    "scale": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), None, dict(scale=0.3)),
    "bool_mask_2d": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), ("bool", (4, 5)), {}),
    "bool_mask_4d": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), ("bool", (2, 3, 4, 5)), {}),
    "bool_mask_padding": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), ("bool", (2, 1, 1, 5)), {}),
    "bool_mask_3d": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), ("bool", (3, 4, 5)), {}),
    "float_mask_2d": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), ("float", (4, 5)), {}),
    "float_mask_broadcast": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), ("float", (3, 1, 5)), {}),
    "float_mask_column": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), ("float", (4, 1)), {}),
    "gqa": ((2, 6, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), None, dict(enable_gqa=True)),
    "causal_and_bool_mask": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), ("bool", (4, 5)), dict(is_causal=True)),
    "causal_and_float_mask": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), ("float", (2, 1, 1, 5)),
                              dict(is_causal=True)),
    "gqa_one_kv_head": ((2, 4, 4, 8), (2, 2, 5, 8), (2, 1, 5, 8), None, dict(enable_gqa=True)),
}


def _mask(kind, shape, seed=5):
    if kind == "bool":
        return np.random.default_rng(seed).random(shape) > 0.4
    return _randn(*shape, seed=seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch(case, dtype):
    q, k, v, mask_spec, kwargs = CASES[case]
    mask = None if mask_spec is None else _mask(*mask_spec)
    if mask is not None and mask.dtype.kind == "f":
        mask = mask.astype(dtype)
    _compare(q, k, v, mask, dtype=dtype, **kwargs)


@pytest.mark.parametrize("shape", [(4, 5), (2, 1, 4, 5)])
def test_gradient_reaches_a_float_mask_that_requires_grad(shape):
    _compare((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), _mask("float", shape), mask_grad=True)


def test_fully_masked_rows_give_zeros_and_no_gradient():
    mask = np.ones((4, 5), bool)
    mask[1] = False
    out = _compare((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), mask)
    assert not out.detach().numpy()[:, :, 1].any()
    float_mask = np.where(mask, 0.0, -np.inf).astype(np.float32)
    _compare((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), float_mask)


def test_empty_key_gives_zeros():
    out = F.scaled_dot_product_attention(chainrule.randn(2, 4, 8), chainrule.randn(2, 0, 8),
                                         chainrule.randn(2, 0, 6))
    assert out.shape == (2, 4, 6) and not out.numpy().any()


# ------------------------------------------------------------------ dropout
def test_dropout_p_zero_is_exact():
    q, k, v = (chainrule.tensor(_randn(2, 3, 4, 8, seed=s)) for s in range(3))
    plain = F.scaled_dot_product_attention(q, k, v)
    before = chainrule.get_rng_state().numpy()
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0)
    # No mask is drawn (torch leaves its generator untouched too), so the result is the plain one.
    np.testing.assert_array_equal(chainrule.get_rng_state().numpy(), before)
    np.testing.assert_array_equal(out.numpy(), plain.numpy())


def test_dropout_statistics_and_reused_mask():
    """With value = identity the output is the dropped-out weights themselves."""
    chainrule.manual_seed(0)
    length, p = 64, 0.3
    arrays = [_randn(8, 4, length, 16, seed=s) for s in range(2)]
    q, k = (chainrule.tensor(a, requires_grad=True) for a in arrays)
    value = chainrule.eye(length).requires_grad_()
    out = F.scaled_dot_product_attention(q, k, value, dropout_p=p)
    probs = F.scaled_dot_product_attention(q, k, value.detach()).detach().numpy()
    weights = out.detach().numpy()
    dropped = weights == 0
    assert abs(dropped.mean() - p) < 0.01
    np.testing.assert_allclose(weights[~dropped], probs[~dropped] / (1 - p), rtol=1e-5)
    upstream = _randn(*out.shape, seed=3)
    (out * chainrule.tensor(upstream)).sum().backward()
    assert out.grad_fn.name() == "UnsafeViewBackward0"
    # The gradients follow the mask drawn in forward: recompute them in torch with that mask.
    keep = torch.tensor(~dropped / (1 - p), dtype=torch.float32)
    tq, tk = (torch.tensor(a, requires_grad=True) for a in arrays)
    tv = torch.eye(length, requires_grad=True)
    expected = (torch.softmax(tq @ tk.transpose(-2, -1) / 4, -1) * keep) @ tv
    (expected * torch.tensor(upstream)).sum().backward()
    for mine, theirs in ((q, tq), (k, tk), (value, tv)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_dropout_mean_is_unbiased():
    chainrule.manual_seed(1)
    q, k, v = (chainrule.tensor(_randn(200, 1, 6, 4, seed=s)) for s in range(3))
    q, k, v = q[:1].expand(200, 1, 6, 4), k[:1].expand(200, 1, 6, 4), v[:1].expand(200, 1, 6, 4)
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy().mean(0)
    np.testing.assert_allclose(dropped, F.scaled_dot_product_attention(q, k, v).numpy()[0], atol=0.15)


def test_dropout_one_gives_zeros():
    q = chainrule.randn(2, 3, 4, 8)
    assert not F.scaled_dot_product_attention(q, q, q, dropout_p=1.0).numpy().any()


# ------------------------------------------------------------------ double backward
def _torch_composed(q, k, v, bias, scale):
    return torch.softmax(q @ k.transpose(-2, -1) * scale + bias, -1) @ v


@pytest.mark.parametrize("is_causal", [False, True])
def test_double_backward_matches_composed_torch(is_causal):
    arrays = [_randn(2, 2, 4, 3, seed=s, dtype=np.float64) for s in range(3)]
    ours = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    bias = torch.zeros(4, 4, dtype=torch.float64)
    if is_causal:
        bias = bias.masked_fill(~torch.ones(4, 4, dtype=torch.bool).tril(), float("-inf"))
    out = F.scaled_dot_product_attention(*ours, is_causal=is_causal)
    expected = _torch_composed(*theirs, bias, 3 ** -0.5)
    upstream = _randn(2, 2, 4, 3, seed=7, dtype=np.float64)
    grads = chainrule.autograd.grad((out * chainrule.tensor(upstream)).sum(), ours, create_graph=True)
    torch_grads = torch.autograd.grad((expected * torch.tensor(upstream)).sum(), theirs, create_graph=True)
    for mine, other in zip(grads, torch_grads):
        np.testing.assert_allclose(mine.detach().numpy(), other.detach().numpy(), rtol=1e-10)
    sum(g.square().sum() for g in grads).backward()
    sum(g.square().sum() for g in torch_grads).backward()
    for mine, other in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), other.grad.numpy(), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ errors
def _q(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


ERRORS = {
    "causal_with_mask_off_the_fused_path": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8), _q(2, 3, 5, 6)),
                         dict(attn_mask=torch.ones(4, 5, dtype=torch.bool), is_causal=True)),
    "mask_wrong_shape": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8), _q(2, 3, 5, 8)),
                         dict(attn_mask=torch.ones(4, 4, dtype=torch.bool))),
    "mask_too_many_dims": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8), _q(2, 3, 5, 8)),
                           dict(attn_mask=torch.ones(1, 1, 1, 2, 3, 4, 5, dtype=torch.bool))),
    "mask_one_d": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8), _q(2, 3, 5, 8)), dict(attn_mask=torch.ones(5))),
    "mask_long": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8), _q(2, 3, 5, 8)),
                  dict(attn_mask=torch.ones(4, 5, dtype=torch.int64))),
    "mask_double": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8), _q(2, 3, 5, 8)),
                    dict(attn_mask=torch.ones(4, 5, dtype=torch.float64))),
    "mixed_dtypes": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8, dtype=torch.float64), _q(2, 3, 5, 8)), {}),
    "integer_inputs": ((torch.ones(2, 4, 8, dtype=torch.int32),) * 3, {}),
    "key_dim": ((_q(2, 3, 4, 8), _q(2, 3, 5, 7), _q(2, 3, 5, 6)), {}),
    "value_length": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8), _q(2, 3, 4, 6)), {}),
    "batch_mismatch": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8), _q(2, 2, 5, 6)), {}),
    "one_d": ((_q(8), _q(8), _q(8)), {}),
    "dropout_above_one": ((_q(2, 3, 4, 8), _q(2, 3, 5, 8), _q(2, 3, 5, 8)), dict(dropout_p=1.5)),
    "gqa_not_divisible": ((_q(2, 4, 4, 8), _q(2, 3, 5, 8), _q(2, 3, 5, 8)), dict(enable_gqa=True)),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_match_torch(case):
    inputs, kwargs = ERRORS[case]
    with pytest.raises(Exception) as theirs:
        torch.nn.functional.scaled_dot_product_attention(*inputs, **kwargs)
    convert = lambda v: chainrule.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v  # noqa: E731
    with pytest.raises(type(theirs.value)) as ours:
        F.scaled_dot_product_attention(*map(convert, inputs), **{k: convert(v) for k, v in kwargs.items()})
    assert str(ours.value) == str(theirs.value)


# ------------------------------------------------------------------ nn.attention
def test_sdp_backend_has_torch_members_and_values():
    from chainrule.nn.attention import SDPBackend

    theirs = torch.nn.attention.SDPBackend
    assert [(name, member.value) for name, member in SDPBackend.__members__.items()] == \
        [(name, int(member)) for name, member in theirs.__members__.items()]
    assert repr(SDPBackend.MATH) == repr(theirs.MATH)


def test_sdpa_kernel_is_a_context_manager_that_checks_its_argument():
    from chainrule.nn.attention import SDPBackend, sdpa_kernel

    q = chainrule.tensor(_randn(1, 2, 3, 4))
    expected = F.scaled_dot_product_attention(q, q, q).numpy()
    for backends in (SDPBackend.FLASH_ATTENTION, [SDPBackend.MATH, SDPBackend.EFFICIENT_ATTENTION]):
        with sdpa_kernel(backends, set_priority=True) as result:
            assert result == {}
            np.testing.assert_array_equal(F.scaled_dot_product_attention(q, q, q).numpy(), expected)
    with pytest.raises(AssertionError) as theirs:
        with torch.nn.attention.sdpa_kernel("math"):
            pass
    with pytest.raises(AssertionError) as ours:
        with sdpa_kernel("math"):
            pass
    assert str(ours.value) == str(theirs.value)


# ------------------------------------------------------------------ nn.MultiheadAttention
E, HEADS, L, S, N = 8, 2, 4, 5, 3


def _mha_pair(**kwargs):
    """The same MultiheadAttention in both libraries, ours holding torch's parameters."""
    theirs = torch.nn.MultiheadAttention(E, HEADS, **kwargs)
    ours = chainrule.nn.MultiheadAttention(E, HEADS, **kwargs)
    ours.load_state_dict({k: chainrule.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _mha_inputs(batched, batch_first, self_attention, kdim=E, vdim=E):
    def shape(length, dim):
        if not batched:
            return (length, dim)
        return (N, length, dim) if batch_first else (length, N, dim)
    if self_attention:
        return [_randn(*shape(L, E), seed=20)] * 3
    return [_randn(*shape(L, E), seed=20), _randn(*shape(S, kdim), seed=21), _randn(*shape(S, vdim), seed=22)]


def _mha_masks(kind, batched, source):
    rng = np.random.default_rng(4)
    masks = {}
    if "attn" in kind:
        shape = (L, source) if "3d" not in kind else (N * HEADS if batched else HEADS, L, source)
        allowed_first = np.zeros(shape, bool)
        allowed_first[..., 1:] = rng.random(shape[:-1] + (source - 1,)) > 0.6  # True = may not attend
        masks["attn_mask"] = allowed_first if "bool" in kind else np.where(
            allowed_first, -np.inf, rng.standard_normal(shape)).astype(np.float32)
    if "padding" in kind:
        padding = np.zeros((N, source) if batched else (source,), bool)
        padding[..., -2:] = True
        masks["key_padding_mask"] = padding if "float" not in kind else np.where(
            padding, -np.inf, 0.0).astype(np.float32)
    return masks


def _check_mha(ours, theirs, arrays, masks, **kwargs):
    """Forward both (inputs shared where torch shares them), backpropagate through the output and the
    weights, and compare outputs, weights and the gradients of inputs and parameters."""
    distinct = list(dict.fromkeys(map(id, arrays)))
    ours_in = {i: chainrule.tensor(a, requires_grad=True) for i, a in zip(map(id, arrays), arrays)}
    theirs_in = {i: torch.tensor(a, requires_grad=True) for i, a in zip(map(id, arrays), arrays)}
    mine = ours(*[ours_in[id(a)] for a in arrays], **{k: chainrule.tensor(v) for k, v in masks.items()}, **kwargs)
    expected = theirs(*[theirs_in[id(a)] for a in arrays], **{k: torch.tensor(v) for k, v in masks.items()},
                      **kwargs)
    loss_ours, loss_theirs = 0, 0
    for index, (m, e) in enumerate(zip(mine, expected)):
        assert (m is None) == (e is None)
        if e is None:
            continue
        assert tuple(m.shape) == tuple(e.shape)
        np.testing.assert_allclose(m.detach().numpy(), e.detach().numpy(), rtol=1e-5, atol=1e-6)
        upstream = np.nan_to_num(_randn(*e.shape, seed=30 + index))
        loss_ours = loss_ours + (m * chainrule.tensor(upstream)).sum()
        loss_theirs = loss_theirs + (e * torch.tensor(upstream)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    for key in distinct:
        np.testing.assert_allclose(ours_in[key].grad.numpy(), theirs_in[key].grad.numpy(), rtol=1e-4, atol=1e-5)
    their_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), their_params[name].grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)
    return mine


MHA_LAYOUTS = {
    "self": dict(),
    "self_batch_first": dict(batch_first=True),
    "self_unbatched": dict(batched=False),
    "cross": dict(self_attention=False),
    "cross_kdim_vdim": dict(self_attention=False, kdim=3, vdim=6),
    "cross_kdim_vdim_batch_first": dict(self_attention=False, kdim=3, vdim=6, batch_first=True),
    "cross_unbatched_kdim": dict(self_attention=False, kdim=3, vdim=6, batched=False),
    "no_bias": dict(bias=False),
    "bias_kv": dict(add_bias_kv=True),
    "zero_attn": dict(add_zero_attn=True, self_attention=False),
    "bias_kv_and_zero_attn": dict(add_bias_kv=True, add_zero_attn=True, batched=False),
}
MHA_MASKS = ["none", "attn_bool", "attn_float", "attn_3d_bool", "attn_3d_float", "padding",
             "padding_float", "attn_bool_padding"]


@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("masks", MHA_MASKS)
@pytest.mark.parametrize("layout", list(MHA_LAYOUTS))
def test_multihead_attention_matches_torch(layout, masks, need_weights, average):
    options = dict(MHA_LAYOUTS[layout])
    batched = options.pop("batched", True)
    self_attention = options.pop("self_attention", True)
    ours, theirs = _mha_pair(**options)
    arrays = _mha_inputs(batched, options.get("batch_first", False), self_attention,
                         options.get("kdim", E), options.get("vdim", E))
    source = L if self_attention else S
    _check_mha(ours, theirs, arrays, _mha_masks(masks, batched, source), need_weights=need_weights,
               average_attn_weights=average)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("padding", [False, True])
def test_multihead_attention_is_causal_hint(need_weights, padding):
    ours, theirs = _mha_pair(batch_first=True)
    causal = np.triu(np.ones((L, L), bool), 1)
    masks = dict(attn_mask=causal)
    if padding:
        masks["key_padding_mask"] = _mha_masks("padding", True, L)["key_padding_mask"]
    _check_mha(ours, theirs, _mha_inputs(True, True, True), masks, need_weights=need_weights, is_causal=True)


def test_multihead_attention_eval_matches_torch_fast_path():
    ours, theirs = _mha_pair(batch_first=True)
    ours.eval(), theirs.eval()
    x = _randn(N, L, E, seed=3)
    padding = _mha_masks("padding", True, L)["key_padding_mask"]
    with torch.no_grad():
        expected = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x), key_padding_mask=torch.tensor(padding))
    with chainrule.no_grad():
        x_ours = chainrule.tensor(x)
        mine = ours(x_ours, x_ours, x_ours, key_padding_mask=chainrule.tensor(padding))
    for m, e in zip(mine, expected):
        np.testing.assert_allclose(m.numpy(), e.numpy(), rtol=1e-5, atol=1e-6)


def test_multihead_attention_dropout_in_train_mode_only():
    chainrule.manual_seed(0)
    mha = chainrule.nn.MultiheadAttention(E, HEADS, dropout=0.5)
    x = chainrule.tensor(_randn(32, 16, E))
    weights = mha(x, x, x, average_attn_weights=False)[1].detach().numpy()
    assert abs((weights == 0).mean() - 0.5) < 0.02
    np.testing.assert_allclose(weights.sum(-1).mean(), 1.0, atol=0.02)
    mha.eval()
    np.testing.assert_allclose(mha(x, x, x)[1].detach().numpy().sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("options", [dict(), dict(kdim=3, vdim=5, add_bias_kv=True), dict(bias=False)])
def test_multihead_attention_layout_and_init_match_torch(options):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, HEADS, **options)
    ours = chainrule.nn.MultiheadAttention(E, HEADS, **options)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, mine), (_, other) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert tuple(mine.shape) == tuple(other.shape), name
        if name.endswith("bias") and name != "out_proj.bias" or name == "out_proj.bias":
            assert not mine.detach().numpy().any(), name
    fan = E + 3 * E if "kdim" not in options else None
    if fan:  # xavier_uniform_ over the packed (3E, E) matrix
        bound = math.sqrt(6 / fan)
        weight = ours.in_proj_weight.detach().numpy()
        assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.8 * bound
    for name in ("embed_dim", "kdim", "vdim", "num_heads", "head_dim", "batch_first", "dropout",
                 "add_zero_attn", "_qkv_same_embed_dim"):
        assert getattr(ours, name) == getattr(theirs, name), name


MHA_ERRORS = {
    "heads_do_not_divide": (dict(embed_dim=8, num_heads=3), None),
    "zero_heads": (dict(embed_dim=8, num_heads=0), None),
    "four_d_query": (dict(), lambda: ((N, L, E, 1), (N, L, E, 1), (N, L, E, 1)), {}),
    "key_not_3d": (dict(), lambda: ((L, N, E), (S, E), (S, E)), {}),
    "wrong_embed": (dict(), lambda: ((L, N, 6), (S, N, 6), (S, N, 6)), {}),
    "key_value_differ": (dict(), lambda: ((L, N, E), (S, N, E), (S + 1, N, E)), {}),
    "attn_mask_2d_shape": (dict(), lambda: ((L, N, E), (S, N, E), (S, N, E)), dict(attn_mask=(L, L))),
    "attn_mask_3d_shape": (dict(), lambda: ((L, N, E), (S, N, E), (S, N, E)), dict(attn_mask=(N, L, S))),
    "attn_mask_4d": (dict(), lambda: ((L, N, E), (S, N, E), (S, N, E)), dict(attn_mask=(1, 1, L, S))),
    "padding_shape": (dict(), lambda: ((L, N, E), (S, N, E), (S, N, E)), dict(key_padding_mask=(N, L))),
    "padding_3d": (dict(), lambda: ((L, N, E), (S, N, E), (S, N, E)), dict(key_padding_mask=(N, 1, S))),
    "padding_int": (dict(), lambda: ((L, N, E), (S, N, E), (S, N, E)), dict(key_padding_mask="int")),
    "causal_without_mask": (dict(), lambda: ((L, N, E), (L, N, E), (L, N, E)), dict(is_causal=True)),
}


@pytest.mark.parametrize("case", list(MHA_ERRORS))
def test_multihead_attention_errors_match_torch(case):
    constructor, *call = MHA_ERRORS[case]
    arguments = dict(embed_dim=E, num_heads=HEADS) | constructor
    if call[0] is None:
        with pytest.raises(Exception) as theirs:
            torch.nn.MultiheadAttention(**arguments)
        with pytest.raises(type(theirs.value)) as ours:
            chainrule.nn.MultiheadAttention(**arguments)
        assert str(ours.value) == str(theirs.value)
        return
    shapes, extra = call[0](), call[1]
    arrays = [_randn(*s, seed=i) for i, s in enumerate(shapes)]
    masks = {}
    for name, spec in extra.items():
        if spec == "int":
            masks[name] = np.zeros((N, S), np.int64)
        elif isinstance(spec, tuple):
            masks[name] = np.zeros(spec, bool)
    flags = {k: v for k, v in extra.items() if not isinstance(v, (tuple, str))}
    theirs_module, ours_module = torch.nn.MultiheadAttention(**arguments), chainrule.nn.MultiheadAttention(**arguments)
    with pytest.raises(Exception) as theirs:
        theirs_module(*map(torch.tensor, arrays), **{k: torch.tensor(v) for k, v in masks.items()}, **flags)
    with pytest.raises(type(theirs.value)) as ours:
        ours_module(*map(chainrule.tensor, arrays), **{k: chainrule.tensor(v) for k, v in masks.items()}, **flags)
    assert str(ours.value) == str(theirs.value)


def test_mismatched_mask_types_warn_like_torch():
    ours, theirs = _mha_pair()
    x = _randn(L, N, E)
    padding, attn = np.zeros((N, L), bool), np.zeros((L, L), np.float32)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        theirs(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(padding), attn_mask=torch.tensor(attn))
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        ours(*[chainrule.tensor(x)] * 3, key_padding_mask=chainrule.tensor(padding), attn_mask=chainrule.tensor(attn))


@pytest.mark.parametrize("bad", [False, True])
def test_multi_head_attention_forward_with_static_key_and_value(bad):
    ours, theirs = _mha_pair()
    query = _randn(L, N, E, seed=1)
    static = [_randn(N * HEADS, S, E // HEADS + bad, seed=s) for s in (2, 3)]

    def call(lib, module, convert):
        return lib.nn.functional.multi_head_attention_forward(
            convert(query), convert(query), convert(query), E, HEADS, module.in_proj_weight,
            module.in_proj_bias, None, None, False, 0.0, module.out_proj.weight, module.out_proj.bias,
            static_k=convert(static[0]), static_v=convert(static[1]))
    if bad:
        with pytest.raises(AssertionError) as expected:
            call(torch, theirs, torch.tensor)
        with pytest.raises(AssertionError) as mine:
            call(chainrule, ours, chainrule.tensor)
        assert str(mine.value) == str(expected.value)
        return
    for m, e in zip(call(chainrule, ours, chainrule.tensor), call(torch, theirs, torch.tensor)):
        np.testing.assert_allclose(m.detach().numpy(), e.detach().numpy(), rtol=1e-5, atol=1e-6)
