"""The compiled kernels (``chainrule.backends.native``) give the NumPy path's results.

Each case runs the same op twice, kernels on and off, and compares the results value for
value (``np.array_equal``, with NaN equal to NaN): the kernels reorder no additions. The
exceptions, compared to rounding, are the direct convolutions (stride 1, no dilation, one
group, and short columns or few output channels), which add in their own order, GELU and
cross-entropy's softmax, whose exp, erf and tanh the kernels evaluate with formulas of their
own, layer norm, whose sums they accumulate in double precision, the embedding gradient, whose
rows they add one after another where NumPy's segmented sum may pair them, and Adam's step,
whose lines they fuse into multiply-adds.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule
import chainrule.nn.functional as F
from chainrule.backends import native
from chainrule.backends.cpu import softmax as cpu_softmax

pytestmark = pytest.mark.skipif(not native.is_available(),
                                reason="the compiled kernels were not built (no C compiler)")


def both_ways(function):
    """``function()`` with the kernels on, then off."""
    saved = native.enabled
    try:
        native.enabled = True
        on = function()
        native.enabled = False
        off = function()
    finally:
        native.enabled = saved
    return on, off


def assert_same(on, off):
    for a, b in zip(on, off):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b, strict=True)


def assert_close(on, off):
    for a, b in zip(on, off):
        assert a.dtype == b.dtype and a.shape == b.shape
        tolerance = 1e-5 if a.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance * np.abs(b).max())


def computed_directly(channels_per_group, out, kernel, stride=(1, 1), dilation=(1, 1), groups=1):
    """Whether the compiled kernels compute this convolution, or its input gradient, directly
    (``ConvGeometry.direct`` and ``direct_input_grad``)."""
    rows = channels_per_group * kernel[0] * kernel[1]
    return stride == (1, 1) and dilation == (1, 1) and groups == 1 and (rows < 64 or out <= 16)


def conv_results(x, w, b, **kwargs):
    xt = chainrule.tensor(x, requires_grad=True)
    wt = chainrule.tensor(w, requires_grad=True)
    bt = chainrule.tensor(b, requires_grad=True)
    out = F.conv2d(xt, wt, bt, **kwargs)
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)
    out.backward(chainrule.tensor(grad))
    return [out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]


conv_geometries = st.fixed_dictionaries({
    "batch": st.integers(1, 5),
    "groups": st.sampled_from([1, 2]),
    "channels_per_group": st.integers(1, 12),  # 12 * 3 * 3 = 108 rows: the whole-batch layout
    "out_per_group": st.integers(1, 3),
    "size": st.tuples(st.integers(3, 9), st.integers(3, 9)),
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "padding": st.tuples(st.integers(0, 2), st.integers(0, 2)),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2)),
    "dtype": st.sampled_from([np.float32, np.float64]),
})


@settings(deadline=None)
@given(conv_geometries)
def test_convolution_forward_and_gradients_match_numpy_path(g):
    reach = [d * (k - 1) + 1 for d, k in zip(g["dilation"], g["kernel"])]
    if any(s + 2 * p < r for s, p, r in zip(g["size"], g["padding"], reach)):
        return  # the kernel does not fit
    rng = np.random.default_rng(0)
    c, o = g["groups"] * g["channels_per_group"], g["groups"] * g["out_per_group"]
    x = rng.standard_normal((g["batch"], c) + g["size"]).astype(g["dtype"])
    w = rng.standard_normal((o, g["channels_per_group"]) + g["kernel"]).astype(g["dtype"])
    b = rng.standard_normal(o).astype(g["dtype"])
    kwargs = {k: g[k] for k in ("stride", "padding", "dilation", "groups")}
    direct = computed_directly(g["channels_per_group"], o, g["kernel"], g["stride"],
                               g["dilation"], g["groups"])
    (assert_close if direct else assert_same)(*both_ways(lambda: conv_results(x, w, b, **kwargs)))


@pytest.mark.parametrize("channels", [1, 3, 8])  # 8 * 9 = 72 rows: the whole-batch layout
def test_same_padding_and_conv1d_and_transpose_match(channels):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, channels, 7, 6)).astype(np.float32)
    w = rng.standard_normal((5, channels, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    direct = computed_directly(channels, 5, (3, 3))
    (assert_close if direct else assert_same)(
        *both_ways(lambda: conv_results(x, w, b, padding="same")))
    x1 = chainrule.tensor(x[:, :, 0], requires_grad=True)
    w1 = chainrule.tensor(w[:, :, 0])

    def one_d():
        out = F.conv1d(x1, w1, padding=1, stride=2)
        (gx,) = chainrule.autograd.grad(out.sum(), x1)
        return [out.detach().numpy(), gx.numpy()]

    assert_same(*both_ways(one_d))
    wt = chainrule.tensor(rng.standard_normal((channels, 2, 3, 3)).astype(np.float32))
    assert_same(*both_ways(lambda: [F.conv_transpose2d(chainrule.tensor(x), wt, stride=2,
                                                       output_padding=1).numpy()]))


def pool_results(x, **kwargs):
    xt = chainrule.tensor(x, requires_grad=True)
    out, indices = F.max_pool2d(xt, return_indices=True, **kwargs)
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)
    out.backward(chainrule.tensor(grad))
    return [out.detach().numpy(), indices.numpy(), xt.grad.numpy()]


pool_geometries = st.fixed_dictionaries({
    "size": st.tuples(st.integers(2, 9), st.integers(2, 9)),
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "padding": st.tuples(st.integers(0, 1), st.integers(0, 1)),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2)),
    "ceil_mode": st.booleans(),
    "specials": st.sampled_from(["none", "ties", "nan", "inf"]),
    "dtype": st.sampled_from([np.float32, np.float64]),
})


@settings(deadline=None)
@given(pool_geometries)
def test_max_pool_values_indices_and_gradient_match_numpy_path(g):
    if any(2 * p > d * (k - 1) + 1 for p, k, d in zip(g["padding"], g["kernel"], g["dilation"])):
        return  # padding larger than half the window is refused
    reach = [d * (k - 1) + 1 for d, k in zip(g["dilation"], g["kernel"])]
    if any(s + 2 * p < r for s, p, r in zip(g["size"], g["padding"], reach)):
        return
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3) + g["size"]).astype(g["dtype"])
    if g["specials"] == "ties":
        x = np.round(x)
    elif g["specials"] == "nan":
        x[rng.random(x.shape) < 0.2] = np.nan
    elif g["specials"] == "inf":
        x[rng.random(x.shape) < 0.3] = -np.inf
    kwargs = {k: g[k] for k in ("stride", "padding", "dilation", "ceil_mode")}
    assert_same(*both_ways(lambda: pool_results(x, kernel_size=g["kernel"], **kwargs)))


@pytest.mark.parametrize("specials", ["none", "ties", "nan", "inf"])
@pytest.mark.parametrize("size,kernel", [((8, 8), 2), ((9, 7), 2), ((9, 9), 3), ((6, 8), (3, 2))])
def test_side_by_side_windows_match_numpy_path(size, kernel, specials):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2) + size).astype(np.float32)
    if specials == "ties":
        x = np.round(x / 2)
    elif specials == "nan":
        x[rng.random(x.shape) < 0.2] = np.nan
    elif specials == "inf":
        x[rng.random(x.shape) < 0.3] = -np.inf
    assert_same(*both_ways(lambda: pool_results(x, kernel_size=kernel)))


@pytest.mark.parametrize("level", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch,channels,out,size,kernel,padding", [
    (16, 1, 6, (28, 28), (5, 5), 2),  # LeNet-5's first convolution
    (3, 2, 7, (7, 9), (3, 2), (1, 0)),  # channel and tap counts off the tiles' sizes
    (2, 3, 13, (5, 4), (1, 3), 2),  # padding beyond the kernel: the input gradient crops
    (1, 7, 1, (6, 6), (3, 3), 0),
    (64, 6, 16, (14, 14), (5, 5), 0),  # LeNet-5's second: the input gradient alone, batch-innermost
    (10, 8, 5, (6, 7), (3, 3), 1),  # ... with a batch that is no whole number of vectors
    (3, 7, 16, (4, 5), (3, 4), (2, 1)),
])
def test_direct_convolution_matches_numpy_path_in_every_build(batch, channels, out, size, kernel,
                                                               padding, dtype, level):
    """The AVX-512 and AVX2 builds of the direct convolution and input gradient (those this
    CPU has); below them (level 0), im2col and the NumPy path's exact results."""
    from chainrule import _native

    assert computed_directly(channels, out, kernel)
    if _native.KERNELS[np.dtype(dtype)].direct_level < level:
        pytest.skip(f"this CPU has no build-{level} direct convolutions (1: AVX2, 2: AVX-512)")
    compare = assert_close if level else assert_same
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, channels) + size).astype(dtype)
    w = rng.standard_normal((out, channels) + kernel).astype(dtype)
    b = rng.standard_normal(out).astype(dtype)
    wt = chainrule.tensor(w.transpose(1, 0, 2, 3).copy())  # conv_transpose2d's layout

    def transposed():
        return [F.conv_transpose2d(chainrule.tensor(x), wt, chainrule.tensor(b), padding=padding).numpy()]

    _native.cap_cpu_level(level)
    try:
        results = both_ways(lambda: conv_results(x, w, b, padding=padding))
        pads = (padding,) * 2 if isinstance(padding, int) else padding
        if all(n - 1 - 2 * p + k > 0 for n, p, k in zip(size, pads, kernel)):
            compare(*both_ways(transposed))
    finally:
        _native.cap_cpu_level(2)
    compare(*results)


