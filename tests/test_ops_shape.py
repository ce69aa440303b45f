"""Shape ops: values, gradients, grad_fn names and view semantics against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
import chainrule._ops.indexing  # noqa: F401  (attaches Tensor.__getitem__ until _ops wires it)
from chainrule.autograd import gradcheck

torch = pytest.importorskip("torch")
from torch_compare import raises_like_torch  # noqa: E402

SHAPE = (2, 3, 4)

# name -> f(lib, x), applied to chainrule and torch alike
OPS = {
    "view": lambda lib, x: x.view(6, -1),
    "view_tuple": lambda lib, x: x.view((4, 6)),
    "reshape": lambda lib, x: lib.reshape(x.transpose(0, 2), (-1,)),
    "flatten": lambda lib, x: lib.flatten(x),
    "flatten_part": lambda lib, x: x.flatten(1),
    "unflatten": lambda lib, x: x.unflatten(2, (2, -1)),
    "squeeze": lambda lib, x: x[:1].squeeze(),
    "squeeze_dim": lambda lib, x: lib.squeeze(x[:, :1], 1),
    "squeeze_dims": lambda lib, x: x[:1, :1].squeeze((0, 1)),
    "t_vector": lambda lib, x: x[0, 0].t(),
    "unsqueeze": lambda lib, x: lib.unsqueeze(x, -1),
    "transpose": lambda lib, x: lib.transpose(x, 0, -1),
    "t": lambda lib, x: x[0].t(),
    "T": lambda lib, x: x[0].T,
    "mT": lambda lib, x: x.mT,
    "permute": lambda lib, x: x.permute(2, 0, 1),
    "permute_fn": lambda lib, x: lib.permute(x, (1, 2, 0)),
    "movedim": lambda lib, x: lib.movedim(x, 0, -1),
    "movedim_many": lambda lib, x: x.movedim((0, 1), (2, 0)),
    "expand": lambda lib, x: x[:, :1].expand(2, 5, 4),
    "expand_new_dim": lambda lib, x: x.expand(3, -1, -1, -1),
    "expand_as": lambda lib, x: x[:1].expand_as(x),
    "repeat": lambda lib, x: x.repeat(2, 1, 3),
    "repeat_more_dims": lambda lib, x: x.repeat(2, 1, 1, 2),
    "tile": lambda lib, x: lib.tile(x, (2,)),
    "contiguous": lambda lib, x: x.transpose(0, 1).contiguous(),
    "cat": lambda lib, x: lib.cat([x, x * 2], dim=1),
    "cat_neg_dim": lambda lib, x: lib.cat((x, x[..., :1]), -1),
    "concat": lambda lib, x: lib.concat([x, x]),
    "cat_empty_legacy": lambda lib, x: lib.cat([x, lib.zeros(0)]),
    "stack": lambda lib, x: lib.stack([x, x + 1, x * 3], dim=1),
    "stack_last": lambda lib, x: lib.stack([x, x], -1),
    "hstack": lambda lib, x: lib.hstack([x, x]),
    "vstack": lambda lib, x: lib.vstack([x[0], x[1]]),
    "split": lambda lib, x: x.split(2, dim=2),
    "split_uneven": lambda lib, x: lib.split(x, 2, 1),
    "split_sizes": lambda lib, x: x.split([1, 3], -1),
    "chunk": lambda lib, x: x.chunk(3, 1),
    "chunk_uneven": lambda lib, x: lib.chunk(x, 3, 2),
    "unbind": lambda lib, x: x.unbind(1),
    "unbind_fn": lambda lib, x: lib.unbind(x),
    "iter": lambda lib, x: tuple(iter(x)),
    "narrow": lambda lib, x: x.narrow(2, 1, 2),
    "narrow_neg": lambda lib, x: lib.narrow(x, 1, -2, 2),
    "flip": lambda lib, x: x.flip(0, 2),
    "flip_fn": lambda lib, x: lib.flip(x, [1]),
    "fliplr": lambda lib, x: lib.fliplr(x),
    "roll": lambda lib, x: x.roll(1, 2),
    "roll_many": lambda lib, x: lib.roll(x, (1, -2), (0, 2)),
    "roll_flat": lambda lib, x: x.roll(5),
    "swapaxes": lambda lib, x: lib.swapaxes(x, 0, 1),
}


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_matches_torch(name, dtype):
    op = OPS[name]
    values = np.random.default_rng(0).standard_normal(SHAPE).astype(dtype)
    x = chainrule.tensor(values, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    ours, theirs = _as_tuple(op(chainrule, x)), _as_tuple(op(torch, tx))
    assert len(ours) == len(theirs)
    rng = np.random.default_rng(1)
    loss, tloss = 0, 0
    for a, b in zip(ours, theirs, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        assert a.dtype.name == str(b.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        if b.grad_fn is not None:
            assert a.grad_fn.name() == b.grad_fn.name().rsplit("::", 1)[-1]
        weight = rng.standard_normal(tuple(b.shape)).astype(dtype)
        loss = loss + (a * chainrule.tensor(weight)).sum()
        tloss = tloss + (b * torch.tensor(weight)).sum()
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["repeat", "cat", "stack", "split_uneven", "unbind", "roll_many",
                                  "narrow", "expand", "flip", "movedim_many"])
def test_gradcheck(name):
    op = OPS[name]
    x = chainrule.tensor(np.random.default_rng(2).standard_normal(SHAPE), requires_grad=True)
    assert gradcheck(lambda t: _as_tuple(op(chainrule, t)), (x,))


@pytest.mark.parametrize("name", ["view", "transpose", "permute", "narrow", "expand", "unsqueeze",
                                  "split", "unbind", "squeeze", "T"])
def test_views_share_memory(name):
    x = chainrule.zeros(SHAPE)
    out = _as_tuple(OPS[name](chainrule, x))[0]
    assert np.shares_memory(out.numpy(), x.numpy())
    assert out._base is x


@pytest.mark.parametrize("name", ["repeat", "flip", "roll", "cat", "stack"])
def test_copies_do_not_share_memory(name):
    x = chainrule.zeros(SHAPE)
    out = _as_tuple(OPS[name](chainrule, x))[0]
    assert not np.shares_memory(out.numpy(), x.numpy())


def test_cat_promotes_dtypes():
    ours = chainrule.cat([chainrule.tensor([1, 2]), chainrule.tensor([0.5])])
    theirs = torch.cat([torch.tensor([1, 2]), torch.tensor([0.5])])
    assert ours.dtype.name == "float32" and str(theirs.dtype) == "torch.float32"
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("call, error", [
    (lambda lib: lib.cat([lib.zeros(2, 3), lib.zeros(2, 4)]), RuntimeError),
    (lambda lib: lib.cat([lib.zeros(2, 3), lib.zeros(3)]), RuntimeError),
    (lambda lib: lib.cat([]), ValueError),
    (lambda lib: lib.stack([lib.zeros(2), lib.zeros(3)]), RuntimeError),
    (lambda lib: lib.zeros(4).split([1, 2]), RuntimeError),
    (lambda lib: lib.zeros(2, 3).repeat(2), RuntimeError),
    (lambda lib: lib.zeros(2, 3).view(4), RuntimeError),
    (lambda lib: lib.zeros(2, 3).t().view(6), RuntimeError),
    (lambda lib: lib.zeros(2, 3).narrow(1, 2, 2), RuntimeError),
    (lambda lib: lib.zeros(2, 3).transpose(0, 2), IndexError),
    (lambda lib: lib.zeros(2, 3).expand(3, 3), RuntimeError),
    (lambda lib: lib.zeros(2, 3).roll((1, 1), 0), RuntimeError),
])
def test_errors_match_torch(call, error):
    with pytest.raises(error) as theirs:
        call(torch)
    with pytest.raises(error) as ours:
        call(chainrule)
    assert str(ours.value).split("(")[0].split(":")[0] == str(theirs.value).split("(")[0].split(":")[0]


@pytest.mark.parametrize("shapes, dim", [
    (((2, 3), (2, 4)), 0),
    (((2, 3), (2, 3), (3, 3)), 1),
    (((0,), (2, 3), (2, 3), (2, 1, 3)), 0),
    (((1, 2, 3), (1, 5, 3), (1, 2, 4)), 1),
    (((2, 3), (2,)), 1),
    (((2,), ()), 0),
    (((0,), (2, 3), (3, 4)), 1),
])
def test_cat_error_message_names_sizes(shapes, dim):
    with pytest.raises(RuntimeError) as theirs:
        torch.cat([torch.zeros(shape) for shape in shapes], dim)
    with pytest.raises(RuntimeError) as ours:
        chainrule.cat([chainrule.zeros(shape) for shape in shapes], dim)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("other", [1, "a", None, np.ones(2)])
def test_cat_of_a_non_tensor_names_its_position_and_type(other):
    with pytest.raises(TypeError) as theirs:
        torch.cat([torch.ones(2), other])
    with pytest.raises(TypeError) as ours:
        chainrule.cat([chainrule.ones(2), other])
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("new_shape", [(64, 784), (10, 10), (3,), (200, 400)])
def test_resize_(new_shape):
    values = np.arange(100 * 784, dtype=np.float32).reshape(100, 784)
    ours, theirs = chainrule.tensor(values), torch.tensor(values)
    assert ours.resize_(*new_shape) is ours
    theirs.resize_(*new_shape)
    assert tuple(ours.shape) == tuple(theirs.shape)
    count = min(theirs.numel(), values.size)
    np.testing.assert_array_equal(ours.numpy().reshape(-1)[:count], theirs.numpy().reshape(-1)[:count])


def test_resize_refuses_tensors_requiring_grad():
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        chainrule.zeros(3, requires_grad=True).resize_(2)


def test_split_of_empty_and_zero_size():
    assert [tuple(p.shape) for p in chainrule.zeros(0).split(2)] == [
        tuple(p.shape) for p in torch.zeros(0).split(2)]
    assert len(chainrule.zeros(2, 0).unbind(1)) == 0


@pytest.mark.parametrize("name", ["t", "T", "transpose", "flip", "view", "reshape", "flatten",
                                  "unsqueeze", "squeeze", "expand", "repeat", "cat", "stack"])
def test_zero_dim_input_matches_torch(name):
    calls = {
        "t": lambda lib, x: x.t(), "T": lambda lib, x: x.T,
        "transpose": lambda lib, x: x.transpose(0, -1), "flip": lambda lib, x: x.flip(0),
        "view": lambda lib, x: x.view(1), "reshape": lambda lib, x: x.reshape(-1),
        "flatten": lambda lib, x: x.flatten(), "unsqueeze": lambda lib, x: x.unsqueeze(0),
        "squeeze": lambda lib, x: x.squeeze(0), "expand": lambda lib, x: x.expand(3, 2),
        "repeat": lambda lib, x: x.repeat(3), "cat": lambda lib, x: lib.cat([x[None], x[None]]),
        "stack": lambda lib, x: lib.stack([x, x * 2]),
    }
    x = chainrule.tensor(1.5, dtype=chainrule.float64, requires_grad=True)
    tx = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    ours, theirs = calls[name](chainrule, x), calls[name](torch, tx)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    (ours * 3).sum().backward()
    (theirs * 3).sum().backward()
    assert x.grad.item() == tx.grad.item()


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2, 3, 4).unflatten(2, (3, 2)),
    lambda lib: lib.zeros(2, 3, 4).unflatten(1, (-1, 2)),
    lambda lib: lib.zeros(2, 3, 4).unflatten(2, ()),
    lambda lib: lib.zeros(2, 3).view(4),
    lambda lib: lib.zeros(2, 3).reshape(4, -1),
])
def test_shape_error_messages_match_torch(call):
    raises_like_torch(lambda: call(chainrule), lambda: call(torch), RuntimeError)


@pytest.mark.parametrize("shape, target", [((3,), (2, 3)), ((2, 1), (2, 4)), ((), (3, 2)),
                                           ((1, 3, 1), (2, 3, 5)), ((2, 3), (2, 3))])
def test_broadcast_view_matches_numpy_and_shares_memory(shape, target):
    from chainrule._ops._util import broadcast_view

    data = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    view = broadcast_view(data, target)
    np.testing.assert_array_equal(view, np.broadcast_to(data, target))
    assert np.shares_memory(view, data) and view.shape == target
    assert not view.flags.writeable or view is data
    strided = np.arange(12.0).reshape(3, 4)[:, ::2]  # not contiguous: NumPy's own path
    np.testing.assert_array_equal(broadcast_view(strided, (2, 3, 2)), np.broadcast_to(strided, (2, 3, 2)))
    with pytest.raises(ValueError):
        broadcast_view(np.ones((2, 3)), (3, 3))
