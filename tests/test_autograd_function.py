"""Custom ``autograd.Function``s, written the way PyTorch users write them, compared with torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")


def make_cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2

    return Cube


def make_scaled_product(lib):
    """Two inputs, a non-tensor argument, and gradients only where ``needs_input_grad`` asks."""

    class ScaledProduct(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, scale):
            ctx.save_for_backward(a, b)
            ctx.scale = scale
            return a * b * scale

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            ga = grad * b * ctx.scale if ctx.needs_input_grad[0] else None
            gb = grad * a * ctx.scale if ctx.needs_input_grad[1] else None
            return ga, gb, None

    return ScaledProduct


def make_float_split(lib):
    """Two float outputs, the second marked non-differentiable."""

    class FloatSplit(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            doubled = x * 2
            ctx.mark_non_differentiable(doubled)
            return x * 3, doubled

        @staticmethod
        def backward(ctx, grad, grad_doubled):
            return grad * 3

    return FloatSplit


def make_wrong_square(lib):
    class WrongSquare(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x  # the derivative is 2x

    return WrongSquare


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cube_forward_and_backward(dtype):
    values = np.array([0.5, -1.0, 2.0], dtype=dtype)
    x = chainrule.tensor(values, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    y, ty = make_cube(chainrule).apply(x), make_cube(torch).apply(tx)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    assert x.grad.dtype == getattr(chainrule, dtype)
    assert type(y.grad_fn).__name__ == "CubeBackward"
    assert y.grad_fn.next_functions[0][0].variable is x


def test_custom_function_composes_with_builtin_ops():
    values = np.array([[0.5, -1.0], [2.0, 0.1]])
    x = chainrule.tensor(values, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    (make_cube(chainrule).apply(x * 2).exp() * x).sum().backward()
    (make_cube(torch).apply(tx * 2).exp() * tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("which", [(True, True), (True, False), (False, True)])
def test_needs_input_grad_and_non_tensor_argument(which):
    seen = {}

    class Spy(chainrule.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, scale):
            return make_scaled_product(chainrule).forward(ctx, a, b, scale)

        @staticmethod
        def backward(ctx, grad):
            seen["needs"] = tuple(ctx.needs_input_grad)
            return make_scaled_product(chainrule).backward(ctx, grad)

    a = chainrule.tensor([1.0, 2.0], requires_grad=which[0])
    b = chainrule.tensor([3.0, 4.0], requires_grad=which[1])
    ta = torch.tensor([1.0, 2.0], requires_grad=which[0])
    tb = torch.tensor([3.0, 4.0], requires_grad=which[1])
    Spy.apply(a, b, 0.5).sum().backward()
    make_scaled_product(torch).apply(ta, tb, 0.5).sum().backward()
    assert seen["needs"] == (*which, False)
    for ours, theirs in ((a, ta), (b, tb)):
        if theirs.grad is None:
            assert ours.grad is None
        else:
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())


def test_no_graph_when_no_input_requires_grad():
    y = make_cube(chainrule).apply(chainrule.tensor([2.0]))
    assert y.grad_fn is None and not y.requires_grad
    with chainrule.no_grad():
        y = make_cube(chainrule).apply(chainrule.tensor([2.0], requires_grad=True))
    assert y.grad_fn is None


def test_saved_tensors_freed_after_backward():
    x = chainrule.tensor([2.0], requires_grad=True)
    y = make_cube(chainrule).apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.grad_fn.saved_tensors


def test_mark_non_differentiable():
    class Split(chainrule.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            mask = x > 0
            twice = x * 2
            ctx.mark_non_differentiable(mask)
            return twice, mask

        @staticmethod
        def backward(ctx, grad, grad_mask):
            return grad * 2

    x = chainrule.tensor([1.0, -2.0], requires_grad=True)
    twice, mask = Split.apply(x)
    assert twice.requires_grad and not mask.requires_grad
    twice.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])

    ours = make_float_split(chainrule).apply(chainrule.tensor([1.0], requires_grad=True))
    theirs = make_float_split(torch).apply(torch.tensor([1.0], requires_grad=True))
    assert [t.requires_grad for t in ours] == [t.requires_grad for t in theirs]


def test_wrong_number_of_gradients_raises():
    class TooMany(chainrule.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        TooMany.apply(chainrule.tensor([1.0], requires_grad=True)).sum().backward()


@pytest.mark.parametrize("maker", [make_cube, make_scaled_product])
def test_gradcheck_passes_on_correct_function(maker):
    a = chainrule.tensor([0.3, -0.8, 1.2], dtype=chainrule.float64, requires_grad=True)
    b = chainrule.tensor([1.1, 0.4, -0.6], dtype=chainrule.float64, requires_grad=True)
    fn = maker(chainrule).apply
    args = (a,) if maker is make_cube else (a, b, 1.5)
    assert chainrule.autograd.gradcheck(fn, args)


def test_gradcheck_fails_on_wrong_function():
    fn = make_wrong_square(chainrule).apply
    x = chainrule.tensor([0.3, -0.8, 1.2], dtype=chainrule.float64, requires_grad=True)
    with pytest.raises(RuntimeError):
        chainrule.autograd.gradcheck(fn, (x,))
    assert chainrule.autograd.gradcheck(fn, (x,), raise_exception=False) is False
    tx = torch.tensor([0.3, -0.8, 1.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(make_wrong_square(torch).apply, (tx,), raise_exception=False) is False


def test_create_graph_through_custom_function():
    x = chainrule.tensor([1.5, -0.5], dtype=chainrule.float64, requires_grad=True)
    tx = torch.tensor([1.5, -0.5], dtype=torch.float64, requires_grad=True)
    (g,) = chainrule.autograd.grad(make_cube(chainrule).apply(x).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad(make_cube(torch).apply(tx).sum(), tx, create_graph=True)
    (gg,) = chainrule.autograd.grad(g.sum(), x)
    (tgg,) = torch.autograd.grad(tg.sum(), tx)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy())


def test_gradcheck_input_checks_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
            lib.autograd.gradcheck(lambda a: a * 2, (lib.ones(3, dtype=lib.float64),))
        with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double precision"):
            lib.autograd.gradcheck(lambda a: a.sin(), (lib.ones(2, requires_grad=True),),
                                   raise_exception=False)