def test_lenet_training_steps_agree_with_and_without_kernels():
    from benchmarks.lenet_step import build

    def losses():
        step = build(chainrule, batch=8)
        return [np.array([step().item() for _ in range(3)], np.float32)]  # float32 losses

    assert_close(*both_ways(losses))


def test_switch_defaults_on_and_kernels_cover_float_types_only():
    assert native.enabled == (os.environ.get("CHAINRULE_NATIVE", "1") != "0")
    saved = native.enabled
    try:
        native.enabled = True
        assert native.kernels(np.dtype(np.float32)) is not None
        assert native.kernels(np.dtype(np.float16)) is None
        native.enabled = False
        assert native.kernels(np.dtype(np.float32)) is None
    finally:
        native.enabled = saved


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_its_gradient_match_numpy_path_and_torch_rules(dtype):
    copies = (1, 1000)  # large enough for the compiled kernels (small arrays skip them)
    x = np.tile(np.array([[-2.0, -0.0, 0.0, 3.0, np.nan, np.inf, -np.inf]], dtype), copies)
    grad = np.tile(np.array([[1.0, 2.0, np.inf, -4.0, 5.0, np.nan, np.inf]], dtype), copies)

    def run():
        xt = chainrule.tensor(x, requires_grad=True)
        out = F.relu(xt)
        out.backward(chainrule.tensor(grad))
        return [out.detach().numpy(), xt.grad.numpy()]

    on, off = both_ways(run)
    assert_same(on, off)
    # PyTorch: relu keeps NaN; the gradient is 0 where the output is not positive, even
    # where the incoming gradient is inf or NaN.
    for result in (on, off, both_ways(lambda: [F.relu(chainrule.tensor(x[:, :7])).numpy()])[0]):
        np.testing.assert_array_equal(
            result[0], np.tile(np.array([[0, 0, 0, 3, np.nan, np.inf, 0]], dtype),
                               (1, result[0].shape[1] // 7)))
    np.testing.assert_array_equal(on[1], np.tile(np.array([[0, 0, 0, -4, 0, np.nan, 0]], dtype),
                                                 copies))


def test_a_kernel_this_cpu_level_lacks_raises_instead_of_running():
    from chainrule import _native

    kernels = _native.KERNELS[np.dtype(np.float32)]
    g = np.zeros((64, 16, 10, 10), np.float32)
    w = np.zeros((16, 6, 5, 5), np.float32)
    gx = np.empty((64, 6, 14, 14), np.float32)
    packed = np.array([64, 6, 14, 14, 5, 5, 1, 1, 0, 0, 1, 1, 10, 10], np.int64)
    _native.cap_cpu_level(1)  # the batch-innermost input gradient needs level 2
    try:
        assert kernels.direct_level <= 1
        with pytest.raises(RuntimeError, match="does not run on this CPU"):
            kernels.direct_input_grad(g, w, gx, packed, 16)
    finally:
        _native.cap_cpu_level(2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_and_its_gradients_match_numpy_path_and_torch(dtype, approximate):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 129)) * 4).astype(dtype)  # large enough for the kernels
    x[0, :4] = [0.0, -0.0, 30.0, -30.0]
    grad = rng.standard_normal(x.shape).astype(dtype)

    def run():
        xt = chainrule.tensor(x, requires_grad=True)
        out = F.gelu(xt, approximate=approximate)
        (gx,) = chainrule.autograd.grad(out, xt, chainrule.tensor(grad), create_graph=True)
        assert gx.grad_fn.name() == "GeluBackwardBackward0"
        (ggx,) = chainrule.autograd.grad(gx.sum(), xt)
        return [out.detach().numpy(), gx.detach().numpy(), ggx.numpy()]

    on, off = both_ways(run)
    assert_close(on, off)
    xt = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.gelu(xt, approximate=approximate)
    (gx,) = torch.autograd.grad(out, xt, torch.tensor(grad), create_graph=True)
    assert type(gx.grad_fn).__name__ == "GeluBackwardBackward0"
    (ggx,) = torch.autograd.grad(gx.sum(), xt)
    assert_close(on, [out.detach().numpy(), gx.detach().numpy(), ggx.numpy()])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("tail", [1, 7, 9])  # elements past the last whole vector
def test_gelu_at_large_magnitudes_and_vector_tails(dtype, approximate, tail):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    size = native.MIN_SIZE + 64 + tail
    x = np.random.default_rng(tail).standard_normal(size).astype(dtype)
    big = 3e37 if approximate == "none" else 1e12  # x**3 beyond float32: torch's slope is NaN
    x[-14:] = [big, -big, 1e4, -1e4, 100.0, -100.0, 15.0, -15.0, 9.5, -9.5, 5.0, -5.0, 3e-20,
               -3e-20]
    grad = np.random.default_rng(7).standard_normal(size).astype(dtype)

    def run(lib):
        xt = lib.tensor(x, requires_grad=True)
        out = lib.nn.functional.gelu(xt, approximate=approximate)
        out.backward(lib.tensor(grad))
        return [out.detach().numpy(), xt.grad.numpy()]

    on, off = both_ways(lambda: run(chainrule))
    assert_close(on, off)
    assert_close(on, run(torch))
    x[-3:] = [np.nan, np.inf, -np.inf]  # as in torch: NaN but at +inf (where x * Phi(x) is inf)
    for result in [*both_ways(lambda: run(chainrule)), run(torch)]:
        np.testing.assert_array_equal([r[-3:] for r in result], [[np.nan, np.inf, np.nan], [np.nan] * 3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [1, 7, 129, 1000])
@pytest.mark.parametrize("params", ["weight and bias", "weight", "none", "frozen input"])
def test_layer_norm_of_odd_widths_and_constant_rows(dtype, width, params):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    rng = np.random.default_rng(width)
    x = (rng.standard_normal((40, width)) * 3 + 1).astype(dtype)
    x[:3] = np.array([[0.1], [-7.0], [0.0]], dtype)  # constant rows: x_hat is 0 there
    grad = rng.standard_normal(x.shape).astype(dtype)
    weight, bias = (rng.standard_normal(width).astype(dtype) for _ in range(2))

    def run(lib):
        xt = lib.tensor(x, requires_grad=params != "frozen input")
        tensors = [xt] if params != "frozen input" else []
        kwargs = {}
        if params != "none":
            kwargs["weight"] = lib.tensor(weight, requires_grad=True)
            tensors.append(kwargs["weight"])
        if params in ("weight and bias", "frozen input"):
            kwargs["bias"] = lib.tensor(bias, requires_grad=True)
            tensors.append(kwargs["bias"])
        out = lib.nn.functional.layer_norm(xt, (width,), **kwargs)
        if not tensors:
            return [out.numpy()]
        out.backward(lib.tensor(grad))
        return [out.detach().numpy()] + [t.grad.numpy() for t in tensors]

    on, off = both_ways(lambda: run(chainrule))
    assert_close(on, off)
    theirs = run(torch)
    if width == 1:  # all rows constant: torch's gradients are rounding noise around 0
        for a, b in zip(on, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-3)
    else:
        assert_close(on, theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("normalized_shape,affine", [((128,), True), ((4, 32), True), ((128,), False)])
def test_layer_norm_and_its_gradients_match_numpy_path_and_torch(dtype, normalized_shape, affine):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    rng = np.random.default_rng(5)
    arrays = [(rng.standard_normal((6, 8, 128)) * 3 + 1).astype(dtype)]
    arrays += [rng.standard_normal(normalized_shape).astype(dtype) for _ in range(2 if affine else 0)]
    grad = rng.standard_normal((6, 8, 128)).astype(dtype)

    def run(lib):
        tensors = [lib.tensor(arrays[0].reshape(6, 8, *normalized_shape), requires_grad=True)]
        tensors += [lib.tensor(a, requires_grad=True) for a in arrays[1:]]
        out = lib.nn.functional.layer_norm(tensors[0], normalized_shape, *tensors[1:])
        out.backward(lib.tensor(grad.reshape(out.shape)))
        return [out.detach().numpy()] + [t.grad.numpy() for t in tensors]

    on, off = both_ways(lambda: run(chainrule))
    assert_close(on, off)
    assert_close(on, run(torch))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"padding_idx": 3}, {"scale_grad_by_freq": True}])
