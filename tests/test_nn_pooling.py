"""Pooling and interpolation against torch: values, indices and gradients."""

import itertools

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}


def compare(ours, theirs, shape, dtype=np.float64, **kwargs):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    xc, xt = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xc, **kwargs), theirs(xt, **kwargs)
    indices = None
    if isinstance(out, tuple):
        (out, indices), (expected, expected_indices) = out, expected
        np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
        assert indices.dtype == chainrule.int64
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **TOL[dtype])
    g = np.random.default_rng(1).standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(chainrule.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **TOL[dtype])
    assert xc.grad.dtype == xc.dtype


MAX2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
    dict(kernel_size=2, stride=1, return_indices=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True),
]


@pytest.mark.parametrize("kwargs", MAX2D, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_matches_torch(kwargs, dtype):
    compare(F.max_pool2d, TF.max_pool2d, (2, 3, 7, 6), dtype, **kwargs)


def test_max_pool2d_unbatched_and_ties():
    compare(F.max_pool2d, TF.max_pool2d, (3, 6, 6), kernel_size=2, return_indices=True)
    x = chainrule.ones(1, 1, 4, 4, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    expected = torch.ones(1, 1, 4, 4, requires_grad=True)
    TF.max_pool2d(expected, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), expected.grad.numpy())


@pytest.mark.parametrize("with_nan", [False, True])
@pytest.mark.parametrize("kernel", [2, 3, (2, 3)])
def test_max_pool2d_side_by_side_windows_ties_nan_and_infinite_grads(kernel, with_nan):
    """Windows with stride == kernel take a fast path: same winners, NaNs and gradients."""
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 7))
    x = np.maximum(np.round(x), 0)  # many ties, as after a ReLU
    x[0, 1, 0, :3] = np.inf
    if with_nan:
        x[0, 0, 0, 0] = x[1, 2, 3, 4] = x[1, 2, 3, 5] = np.nan
    results = []
    for lib in (chainrule, torch):
        t = lib.tensor(x, requires_grad=True)
        out, indices = lib.nn.functional.max_pool2d(t, kernel, return_indices=True)
        g = np.random.default_rng(1).standard_normal(tuple(out.shape))
        g[0, 0, 1, 1], g[1, 1, 0, 0] = np.inf, np.nan
        out.backward(lib.tensor(g))
        results.append((out.detach().numpy(), indices.numpy(), t.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=1, dilation=2, return_indices=True)], ids=str)
def test_max_pool1d_matches_torch(kwargs):
    compare(F.max_pool1d, TF.max_pool1d, (2, 3, 9), **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), count_include_pad=False),
    dict(kernel_size=2, divisor_override=3),
], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool2d_matches_torch(kwargs, dtype):
    compare(F.avg_pool2d, TF.avg_pool2d, (2, 3, 7, 6), dtype, **kwargs)


def test_avg_pool1d_matches_torch():
    compare(F.avg_pool1d, TF.avg_pool1d, (2, 3, 9), kernel_size=3, stride=2, padding=1,
            ceil_mode=True, count_include_pad=False)


