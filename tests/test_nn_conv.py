"""Convolutions (F.conv1d/conv2d/conv_transpose*/unfold/fold, nn.Conv*) against torch:
forward values and every gradient, float32 and float64, plus double backward."""

import itertools

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-9, atol=1e-9)}


def compare(ours, theirs, shapes, dtype=np.float64, grad_seed=1, **kwargs):
    """Run both with the same inputs; compare the output and each input's gradient."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    xs = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ours(*xs, **kwargs)
    expected = theirs(*ts, **kwargs)
    assert tuple(out.shape) == tuple(expected.shape)
    assert out.dtype == getattr(chainrule, str(expected.dtype).split(".")[1])
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **TOL[dtype])
    g = np.random.default_rng(grad_seed).standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(chainrule.tensor(g))
    expected.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL[dtype])


def double_backward(ours, theirs, shapes, **kwargs):
    """Gradient of the squared norm of the first gradients: exercises create_graph."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    results = []
    for lib, fn in ((chainrule, ours), (torch, theirs)):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        grads = lib.autograd.grad((fn(*xs, **kwargs) ** 2).sum(), xs, create_graph=True)
        sum((g ** 2).sum() for g in grads).backward()
        results.append([x.grad.detach().numpy() for x in xs])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)


CONV2D = [
    dict(shapes=[(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
    dict(shapes=[(2, 3, 7, 6), (4, 3, 3, 2), (4,)], stride=2, padding=1),
    dict(shapes=[(2, 3, 7, 6), (4, 3, 3, 2)], stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
    dict(shapes=[(2, 4, 7, 6), (6, 2, 3, 2), (6,)], groups=2, padding=1),
    dict(shapes=[(1, 4, 5, 5), (4, 1, 3, 3), (4,)], groups=4, padding="same"),
    dict(shapes=[(2, 3, 8, 7), (5, 3, 4, 2), (5,)], padding="same", dilation=2),
    dict(shapes=[(2, 3, 6, 6), (5, 3, 3, 3)], padding="valid", stride=3),
    dict(shapes=[(3, 6, 6), (2, 3, 3, 3), (2,)], padding=1),  # unbatched
    dict(shapes=[(2, 1, 28, 28), (6, 1, 5, 5), (6,)], padding=2),  # LeNet's first layer
]


@pytest.mark.parametrize("case", CONV2D, ids=lambda c: str({k: v for k, v in c.items() if k != "shapes"}))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matches_torch(case, dtype):
    case = dict(case)
    compare(F.conv2d, TF.conv2d, case.pop("shapes"), dtype, **case)


@pytest.mark.parametrize("case", [
    dict(shapes=[(2, 3, 9), (4, 3, 3), (4,)]),
    dict(shapes=[(2, 4, 9), (6, 2, 2), (6,)], stride=2, padding=1, groups=2),
    dict(shapes=[(2, 3, 10), (4, 3, 4)], padding="same", dilation=3),
    dict(shapes=[(3, 10), (4, 3, 3)], stride=3),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv1d_matches_torch(case, dtype):
    case = dict(case)
    compare(F.conv1d, TF.conv1d, case.pop("shapes"), dtype, **case)


@pytest.mark.parametrize("case", [
    dict(shapes=[(2, 4, 5, 6), (4, 3, 3, 3), (3,)]),
    dict(shapes=[(2, 4, 5, 6), (4, 3, 3, 2), (6,)], stride=2, padding=1, output_padding=1, groups=2),
    dict(shapes=[(2, 3, 4, 4), (3, 2, 2, 3)], stride=(2, 3), dilation=(2, 1), output_padding=(1, 2)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose2d_matches_torch(case, dtype):
    case = dict(case)
    compare(F.conv_transpose2d, TF.conv_transpose2d, case.pop("shapes"), dtype, **case)


def test_conv_transpose1d_matches_torch():
    compare(F.conv_transpose1d, TF.conv_transpose1d, [(2, 4, 5), (4, 3, 3), (3,)], stride=3,
            padding=1, output_padding=2)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=(2, 3), stride=2, padding=1, dilation=(1, 2))])
def test_unfold_matches_torch(kwargs):
    compare(F.unfold, TF.unfold, [(2, 3, 7, 6)], **kwargs)


@pytest.mark.parametrize("kwargs,shape", [
    (dict(output_size=(5, 6), kernel_size=2, stride=(2, 1)), (2, 12, 10)),
    (dict(output_size=(4, 4), kernel_size=3, padding=1), (1, 18, 16))])
def test_fold_matches_torch(kwargs, shape):
    compare(F.fold, TF.fold, [shape], **kwargs)


def test_fold_is_adjoint_of_unfold():
    x = chainrule.randn(1, 2, 5, 5, dtype=chainrule.float64)
    cols = chainrule.randn(1, 18, 9, dtype=chainrule.float64)
    lhs = (F.unfold(x, 3, stride=1) * cols).sum()
    rhs = (x * F.fold(cols, (5, 5), 3)).sum()
    assert abs(lhs.item() - rhs.item()) < 1e-9


@pytest.mark.parametrize("fn,tfn,shapes,kwargs", [
    (F.conv2d, TF.conv2d, [(2, 4, 7, 6), (6, 2, 3, 2), (6,)],
     dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
    (F.conv_transpose2d, TF.conv_transpose2d, [(2, 4, 5, 6), (4, 3, 3, 2), (6,)],
     dict(stride=2, padding=1, output_padding=1, groups=2)),
    (F.conv1d, TF.conv1d, [(2, 3, 8), (4, 3, 3)], dict(padding="same")),
    (F.unfold, TF.unfold, [(2, 3, 7, 6)], dict(kernel_size=(2, 3), stride=2, padding=1)),
])
def test_double_backward_matches_torch(fn, tfn, shapes, kwargs):
    double_backward(fn, tfn, shapes, **kwargs)


def test_conv2d_gradcheck():
    x = chainrule.randn(2, 2, 5, 4, dtype=chainrule.float64, requires_grad=True)
    w = chainrule.randn(4, 1, 3, 2, dtype=chainrule.float64, requires_grad=True)
    b = chainrule.randn(4, dtype=chainrule.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), (x, w, b))


def test_conv2d_keeps_float32_and_names_node():
    x = chainrule.randn(2, 3, 8, 8, requires_grad=True)
    out = F.conv2d(x, chainrule.randn(4, 3, 3, 3))
    assert out.dtype == chainrule.float32
    assert out.grad_fn.name() == "ConvolutionBackward0"
    out.sum().backward()
    assert x.grad.dtype == chainrule.float32


def test_conv2d_errors_match_torch():
    x, w = chainrule.randn(1, 3, 8, 8), chainrule.randn(6, 2, 3, 3)
    with pytest.raises(RuntimeError, match="expected input\\[1, 3, 8, 8\\] to have 2 channels"):
        F.conv2d(x, w)
    with pytest.raises(ValueError, match="not supported for strided"):
        F.conv2d(x, chainrule.randn(6, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        F.conv2d(chainrule.randn(1, 3, 2, 2), chainrule.randn(6, 3, 3, 3))
    with pytest.raises(RuntimeError, match="Input type .* and bias type .* should be the same"):
        F.conv2d(x, chainrule.randn(6, 3, 3, 3), chainrule.randn(6, dtype=chainrule.float64))
    with pytest.raises(RuntimeError):  # torch: "Input type (float) and bias type (double) ..."
        torch.nn.functional.conv2d(torch.randn(1, 3, 8, 8), torch.randn(6, 3, 3, 3),
                                   torch.randn(6, dtype=torch.float64))


# ------------------------------------------------------------------ modules


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same", "valid"])
def test_conv2d_module_padding_modes(padding_mode, padding):
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(4, 6, (3, 4), padding=padding, padding_mode=padding_mode, groups=2)
    ours = chainrule.nn.Conv2d(4, 6, (3, 4), padding=padding, padding_mode=padding_mode, groups=2)
    ours.weight.data = chainrule.tensor(theirs.weight.detach().numpy())
    ours.bias.data = chainrule.tensor(theirs.bias.detach().numpy())
    x = np.random.default_rng(0).standard_normal((2, 4, 6, 7)).astype(np.float32)
    xc, xt = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xc), theirs(xt)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("name,args,kwargs", [
    ("Conv1d", (3, 8, 3), dict(padding="same", dilation=2)),
    ("Conv2d", (3, 8, 3), dict(stride=2, padding=1, bias=False)),
    ("Conv2d", (4, 8, (3, 5)), dict(groups=2, padding_mode="reflect", padding=1)),
    ("ConvTranspose2d", (3, 8, 3), dict(stride=2, output_padding=1)),
    ("ConvTranspose1d", (3, 8, 3), dict(stride=2)),
])
def test_conv_module_repr_and_shapes(name, args, kwargs):
    ours = getattr(chainrule.nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert tuple(ours.weight.shape) == tuple(theirs.weight.shape)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())


def test_conv_module_init_bounds():
    conv = chainrule.nn.Conv2d(4, 8, 3)
    bound = 1 / np.sqrt(4 * 9)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound
    assert conv.weight.detach().numpy().std() > bound / 4


def test_conv_transpose2d_output_size():
    up = chainrule.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    assert tuple(up(chainrule.randn(1, 2, 4, 4), output_size=(8, 8)).shape) == (1, 3, 8, 8)
    assert tuple(up(chainrule.randn(1, 2, 4, 4)).shape) == (1, 3, 7, 7)


# ------------------------------------------------------------------ the grid


def _grid(spatial_dims, transposed=False):
    """Every combination of stride, padding, dilation, groups and bias on small inputs."""
    cases = []
    for stride, padding, dilation, groups, bias in itertools.product(
            (1, 2), (0, 1, "same", "valid"), (1, 2), (1, 2), (True, False)):
        if isinstance(padding, str) and (transposed or (padding == "same" and stride != 1)):
            continue
        channels_in, channels_out = 2 * groups, 3 * groups
        kernel = (3, 2)[:spatial_dims]
        size = (7, 6)[:spatial_dims]
        if transposed:
            weight = (channels_in, channels_out // groups, *kernel)
        else:
            weight = (channels_out, channels_in // groups, *kernel)
        case = dict(shapes=[(2, channels_in, *size), weight] + ([(channels_out,)] if bias else []),
                    stride=stride, padding=padding, dilation=dilation, groups=groups)
        cases.append(case)
        if transposed and stride == 2:  # output_padding must be below stride or dilation
            cases.append(dict(case, output_padding=1))
    return cases


def _case_id(case):
    return "-".join(f"{k}={v}" for k, v in case.items() if k != "shapes") + \
        ("-bias" if len(case["shapes"]) == 3 else "")


@pytest.mark.parametrize("case", _grid(2), ids=_case_id)
def test_conv2d_grid_matches_torch(case):
    case = dict(case)
    compare(F.conv2d, TF.conv2d, case.pop("shapes"), **case)


@pytest.mark.parametrize("case", _grid(1), ids=_case_id)
def test_conv1d_grid_matches_torch(case):
    case = dict(case)
    compare(F.conv1d, TF.conv1d, case.pop("shapes"), **case)


@pytest.mark.parametrize("case", _grid(2, transposed=True), ids=_case_id)
def test_conv_transpose2d_grid_matches_torch(case):
    case = dict(case)
    compare(F.conv_transpose2d, TF.conv_transpose2d, case.pop("shapes"), **case)


@pytest.mark.parametrize("case", _grid(1, transposed=True), ids=_case_id)
def test_conv_transpose1d_grid_matches_torch(case):
    case = dict(case)
    compare(F.conv_transpose1d, TF.conv_transpose1d, case.pop("shapes"), **case)


@pytest.mark.parametrize("kernel_size,dilation,padding,stride", list(itertools.product(
    (2, (2, 3)), (1, (2, 1)), (0, 1), (1, (2, 3)))), ids=str)
def test_unfold_and_fold_grid_match_torch(kernel_size, dilation, padding, stride):
    kwargs = dict(kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
    compare(F.unfold, TF.unfold, [(2, 3, 7, 6)], **kwargs)
    blocks = TF.unfold(torch.zeros(2, 3, 7, 6), **kwargs).shape
    compare(F.fold, TF.fold, [tuple(blocks)], output_size=(7, 6), **kwargs)


# ------------------------------------------------------------------ modules against torch


def _module_pair(name, *args, **kwargs):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(chainrule.nn, name)(*args, **kwargs).double()
    ours.load_state_dict({k: chainrule.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    return ours, theirs


def _compare_modules(ours, theirs, shape, **forward_kwargs):
    x = np.random.default_rng(0).standard_normal(shape)
    xc, xt = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xc, **forward_kwargs), theirs(xt, **forward_kwargs)
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **TOL[np.float64])
    g = np.random.default_rng(1).standard_normal(tuple(expected.shape))
    out.backward(chainrule.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **TOL[np.float64])
    for name, p in theirs.named_parameters():
        mine = dict(ours.named_parameters())[name]
        np.testing.assert_allclose(mine.grad.numpy(), p.grad.numpy(), **TOL[np.float64])


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, 2, "same", "valid"], ids=str)
def test_conv1d_module_padding_modes(padding_mode, padding):
    ours, theirs = _module_pair("Conv1d", 4, 6, 3, padding=padding, padding_mode=padding_mode,
                                groups=2, dilation=2 if padding == "same" else 1)
    _compare_modules(ours, theirs, (2, 4, 9))


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_conv2d_module_strided_padding_modes(padding_mode):
    ours, theirs = _module_pair("Conv2d", 3, 4, 3, stride=2, padding=(1, 2), dilation=(1, 2),
                                padding_mode=padding_mode, bias=False)
    _compare_modules(ours, theirs, (2, 3, 8, 9))


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 4, 5)),
    ("ConvTranspose2d", (3, 2, (2, 3)), dict(stride=(2, 1), dilation=(1, 2), bias=False),
     (2, 3, 4, 4)),
    ("ConvTranspose1d", (4, 2, 3), dict(stride=3, padding=1, output_padding=2), (2, 4, 5)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=(1, 2), padding=1, groups=2),
     (2, 4, 7, 6)),
], ids=str)
def test_conv_modules_match_torch(name, args, kwargs, shape):
    _compare_modules(*_module_pair(name, *args, **kwargs), shape)


def test_conv_transpose2d_module_output_size_matches_torch():
    ours, theirs = _module_pair("ConvTranspose2d", 2, 3, 3, stride=2, padding=1)
    _compare_modules(ours, theirs, (1, 2, 4, 4), output_size=(8, 7))
    with pytest.raises(ValueError, match="requested an output size of \\[9, 9\\]"):
        ours(chainrule.randn(1, 2, 4, 4, dtype=chainrule.float64), output_size=(9, 9))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2),
                                    dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=2)],
                         ids=str)
def test_unfold_and_fold_modules_match_torch(kwargs):
    ours, theirs = chainrule.nn.Unfold(**kwargs), torch.nn.Unfold(**kwargs)
    assert repr(ours) == repr(theirs)
    _compare_modules(ours, theirs, (2, 3, 7, 6))
    ours, theirs = chainrule.nn.Fold((7, 6), **kwargs), torch.nn.Fold((7, 6), **kwargs)
    assert repr(ours) == repr(theirs)
    blocks = torch.nn.Unfold(**kwargs)(torch.zeros(2, 3, 7, 6)).shape
    _compare_modules(ours, theirs, tuple(blocks))