def test_embedding_gradient_matches_numpy_path_and_torch(dtype, options):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    rng = np.random.default_rng(3)
    table = rng.standard_normal((65, 130)).astype(dtype)
    ids = rng.integers(0, 60, (12, 64))  # rows 60-64 never looked up: their gradient is 0
    grad = rng.standard_normal((12, 64, 130)).astype(dtype)

    def run(lib, index_dtype=np.int64):
        weight = lib.tensor(table, requires_grad=True)
        lib.nn.functional.embedding(lib.tensor(ids.astype(index_dtype)), weight, **options).backward(
            lib.tensor(grad))
        return [weight.grad.numpy()]

    on, off = both_ways(lambda: run(chainrule))
    assert_close(on, off)
    assert_close(on, run(chainrule, np.int32))
    assert_close(on, run(torch))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, options", [
    ("Adam", {}), ("Adam", {"weight_decay": 0.1, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("AdamW", {"weight_decay": 0.3}), ("AdamW", {"maximize": True}), ("AdamW", {"amsgrad": True})])
def test_adam_steps_match_numpy_path_and_torch(dtype, name, options):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    rng = np.random.default_rng(11)
    shapes = [(37, 29), (7,), ()]  # vector tails, and a 0-d parameter
    values = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    grads = [[rng.standard_normal(shape).astype(dtype) for shape in shapes] for _ in range(4)]

    def run(lib):
        params = [lib.nn.Parameter(lib.tensor(v)) for v in values]
        optimizer = getattr(lib.optim, name)(params, lr=0.05, **options)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = lib.tensor(g)
            optimizer.step()
        return [p.detach().numpy() for p in params] + [
            optimizer.state[p][key].numpy() for p in params for key in ("exp_avg", "exp_avg_sq")]

    on, off = both_ways(lambda: run(chainrule))
    assert_close(on, off)
    assert_close(on, run(torch))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [1, 7, 65, 129])
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1, "reduction": "none"}])
def test_cross_entropy_softmax_rows_match_numpy_path_and_torch(dtype, width, options):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    rng = np.random.default_rng(width)
    rows = native.MIN_SIZE // width + 3
    logits = (rng.standard_normal((rows, width)) * 4).astype(dtype)
    logits[0] = 7.0  # a constant row
    logits[1, ::2] = -200.0  # exponentials far below the smallest normal float: 0
    targets = rng.integers(0, width, rows)
    grad = rng.standard_normal(rows if options else ()).astype(dtype)

    def run(lib):
        x = lib.tensor(logits, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(targets), **options)
        loss.backward(lib.tensor(grad))
        return [loss.detach().numpy(), x.grad.numpy()]

    on, off = both_ways(lambda: run(chainrule))
    assert_close(on, off)
    theirs = run(torch)
    if width > 1:  # e^-200 is 0 in float32 (as NumPy's exp gives), not the smallest normal float
        probs = cpu_softmax.log_softmax_rows(logits)[1]
        assert (probs[1, ::2] == 0).all() == (dtype == np.float32)
    if width == 1:  # one class: the gradient is 0, ours up to rounding (with or without kernels)
        np.testing.assert_allclose(on[1], theirs[1], atol=1e-6)
        on, theirs = on[:1], theirs[:1]
    assert_close(on, theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 18), (3, 1), (5, 33)])
def test_log_softmax_of_small_rows_matches_numpy_path_and_torch(dtype, shape):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    logits = (np.random.default_rng(shape[1]).standard_normal(shape) * 4).astype(dtype)
    logits[0, 0] = 90.0  # exp would overflow unshifted
    logits[-1] = -np.inf if shape[0] > 2 else logits[-1]  # a row of -inf: NaN throughout
    grad = np.random.default_rng(1).standard_normal(shape).astype(dtype)

    def run(lib):
        x = lib.tensor(logits, requires_grad=True)
        out = lib.nn.LogSoftmax(dim=1)(x)
        out.backward(lib.tensor(grad))
        return [out.detach().numpy(), x.grad.numpy()]

    assert cpu_softmax.log_softmax(logits) is not None  # the kernel's case
    on, off = both_ways(lambda: run(chainrule))
    np.testing.assert_array_equal(np.isnan(on[0]), np.isnan(off[0]))
    def finite(arrays):
        return [np.nan_to_num(a) for a in arrays]

    assert_close(finite(on), finite(off))
    assert_close(finite(on), finite(run(torch)))
