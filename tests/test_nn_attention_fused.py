"""The compiled attention kernels (``chainrule.backends.cpu.attention``) against the NumPy path
(kernels off) and PyTorch: output and the gradients of query, key and value, in float32 and
float64, causal or not, odd sizes, query and key lengths that differ, inputs of any strides, both
builds of the kernels; and the cases the kernels leave to NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_torch

import chainrule
import chainrule.nn.functional as F
from chainrule import _native
from chainrule.backends import native
from chainrule.backends.cpu import attention as compiled

pytestmark = pytest.mark.skipif(not native.is_available(),
                                reason="the compiled kernels were not built (no C compiler)")

TOL = {np.float32: dict(rtol=1e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}

# (B, H, L, S, E, Ev)
SIZES = [(1, 1, 1, 1, 1, 1), (2, 3, 3, 3, 17, 5), (1, 2, 17, 17, 3, 65), (2, 1, 65, 65, 8, 3),
         (1, 2, 5, 3, 4, 4), (2, 2, 3, 17, 5, 6), (1, 1, 65, 17, 32, 32)]
GPT = (12, 4, 64, 64, 32, 32)


def _inputs(sizes, dtype, layout: str, seed: int = 0) -> list[np.ndarray]:
    """q, k, v of ``sizes`` laid out as ``layout``: ``contiguous``; ``heads``, split off one
    ``(B, T, 3 * H * D)``-like array as GPT does; ``transposed``, the last two axes swapped in
    memory (no dimension of unit stride)."""
    b, h, length, source, e, ev = sizes
    rng = np.random.default_rng(seed)
    shapes = [(length, e), (source, e), (source, ev)]
    if layout == "contiguous":
        return [rng.standard_normal((b, h, *s)).astype(dtype) for s in shapes]
    if layout == "transposed":
        return [rng.standard_normal((b, h, s[1], s[0])).astype(dtype).swapaxes(-1, -2) for s in shapes]
    rows = max(length, source)
    whole = rng.standard_normal((b, rows, h * (2 * e + ev) + 1)).astype(dtype)
    offsets = np.cumsum([0, h * e, h * e])
    return [whole[:, :s[0], o:o + h * s[1]].reshape(b, s[0], h, s[1]).transpose(0, 2, 1, 3)
            for o, s in zip(offsets, shapes)]


def _attention(lib, arrays, grad, **kwargs) -> list[np.ndarray]:
    """Output and the three gradients, from the upstream gradient ``grad``."""
    tensors = [lib.from_numpy(a).requires_grad_() for a in arrays]  # views: strides kept
    sdpa = F.scaled_dot_product_attention if lib is chainrule else lib.nn.functional.scaled_dot_product_attention
    out = sdpa(*tensors, **kwargs)
    out.backward(lib.tensor(grad))
    return [out.detach().numpy()] + [t.grad.numpy() for t in tensors]


def _with_and_without_kernels(run) -> tuple:
    """``run()`` with the compiled kernels on, then off."""
    saved = native.enabled
    try:
        native.enabled = True
        on = run()
        native.enabled = False
        return on, run()
    finally:
        native.enabled = saved


def _kernels_and_numpy(arrays, grad, **kwargs):
    return _with_and_without_kernels(lambda: _attention(chainrule, arrays, grad, **kwargs))


def _check(sizes, dtype, layout, causal, torch=None):
    arrays = _inputs(sizes, dtype, layout)
    b, h, length, _, _, ev = sizes
    assert compiled.attention(*arrays, causal, 0.5) is not None  # the kernels serve this case
    grad = np.random.default_rng(9).standard_normal((b, h, length, ev)).astype(dtype)
    on, off = _kernels_and_numpy(arrays, grad, is_causal=causal)
    for name, a, b in zip(("out", "dq", "dk", "dv"), on, off):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=name)
    if torch is not None:
        for name, a, b in zip(("out", "dq", "dk", "dv"), on, _attention(torch, arrays, grad, is_causal=causal)):
            np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_kernels_match_numpy_path_and_torch(sizes, causal, dtype):
    _check(sizes, dtype, "contiguous", causal, require_torch())


@pytest.mark.parametrize("layout", ["heads", "transposed"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sizes", [SIZES[1], SIZES[3], SIZES[5]], ids=str)
def test_inputs_of_any_strides(sizes, causal, layout):
    _check(sizes, np.float32, layout, causal)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpt_shape(dtype):
    _check(GPT, dtype, "heads", True, require_torch())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_build_for_any_cpu_matches_the_vector_build(dtype):
    arrays = _inputs((2, 3, 17, 17, 5, 9), dtype, "heads")
    grad = np.random.default_rng(9).standard_normal((2, 3, 17, 9)).astype(dtype)
    fast = _attention(chainrule, arrays, grad, is_causal=True)
    _native.cap_cpu_level(0)
    try:
        plain = _attention(chainrule, arrays, grad, is_causal=True)
    finally:
        _native.cap_cpu_level(2)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, **TOL[dtype])


def test_output_and_gradients_are_laid_out_as_torch_lays_them_out():
    """Heads split off one tensor give an output laid out as (B, L, H, Ev), which joining the
    heads again reads as it is; contiguous heads, a contiguous output. Gradients follow inputs."""
    torch = require_torch()
    for layout in ("heads", "contiguous"):
        arrays = _inputs(GPT, np.float32, layout)
        ours = F.scaled_dot_product_attention(*map(chainrule.from_numpy, arrays), is_causal=True)
        theirs = torch.nn.functional.scaled_dot_product_attention(*map(torch.from_numpy, arrays),
                                                                  is_causal=True)
        assert ours.stride() == theirs.stride()
    out, probs = compiled.attention(*arrays, True, 0.5)
    grads = compiled.attention_grads(*arrays, probs, np.ones_like(out), True, 0.5)
    assert [g.strides for g in grads] == [a.strides for a in arrays]


def test_empty_rows_and_upstream_gradient_of_stride_zero():
    """``out.sum().backward()`` sends a broadcast gradient, all strides 0."""
    arrays = _inputs((2, 2, 7, 7, 4, 4), np.float64, "heads")

    def run():
        tensors = [chainrule.from_numpy(a).requires_grad_() for a in arrays]
        F.scaled_dot_product_attention(*tensors, is_causal=True).sum().backward()
        return [t.grad.numpy() for t in tensors]

    on, off = _with_and_without_kernels(run)
    for a, b in zip(on, off):
        np.testing.assert_allclose(a, b, **TOL[np.float64])


def test_cases_left_to_numpy():
    q = np.ones((2, 3, 4, 5), np.float32)
    assert compiled.attention(q, q, q, False, 1.0) is not None
    assert compiled.attention(q[None], q[None], q[None], False, 1.0) is None  # 5-d
    assert compiled.attention(q, q[:, :1], q[:, :1], False, 1.0) is None  # broadcast heads
    assert compiled.attention(q, q.astype(np.float64), q, False, 1.0) is None  # mixed dtypes
    assert compiled.attention(q[..., :0], q[..., :0], q, False, 1.0) is None  # empty
    assert compiled.attention(*(q.astype(np.float16),) * 3, False, 1.0) is None
    saved = native.enabled
    try:
        native.enabled = False
        assert compiled.attention(q, q, q, False, 1.0) is None
    finally:
        native.enabled = saved
    t = chainrule.tensor(q, requires_grad=True)
    mask = chainrule.zeros(4, 4, requires_grad=True)
    assert F.scaled_dot_product_attention(t, t, t, is_causal=True).grad_fn.compiled
    assert not F.scaled_dot_product_attention(t, t, t, attn_mask=mask).grad_fn.compiled
    assert not F.scaled_dot_product_attention(t, t, t, attn_mask=mask > 0, is_causal=True).grad_fn.compiled
    assert not F.scaled_dot_product_attention(t, t, t, dropout_p=0.5).grad_fn.compiled


def test_gradients_of_heads_split_off_one_projection_share_one_array():
    """q, k and v split off one (B, T, 3C) projection get gradients at the same places of one
    new array, which split's backward then returns whole, without a copy; values as NumPy's."""
    b, t, heads, d = 2, 5, 2, 4
    width = heads * d
    rng = np.random.default_rng(3)
    projection = rng.standard_normal((b, t, 3 * width)).astype(np.float32)
    q, k, v = (projection[..., i * width:(i + 1) * width].reshape(b, t, heads, d).transpose(0, 2, 1, 3)
               for i in range(3))
    out, probs = compiled.attention(q, k, v, True, 0.5)
    grads = compiled.attention_grads(q, k, v, probs, np.ones_like(out), True, 0.5)
    assert grads[0].base is not None and all(g.base is grads[0].base for g in grads)
    assert [g.strides for g in grads] == [a.strides for a in (q, k, v)]
    assert grads[1].ctypes.data - grads[0].ctypes.data == width * 4  # k's columns follow q's

    def through_split():
        x = chainrule.from_numpy(projection).requires_grad_()
        parts = (p.view(b, t, heads, d).transpose(1, 2) for p in x.split(width, dim=2))
        F.scaled_dot_product_attention(*parts, is_causal=True).sum().backward()
        return x.grad.numpy()

    on, off = _with_and_without_kernels(through_split)
    np.testing.assert_allclose(on, off, **TOL[np.float32])
