"""Indexing (``x[key]``, ``x[key] = v``) and index ops against PyTorch: values, gradients, names."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
import chainrule._ops.indexing  # noqa: F401  (attaches Tensor.__getitem__ until _ops wires it)
from chainrule.autograd import gradcheck

torch = pytest.importorskip("torch")

SHAPE = (4, 3, 5)


def _index(lib, values):
    return lib.tensor(values)


KEYS = {
    "int": lambda lib: 1,
    "neg_int": lambda lib: -1,
    "slice": lambda lib: slice(1, 3),
    "step": lambda lib: (slice(None), slice(None, None, 2)),
    "int_int": lambda lib: (0, 2),
    "slice_int": lambda lib: (slice(1, None), 1),
    "none": lambda lib: (None, 0),
    "ellipsis": lambda lib: (Ellipsis, 1),
    "ellipsis_none": lambda lib: (0, Ellipsis, None),
    "full": lambda lib: slice(None),
    "list": lambda lib: [0, 2, 2],
    "tensor": lambda lib: _index(lib, [[1, 0], [3, 3]]),
    "tensor_pair": lambda lib: (_index(lib, [0, 1, 1]), slice(None), _index(lib, [4, 0, 4])),
    "mixed": lambda lib: (slice(1, 3), _index(lib, [2, 0])),
    "bool_mask": lambda lib: _index(lib, [True, False, True, True]),
    "bool_mask_2d": lambda lib: _index(lib, np.eye(4, 3, dtype=bool)),
    "zero_dim_tensor": lambda lib: _index(lib, 2),
    "empty_list": lambda lib: _index(lib, np.zeros(0, dtype=np.int64)),
}


def _check(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    if theirs.grad_fn is not None:
        assert ours.grad_fn.name() == theirs.grad_fn.name()


def _leaves(dtype="float64", shape=SHAPE, seed=0):
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return chainrule.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def _backward_both(ours, theirs, seed=1):
    weight = np.random.default_rng(seed).standard_normal(tuple(theirs.shape))
    (ours * chainrule.tensor(weight, dtype=ours.dtype)).sum().backward()
    (theirs * torch.tensor(weight, dtype=theirs.dtype)).sum().backward()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(KEYS))
def test_getitem(name, dtype):
    x, tx = _leaves(dtype)
    ours, theirs = x[KEYS[name](chainrule)], tx[KEYS[name](torch)]
    _check(ours, theirs)
    _backward_both(ours, theirs)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["int", "slice", "step", "slice_int", "none", "ellipsis", "full"])
def test_basic_indexing_returns_views(name):
    x = chainrule.zeros(SHAPE)
    view = x[KEYS[name](chainrule)]
    assert np.shares_memory(view.numpy(), x.numpy())
    view.numpy()[...] = 7
    assert (x.numpy() == 7).sum() == view.numel()


@pytest.mark.parametrize("name", ["list", "tensor", "bool_mask"])
def test_advanced_indexing_copies(name):
    x = chainrule.zeros(SHAPE)
    assert not np.shares_memory(x[KEYS[name](chainrule)].numpy(), x.numpy())


def test_repeated_indices_accumulate_gradient():
    x, tx = _leaves()
    key = [0, 0, 0, 3]
    _backward_both(x[key], tx[key])
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("key, error", [
    (lambda lib: slice(None, None, -1), ValueError),
    (lambda lib: 7, IndexError),
    (lambda lib: (0, 0, 0, 0), IndexError),
    (lambda lib: lib.tensor([9]), IndexError),
    (lambda lib: lib.tensor([0.5]), IndexError),
])
def test_getitem_errors(key, error):
    with pytest.raises(error) as theirs:
        torch.zeros(SHAPE)[key(torch)]
    with pytest.raises(error) as ours:
        chainrule.zeros(SHAPE)[key(chainrule)]
    if error is not IndexError or "index 9" in str(theirs.value):
        assert str(ours.value) == str(theirs.value)


SET_CASES = {
    "int_number": (lambda lib: 1, lambda lib: 2.5),
    "slice_tensor": (lambda lib: (slice(None), 0), lambda lib: lib.ones(5)),
    "broadcast_row": (lambda lib: slice(1, 3), lambda lib: lib.arange(5.0)),
    "mask": (lambda lib: lib.tensor([True, False, False, True]), lambda lib: -1.0),
    "list": (lambda lib: [0, 2], lambda lib: lib.full((2, 3, 5), 4.0)),
    "leading_one": (lambda lib: 0, lambda lib: lib.ones(1, 3, 5)),
}


@pytest.mark.parametrize("name", sorted(SET_CASES))
def test_setitem_values_and_gradients(name):
    key, value = SET_CASES[name]
    x, tx = _leaves()
    y, ty = x * 1, tx * 1
    v, tv = value(chainrule), value(torch)
    if isinstance(v, chainrule.Tensor):
        v = v.double().requires_grad_()
        tv = tv.double().requires_grad_()
    y[key(chainrule)] = v
    ty[key(torch)] = tv
    _check(y, ty)
    _backward_both(y, ty)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    if isinstance(v, chainrule.Tensor):
        np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy())


def test_setitem_without_grad_writes_in_place():
    x = chainrule.zeros(3, 4, dtype=chainrule.int64)
    data = x.numpy()
    x[1] = 5
    x[:, 0] = chainrule.tensor([1, 2, 3])
    assert x.numpy() is data
    tx = torch.zeros(3, 4, dtype=torch.int64)
    tx[1] = 5
    tx[:, 0] = torch.tensor([1, 2, 3])
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_setitem_through_view_changes_base():
    x = chainrule.zeros(3, 4)
    row = x[1]
    row[2] = 9.0
    assert x.numpy()[1, 2] == 9.0


def test_setitem_shape_mismatch():
    with pytest.raises(RuntimeError) as theirs:
        torch.zeros(3, 4)[0] = torch.ones(3)
    with pytest.raises(RuntimeError) as ours:
        chainrule.zeros(3, 4)[0] = chainrule.ones(3)
    assert str(ours.value) == str(theirs.value)


def test_setitem_on_leaf_requiring_grad_fails():
    x = chainrule.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0


INDEX = [[0, 2, 1, 0, 2], [1, 1, 0, 2, 0]]
OPS = {
    "gather_0": lambda lib, x: lib.gather(x, 0, lib.tensor([[0, 1, 1], [2, 0, 2]])),
    "gather_1": lambda lib, x: x.gather(1, lib.tensor([[0, 0], [2, 1], [1, 1]])),
    "scatter_src": lambda lib, x: x.scatter(1, lib.tensor([[0, 2], [1, 0], [3, 1]]), x[:, 1:3] * 2),
    "scatter_value": lambda lib, x: lib.scatter(x, 0, lib.tensor([[1, 0, 2, 0]]), value=0.5),
    "scatter_add": lambda lib, x: x.scatter_add(0, lib.tensor(INDEX)[:, :4], x[:2] * 3),
    "index_select": lambda lib, x: lib.index_select(x, 1, lib.tensor([3, 0, 3])),
    "index_select_0": lambda lib, x: x.index_select(0, lib.tensor([2, 2])),
    "index_add": lambda lib, x: x.index_add(0, lib.tensor([0, 0, 2]), x * 2, alpha=2),
    "masked_fill": lambda lib, x: x.masked_fill(x > 0, -1.0),
    "masked_fill_row": lambda lib, x: lib.masked_fill(x, lib.tensor([True, False, True, False]), 2.0),
    "masked_fill_tensor": lambda lib, x: x.masked_fill(x > 0, x[1, 2] * 3),
    "select": lambda lib, x: x.select(1, -2),
    "select_fn": lambda lib, x: lib.select(x, 0, 1),
    "masked_select": lambda lib, x: lib.masked_select(x, x > 0.2),
    "masked_select_bcast": lambda lib, x: x.masked_select(lib.tensor([False, True, True, False])),
    "take": lambda lib, x: lib.take(x, lib.tensor([[0, 11], [5, 5]])),
    "take_neg": lambda lib, x: x.take(lib.tensor([-1, 3])),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_index_ops(name, dtype):
    x, tx = _leaves(dtype, shape=(3, 4))
    ours, theirs = OPS[name](chainrule, x), OPS[name](torch, tx)
    _check(ours, theirs)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    _backward_both(ours, theirs)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(OPS))
def test_index_ops_gradcheck(name):
    x = chainrule.tensor(np.random.default_rng(3).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: OPS[name](chainrule, t), (x,))


def test_setitem_gradcheck():
    def put(x, v):
        y = x * 1
        y[[0, 2], 1:] = v
        return y

    x = chainrule.tensor(np.random.default_rng(4).standard_normal((3, 4)), requires_grad=True)
    v = chainrule.tensor(np.random.default_rng(5).standard_normal(3), requires_grad=True)
    assert gradcheck(put, (x, v))


def test_masked_fill_with_tensor_value_gets_gradient():
    x, tx = _leaves(shape=(3, 4))
    v, tv = chainrule.tensor(2.0, requires_grad=True), torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    _backward_both(x.masked_fill(x > 0, v), tx.masked_fill(tx > 0, tv))
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy())


@pytest.mark.parametrize("op", ["masked_fill_", "index_add_", "scatter_", "scatter_add_"])
def test_in_place_forms(op):
    calls = {
        "masked_fill_": lambda lib, x: x.masked_fill_(x > 0, 0.0),
        "index_add_": lambda lib, x: x.index_add_(1, lib.tensor([0, 0]), lib.ones(3, 2)),
        "scatter_": lambda lib, x: x.scatter_(1, lib.tensor([[1], [0], [3]]), 7.0),
        "scatter_add_": lambda lib, x: x.scatter_add_(0, lib.tensor([[2, 2, 0, 1]]), lib.ones(1, 4)),
    }
    values = np.random.default_rng(6).standard_normal((3, 4)).astype(np.float32)
    x, tx = chainrule.tensor(values), torch.tensor(values)
    assert calls[op](chainrule, x) is x
    calls[op](torch, tx)
    np.testing.assert_allclose(x.numpy(), tx.numpy())


@pytest.mark.parametrize("values", [[[0, 1], [2, 0]], [0.0, 1.5, 0.0, -2.0], 3, [[True, False]]])
def test_nonzero_and_argwhere(values):
    ours, theirs = chainrule.tensor(values), torch.tensor(values)
    np.testing.assert_array_equal(chainrule.nonzero(ours).numpy(), torch.nonzero(theirs).numpy())
    np.testing.assert_array_equal(ours.argwhere().numpy(), theirs.argwhere().numpy())
    for a, b in zip(ours.nonzero(as_tuple=True), theirs.nonzero(as_tuple=True), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert chainrule.nonzero(ours).dtype == chainrule.int64


def test_mask_must_be_bool():
    with pytest.raises(RuntimeError) as theirs:
        torch.zeros(3).masked_fill(torch.zeros(3), 1.0)
    with pytest.raises(RuntimeError) as ours:
        chainrule.zeros(3).masked_fill(chainrule.zeros(3), 1.0)
    assert str(ours.value) == str(theirs.value)


def test_take_out_of_range():
    with pytest.raises(IndexError) as theirs:
        torch.zeros(2, 3).take(torch.tensor([6]))
    with pytest.raises(IndexError) as ours:
        chainrule.zeros(2, 3).take(chainrule.tensor([6]))
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("call, error", [
    (lambda lib: lib.zeros(2, 4).gather(1, lib.tensor([[0, 9]])), RuntimeError),
    (lambda lib: lib.zeros(2, 3).select(1, 5), IndexError),
    (lambda lib: lib.zeros(2, 3).masked_fill(lib.zeros(2, dtype=lib.bool), 1.0), RuntimeError),
    (lambda lib: lib.zeros(2, 3).copy_(lib.zeros(2, 3, 4)), RuntimeError),
    (lambda lib: lib.zeros(3).copy_(lib.zeros(2, 3)), RuntimeError),
    (lambda lib: lib.tensor(1.0)[0], IndexError),
])
def test_index_op_errors_match_torch(call, error):
    with pytest.raises(error) as theirs:
        call(torch)
    with pytest.raises(error) as ours:
        call(chainrule)
    assert str(ours.value) == str(theirs.value)


def test_copy_nodes_have_torch_names_and_reprs():
    for lib in (chainrule, torch):
        x = lib.ones(3, requires_grad=True) * 1
        x[0] = 2.0
        y = (lib.ones(3, requires_grad=True) * 1).copy_(x)
        assert x.grad_fn.name() == "torch::autograd::CopySlices"
        assert y.grad_fn.name() == "torch::autograd::CopyBackwards"
        assert repr(x).endswith("grad_fn=<CopySlices>)")
        assert repr(y).endswith("grad_fn=<CopyBackwards>)")
