"""``F.scaled_dot_product_attention`` and ``nn.attention`` against PyTorch: values, gradients of
query, key, value and a float mask, node names, dropout statistics, double backward and errors."""

from __future__ import annotations

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
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).numpy(),
                                  plain.numpy())


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