@pytest.mark.parametrize("output_size", [1, (3, 4), (7, 6), (4, None), (5, 2)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_avg_pool2d_matches_torch(output_size, dtype):
    compare(F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, (2, 3, 7, 6), dtype,
            output_size=output_size)


@pytest.mark.parametrize("output_size", [1, (3, 4), (2, 3), (5, 2)], ids=str)
def test_adaptive_max_pool2d_matches_torch(output_size):
    compare(F.adaptive_max_pool2d, TF.adaptive_max_pool2d, (2, 3, 7, 6), output_size=output_size,
            return_indices=True)


def test_adaptive_pool1d_matches_torch():
    compare(F.adaptive_avg_pool1d, TF.adaptive_avg_pool1d, (2, 3, 7), output_size=3)
    compare(F.adaptive_max_pool1d, TF.adaptive_max_pool1d, (2, 3, 7), output_size=3)


@pytest.mark.parametrize("kwargs,shape", [
    (dict(scale_factor=2), (2, 3, 5, 6)),
    (dict(size=(7, 4)), (2, 3, 5, 6)),
    (dict(scale_factor=1.5, mode="nearest"), (1, 2, 5, 5)),
    (dict(size=(7, 13), mode="bilinear", align_corners=False), (2, 3, 5, 6)),
    (dict(size=(7, 13), mode="bilinear", align_corners=True), (2, 3, 5, 6)),
    (dict(scale_factor=1.7, mode="bilinear", align_corners=False), (2, 3, 5, 6)),
    (dict(scale_factor=(0.5, 2), mode="bilinear", align_corners=True), (1, 2, 6, 3)),
    (dict(scale_factor=2.5, mode="linear"), (2, 3, 5)),
    (dict(size=9, mode="nearest"), (2, 3, 4)),
], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate_matches_torch(kwargs, shape, dtype):
    compare(F.interpolate, TF.interpolate, shape, dtype, **kwargs)


@pytest.mark.parametrize("fn,tfn,kwargs", [
    (F.max_pool2d, TF.max_pool2d, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (F.avg_pool2d, TF.avg_pool2d, dict(kernel_size=3, stride=2, padding=1)),
    (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, dict(output_size=(3, 4))),
    (F.adaptive_max_pool2d, TF.adaptive_max_pool2d, dict(output_size=(3, 4))),
    (F.interpolate, TF.interpolate, dict(size=(9, 8), mode="bilinear", align_corners=False)),
])
def test_pooling_double_backward_matches_torch(fn, tfn, kwargs):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    results = []
    for lib, f in ((chainrule, fn), (torch, tfn)):
        t = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad((f(t, **kwargs) ** 3).sum(), t, create_graph=True)
        (g ** 2).sum().backward()
        results.append(t.grad.detach().numpy())
    np.testing.assert_allclose(*results, rtol=1e-9, atol=1e-9)


def test_pooling_errors():
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(chainrule.randn(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(chainrule.randn(1, 1, 2, 2), 3)


@pytest.mark.parametrize("name,args,kwargs", [
    ("MaxPool2d", (2,), {}), ("MaxPool2d", (3, 2, 1), dict(ceil_mode=True)),
    ("MaxPool1d", (3,), dict(stride=2)), ("AvgPool2d", (3, 2, 1), {}), ("AvgPool1d", (3,), {}),
    ("AdaptiveAvgPool2d", ((3, None),), {}), ("AdaptiveMaxPool2d", (2,), {}),
    ("AdaptiveAvgPool1d", (4,), {}), ("Upsample", (), dict(scale_factor=2)),
    ("Upsample", (), dict(size=(3, 4), mode="bilinear")),
])
def test_pool_module_repr_and_forward(name, args, kwargs):
    ours = getattr(chainrule.nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    shape = (2, 3, 8) if name.endswith("1d") else (2, 3, 8, 7)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(ours(chainrule.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_max_pool_module_return_indices():
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    _, indices = chainrule.nn.MaxPool2d(2, return_indices=True)(chainrule.tensor(x))
    _, expected = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(indices.numpy(), expected.numpy())


# ------------------------------------------------------------------ the grid


@pytest.mark.parametrize("kernel_size,stride,padding,dilation,ceil_mode", list(itertools.product(
    (2, 3, (3, 2)), (None, 1, 2, (2, 3)), (0, 1), (1, 2), (False, True))), ids=str)
def test_max_pool2d_grid_matches_torch(kernel_size, stride, padding, dilation, ceil_mode):
    compare(F.max_pool2d, TF.max_pool2d, (2, 3, 8, 7), kernel_size=kernel_size, stride=stride,
            padding=padding, dilation=dilation, ceil_mode=ceil_mode, return_indices=True)


@pytest.mark.parametrize("kernel_size,stride,padding,dilation,ceil_mode", list(itertools.product(
    (2, 3), (None, 1, 2), (0, 1), (1, 2), (False, True))), ids=str)
def test_max_pool1d_grid_matches_torch(kernel_size, stride, padding, dilation, ceil_mode):
    compare(F.max_pool1d, TF.max_pool1d, (2, 3, 9), kernel_size=kernel_size, stride=stride,
            padding=padding, dilation=dilation, ceil_mode=ceil_mode, return_indices=True)


@pytest.mark.parametrize("kernel_size,stride,padding,ceil_mode,count_include_pad", list(itertools.product(
    (2, 3, (3, 2)), (None, 1, 2, (2, 3)), (0, 1), (False, True), (True, False))), ids=str)
def test_avg_pool2d_grid_matches_torch(kernel_size, stride, padding, ceil_mode, count_include_pad):
    compare(F.avg_pool2d, TF.avg_pool2d, (2, 3, 8, 7), kernel_size=kernel_size, stride=stride,
            padding=padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)


@pytest.mark.parametrize("fn,kwargs,shape", [
    ("max_pool2d", dict(kernel_size=2, padding=2), (1, 1, 6, 6)),
    ("max_pool2d", dict(kernel_size=(3, 2), padding=(1, 2)), (1, 1, 6, 6)),
    ("max_pool2d", dict(kernel_size=3, dilation=3), (1, 1, 6, 6)),
    ("max_pool1d", dict(kernel_size=3, padding=2), (1, 1, 6)),
    ("avg_pool2d", dict(kernel_size=2, padding=2), (1, 1, 6, 6)),
    ("avg_pool2d", dict(kernel_size=7), (1, 1, 6, 6)),
], ids=str)
def test_pooling_rejects_what_torch_rejects(fn, kwargs, shape):
    with pytest.raises(RuntimeError) as expected:
        getattr(TF, fn)(torch.zeros(shape), **kwargs)
    with pytest.raises(type(expected.value)):
        getattr(F, fn)(chainrule.zeros(shape), **kwargs)


@pytest.mark.parametrize("size", [(8, 7), (5, 5), (3, 9)], ids=str)
@pytest.mark.parametrize("output_size", [1, 2, (3, 4), (4, None), (None, 1), (5, 7)], ids=str)
def test_adaptive_pool2d_grid_matches_torch(size, output_size):
    compare(F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, (2, 3, *size), output_size=output_size)
    compare(F.adaptive_max_pool2d, TF.adaptive_max_pool2d, (2, 3, *size), output_size=output_size,
            return_indices=True)


@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("bilinear", False),
                                                ("bilinear", True)])
@pytest.mark.parametrize("resize", [dict(scale_factor=2), dict(scale_factor=(1.5, 0.5)),
                                    dict(size=(3, 11)), dict(size=4)], ids=str)
def test_interpolate_grid_matches_torch(mode, align_corners, resize):
    compare(F.interpolate, TF.interpolate, (2, 3, 5, 6), mode=mode, align_corners=align_corners,
            **resize)


# ------------------------------------------------------------------ modules: gradients too


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=(1, 2), ceil_mode=True), (2, 3, 8, 9)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 3, 9)),
    ("AvgPool2d", ((3, 2),), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 8, 9)),
    ("AdaptiveAvgPool2d", ((3, 4),), {}, (2, 3, 8, 9)),
    ("AdaptiveMaxPool2d", ((3, 4),), {}, (2, 3, 8, 9)),
    ("Upsample", (), dict(scale_factor=2, mode="nearest"), (2, 3, 4, 5)),
    ("Upsample", (), dict(size=(7, 9), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    ("UpsamplingBilinear2d", (), dict(scale_factor=2), (2, 3, 4, 5)),
    ("UpsamplingNearest2d", (), dict(size=(6, 7)), (2, 3, 4, 5)),
], ids=str)
def test_pool_modules_match_torch_with_gradients(name, args, kwargs, shape):
    ours = getattr(chainrule.nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, shape)
