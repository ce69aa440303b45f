"""The seam between the ops and ``chainrule.backends.cpu``: the ops state the algorithm, the
backend makes it fast, and the two forms of a gradient agree.

Convolution's array-level backward (``Convolution.backward_arrays``, which the engine runs when
no graph of the backward is recorded) must give what its differentiable ``backward`` gives
(run by ``create_graph=True``), in every layout and with the compiled kernels on and off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule.backends import native
from chainrule.backends.cpu import relu as relu_backend
from chainrule.backends.cpu.windows import remembered
from chainrule.nn.functional.conv import Convolution

ROOT = Path(__file__).resolve().parent.parent


def kernel_switch():
    """The switch values worth running: on (where built) and off."""
    return [True, False] if native.is_available() else [False]


@pytest.fixture(params=kernel_switch(), ids=lambda on: "kernels" if on else "numpy")
def kernels_on(request):
    saved, native.enabled = native.enabled, request.param
    yield request.param
    native.enabled = saved


CONV_CASES = {
    # name: (input shape, weight shape, keyword arguments)
    "per-sample, direct": ((4, 1, 12, 12), (6, 1, 5, 5), {"padding": 2}),
    "whole-batch, direct input grad": ((8, 6, 9, 9), (16, 6, 5, 5), {}),
    "whole-batch, strided": ((3, 8, 9, 8), (5, 8, 3, 3), {"stride": 2, "padding": 1}),
    "grouped, dilated": ((2, 4, 9, 9), (6, 2, 3, 3), {"groups": 2, "dilation": 2}),
    "one sample": ((1, 8, 7, 7), (3, 8, 3, 3), {"padding": 1}),
    "1-d": ((3, 4, 11), (5, 4, 3), {"padding": 1}),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("needs", ["all", "weight", "input"])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_convolution_backward_arrays_agree_with_backward(case, needs, dtype, kernels_on):
    x_shape, w_shape, kwargs = CONV_CASES[case]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1])]
    grads = {"all": (True, True, True), "weight": (False, True, True),
             "input": (True, False, False)}[needs]
    x, w, b = (chainrule.tensor(a, requires_grad=g) for a, g in zip(arrays, grads))
    conv = F.conv1d if len(x_shape) == 3 else F.conv2d
    out = conv(x, w, b, **kwargs)
    assert out.grad_fn._forward_cls is Convolution
    grad = chainrule.tensor(rng.standard_normal(out.shape).astype(dtype))
    wanted = [t for t in (x, w, b) if t.requires_grad]
    from_arrays = chainrule.autograd.grad(out, wanted, grad, retain_graph=True)
    from_tensors = chainrule.autograd.grad(out, wanted, grad, create_graph=True)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for a, t in zip(from_arrays, from_tensors):
        assert a.dtype == t.dtype and a.shape == t.shape and a.grad_fn is None
        np.testing.assert_allclose(a.numpy(), t.detach().numpy(), rtol=tolerance,
                                   atol=tolerance * np.abs(t.detach().numpy()).max())


def test_convolution_gradients_are_recorded_only_with_create_graph():
    x = chainrule.randn(2, 3, 6, 6, requires_grad=True)
    w = chainrule.randn(4, 3, 3, 3, requires_grad=True)
    b = chainrule.randn(4, requires_grad=True)
    loss = (F.conv2d(x, w, b) ** 2).sum()
    recorded = chainrule.autograd.grad(loss, (x, w, b), create_graph=True)
    assert all(g.requires_grad and g.grad_fn is not None for g in recorded)
    plain = chainrule.autograd.grad(loss, (x, w, b))
    assert not any(g.requires_grad or g.grad_fn is not None for g in plain)


def test_conv_geometry_is_checked_and_built_once_per_call_shape(monkeypatch):
    from chainrule.nn.functional import conv

    built = []
    build = conv._checked_geometry
    monkeypatch.setattr(conv, "_checked_geometry", lambda *args: built.append(1) or build(*args))
    x, w = chainrule.randn(2, 3, 8, 13), chainrule.randn(4, 3, 3, 2)  # a shape no other test uses
    outs = [F.conv2d(x, w, padding=1) for _ in range(3)]
    assert len(built) == 1
    assert all(np.array_equal(o.numpy(), outs[0].numpy()) for o in outs)
    F.conv2d(x[:1], w, padding=1)
    assert len(built) == 2


def test_remembered_builds_once_and_skips_unhashable_keys():
    cache, calls = {}, []

    def build():
        calls.append(1)
        return object()

    assert remembered(cache, ("a", 1), build) is remembered(cache, ("a", 1), build)
    assert len(calls) == 1
    assert remembered(cache, ("a", [1]), build) is not remembered(cache, ("a", [1]), build)
    assert len(calls) == 3 and len(cache) == 1


@pytest.mark.parametrize("size", [7, native.MIN_SIZE + 7])  # the NumPy path and the kernels
def test_relu_arrays_follow_torch_rules_at_every_size(size, kernels_on):
    x = np.resize(np.array([-2.0, -0.0, 0.0, 3.0, np.nan, np.inf, -np.inf], np.float32), size)
    grad = np.resize(np.array([1.0, 2.0, np.inf, -4.0, 5.0, np.nan, np.inf], np.float32), size)
    result = relu_backend.relu(x)
    np.testing.assert_array_equal(result[:7], [0, 0, 0, 3, np.nan, np.inf, 0])
    np.testing.assert_array_equal(relu_backend.relu_grad(grad, result)[:7],
                                  [0, 0, 0, -4, 0, np.nan, 0])
    finite = np.nan_to_num(grad, nan=1.0, posinf=2.0)
    np.testing.assert_array_equal(relu_backend.relu_grad(finite, result)[:7],
                                  [0, 0, 0, -4, 0, 1, 0])


@pytest.mark.skipif(not native.is_available(), reason="the compiled kernels were not built")
def test_kernels_for_takes_only_large_contiguous_arrays_of_one_dtype_and_shape():
    saved, native.enabled = native.enabled, True
    try:
        big = np.zeros(native.MIN_SIZE, np.float32)
        assert native.kernels_for(big, big.copy()) is not None
        assert native.kernels_for(big[:-1]) is None  # too small to pay for the call
        assert native.kernels_for(np.zeros(2 * native.MIN_SIZE, np.float32)[::2]) is None
        assert native.kernels_for(big, big.astype(np.float64)) is None
        assert native.kernels_for(big, big.reshape(64, -1)) is None
        assert native.kernels_for(big.astype(np.float16)) is None  # not built for it
        native.enabled = False
        assert native.kernels_for(big) is None
    finally:
        native.enabled = saved


@pytest.mark.parametrize("path", ["chainrule/nn/functional/conv.py",
                                  "chainrule/nn/functional/fold.py",
                                  "chainrule/nn/functional/pooling.py",
                                  "chainrule/_ops/unary.py"])
def test_ops_leave_layouts_and_kernels_to_the_backend(path):
    """The ops read as the algorithm: no compiled kernels, strided tricks or grad-mode
    branches of their own (``chainrule.backends.cpu`` chooses the fast path)."""
    source = (ROOT / path).read_text()
    for machinery in ("native.kernels", "as_strided", "state.enabled", "is_grad_enabled",
                      "whole_batch", ".requires_grad else"):
        assert machinery not in source, f"{path} uses {machinery}"
