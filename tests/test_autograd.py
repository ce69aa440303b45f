"""The autograd engine and tensor basics, compared with torch: graph structure, backward,
autograd.grad, grad modes, hooks, in-place checks, conversions and devices."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")


def pair(values, dtype="float64", requires_grad=True):
    """The same values as a chainrule and a torch tensor."""
    array = np.asarray(values, dtype=dtype)
    ours = chainrule.tensor(array.copy(), requires_grad=requires_grad)
    theirs = torch.tensor(array.copy(), requires_grad=requires_grad)
    return ours, theirs


def graph_names(fn, depth: int = 3):
    """``(node class, output_nr)`` of the nodes reachable from ``fn``, breadth-first
    (``None`` for an input that needs no gradient)."""
    names = []
    level = [(fn, 0)]
    for _ in range(depth):
        next_level = []
        for node, nr in level:
            names.append(None if node is None else (type(node).__name__, nr))
            if node is not None:
                next_level.extend(node.next_functions)
        level = next_level
    return names


# ------------------------------------------------------------------ leaves and grad_fn
def test_requires_grad_and_is_leaf():
    x, tx = pair([1.0, 2.0])
    c, tc = pair([3.0, 4.0], requires_grad=False)
    y, ty = x * c, tx * tc
    assert (x.is_leaf, c.is_leaf, y.is_leaf) == (tx.is_leaf, tc.is_leaf, ty.is_leaf)
    assert (x.requires_grad, c.requires_grad, y.requires_grad) == (True, False, True)
    assert (c * 2).grad_fn is None


EXPRESSIONS = {
    "pow": lambda x, y: x ** 2,
    "mean": lambda x, y: x.mean(),
    "sum": lambda x, y: (x * y).sum(),
    "add_mul": lambda x, y: x * 3 + y,
    "sub_div": lambda x, y: (x - y) / y,
    "exp_neg": lambda x, y: (-x).exp(),
    "matmul": lambda x, y: x.reshape(2, 1) @ y.reshape(1, 2),
    "constant": lambda x, y: x * 2.0,
}


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_grad_fn_graph_matches_torch(name):
    x, tx = pair([1.0, 2.0])
    y, ty = pair([3.0, 4.0])
    out, tout = EXPRESSIONS[name](x, y), EXPRESSIONS[name](tx, ty)
    assert graph_names(out.grad_fn) == graph_names(tout.grad_fn)


def test_next_functions_of_leaf_and_constant():
    x, tx = pair([1.0, 2.0])
    c, tc = pair([1.0, 2.0], requires_grad=False)
    edges = (x * c).grad_fn.next_functions
    tedges = (tx * tc).grad_fn.next_functions
    assert [None if n is None else type(n).__name__ for n, _ in edges] == \
        [None if n is None else type(n).__name__ for n, _ in tedges]
    assert edges[0][0].variable is x
    assert edges[0][0] is (x + 1).grad_fn.next_functions[0][0]  # one AccumulateGrad per leaf


# ------------------------------------------------------------------------- backward
def test_grad_accumulates_over_two_backward_calls():
    x, tx = pair([1.0, -2.0, 3.0])
    for _ in range(2):
        (x ** 3).sum().backward()
        (tx ** 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backward_with_gradient(dtype):
    x, tx = pair([[1.0, 2.0], [3.0, 4.0]], dtype)
    g = np.array([[1.0, -1.0], [0.5, 2.0]], dtype=dtype)
    (x.exp() * x).backward(gradient=chainrule.tensor(g))
    (tx.exp() * tx).backward(gradient=torch.tensor(g))
    assert x.grad.dtype == getattr(chainrule, dtype)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_non_scalar_backward_needs_gradient():
    x, tx = pair([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (tx * 2).backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()


def test_backward_twice_needs_retain_graph():
    x, _ = pair([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp([1.0, 2.0]) * np.array([2.0, 3.0])))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_backward_inputs_only_fills_those():
    x, tx = pair([1.0, 2.0])
    y, ty = pair([3.0, 4.0])
    (x * y).sum().backward(inputs=[y])
    (tx * ty).sum().backward(inputs=[ty])
    assert x.grad is None and tx.grad is None
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())


def test_long_chain_backward_has_no_recursion_limit():
    x = chainrule.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


# ---------------------------------------------------------------------- autograd.grad
@pytest.mark.parametrize("power", [3, 4, 5])
def test_higher_order_grad(power):
    x, tx = pair([0.5, -1.5, 2.0])
    grads, tgrads = [], []
    y, ty = (x ** power).sum(), (tx ** power).sum()
    for _ in range(3):
        (y,) = chainrule.autograd.grad(y, x, create_graph=True)
        (ty,) = torch.autograd.grad(ty, tx, create_graph=True)
        grads.append(y.detach().numpy().copy())
        tgrads.append(ty.detach().numpy().copy())
        y, ty = y.sum(), ty.sum()
    for ours, theirs in zip(grads, tgrads):
        np.testing.assert_allclose(ours, theirs)


def test_grad_does_not_touch_dot_grad():
    x, _ = pair([1.0, 2.0])
    (g,) = chainrule.autograd.grad((x * x).sum(), x)
    assert x.grad is None and not g.requires_grad
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_grad_allow_unused():
    x, _ = pair([1.0])
    unused, _ = pair([2.0])
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        chainrule.autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = chainrule.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 2.0


def test_grad_with_grad_outputs_and_multiple_outputs():
    x, tx = pair([1.0, 2.0, 3.0])
    g = np.array([1.0, 0.0, -2.0])
    ours = chainrule.autograd.grad([x * x, x.exp().sum()], x,
                                   grad_outputs=[chainrule.tensor(g), chainrule.tensor(1.0, dtype=chainrule.float64)])
    theirs = torch.autograd.grad([tx * tx, tx.exp().sum()], tx,
                                 grad_outputs=[torch.tensor(g), torch.tensor(1.0, dtype=torch.float64)])
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].numpy())


def test_grad_of_non_leaf_input():
    x, tx = pair([1.0, 2.0])
    h, th = x * 3, tx * 3
    (g,) = chainrule.autograd.grad((h ** 2).sum(), h)
    (tg,) = torch.autograd.grad((th ** 2).sum(), th)
    np.testing.assert_allclose(g.numpy(), tg.numpy())


# ------------------------------------------------------------------------- grad modes
def test_no_grad_context_decorator():
    x, _ = pair([1.0])
    with chainrule.no_grad():
        assert not (x * 2).requires_grad
        with chainrule.enable_grad():
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad

    @chainrule.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert chainrule.is_grad_enabled()


def test_set_grad_enabled_forms():
    x, _ = pair([1.0])
    with chainrule.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert chainrule.is_grad_enabled()
    chainrule.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        chainrule.set_grad_enabled(True)
    assert (x * 2).requires_grad

    @chainrule.set_grad_enabled(False)
    def double(t):
        return t * 2

    assert chainrule.is_grad_enabled()
    assert not double(x).requires_grad
    assert chainrule.is_grad_enabled()


# --------------------------------------------------------------- detach and retain_grad
def test_detach_shares_memory_and_cuts_graph():
    x, _ = pair([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    d.numpy()[0] = 5.0
    assert x.detach().numpy()[0] == 5.0


def test_requires_grad_():
    x = chainrule.tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        chainrule.tensor([1]).requires_grad_()
    y = chainrule.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)


def test_retain_grad():
    x, tx = pair([1.0, 2.0])
    h, th = x * x, tx * tx
    h.retain_grad()
    th.retain_grad()
    (h * 3).sum().backward()
    (th * 3).sum().backward()
    assert h.retains_grad
    np.testing.assert_allclose(h.grad.numpy(), th.grad.numpy())
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        (x * 2).grad


# ----------------------------------------------------------------------------- hooks
def test_register_hook_replaces_gradient_and_removes():
    x, _ = pair([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 20.0])
    np.testing.assert_allclose(seen[0], [2.0, 2.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_hook_on_intermediate_changes_upstream_gradient():
    x, tx = pair([1.0, 2.0])
    h, th = x * 3, tx * 3
    h.register_hook(lambda g: g + 1)
    th.register_hook(lambda g: g + 1)
    (h * h).sum().backward()
    (th * th).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


# --------------------------------------------------------------------------- in-place
def test_inplace_after_save_raises():
    x, tx = pair([1.0, 2.0])
    y, ty = x.exp(), tx.exp()
    y.add_(1)
    ty.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_after_save_error_messages_match_torch():
    def message(lib, case):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        if case == "saved output":
            y = x.exp()
            y.add_(1)
            out = y.sum()
        elif case == "saved input":
            a = x * 1
            out = (a * a).sum()
            a.add_(1)
        else:  # a leaf changed under no_grad
            out = (x * x).sum()
            with lib.no_grad():
                x.mul_(2)
        with pytest.raises(RuntimeError) as error:
            out.backward()
        return str(error.value)

    for case in ("saved output", "saved input", "leaf"):
        assert message(chainrule, case) == message(torch, case)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_grad_from_create_graph_stays_differentiable_after_a_plain_backward():
    for lib in (chainrule, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        (x ** 3).sum().backward()
        assert x.grad.requires_grad
        (g,) = lib.autograd.grad(x.grad.sum(), x)
        np.testing.assert_allclose(g.numpy(), [6.0, 12.0])  # d/dx of the graph part, 3x^2


def test_inplace_on_leaf_requiring_grad_raises():
    x, tx = pair([1.0, 2.0])
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        tx.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x.add_(1)


def test_inplace_under_no_grad_on_leaf_is_allowed():
    x, _ = pair([1.0, 2.0])
    with chainrule.no_grad():
        x.mul_(2)
    np.testing.assert_allclose(x.detach().numpy(), [2.0, 4.0])


def test_inplace_gradient_flows():
    x, tx = pair([1.0, 2.0])
    y, ty = x * 2, tx * 2
    y.mul_(x)
    ty.mul_(tx)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    assert y.grad_fn.name() == ty.grad_fn.name()


def _weighted_backward(lib, out):
    weights = np.arange(1, out.numel() + 1, dtype=np.float64).reshape(tuple(out.shape))
    (out * lib.tensor(weights)).sum().backward()


INPLACE_ON_VIEWS = {
    "row_mul": lambda lib, x, w: (lambda a: (a[0].mul_(5), a)[1])(x * 1),
    "column_add_of_itself": lambda lib, x, w: (lambda a: (a[:, 1].add_(a[:, 0]), a)[1])(x * 1),
    "transposed_slice_times_leaf": lambda lib, x, w: (lambda a: (a.t()[1:].mul_(w[:, 1:].t()), a)[1])(x * 2),
    "view_twice": lambda lib, x, w: (lambda a: (a.view(3, 2).mul_(2), a.view(6)[1:4].add_(w[0]), a)[2])(x * 1),
    "setitem_on_view": lambda lib, x, w: (lambda a: (a[0].__setitem__(1, w[1, 1]), a)[1])(x * 1),
    "activations_on_view": lambda lib, x, w: (lambda a: (a[:, :2].sigmoid_(), a)[1])(x * 1),
    "unsqueezed_views": lambda lib, x, w: (lambda a: (a[0].unsqueeze(0).mul_(3), a.unsqueeze(0)[:, 1].sub_(w[0]), a)[2])(x * 1),
    "strided": lambda lib, x, w: (lambda a: (a.flatten()[::2].zero_(), a)[1])(x * 1),
    "clamp_and_div": lambda lib, x, w: (lambda a: (a[:, 0].clamp_(max=2), a[1].div_(w[0]), a)[1])(x * 1),
    "buffer_rows_from_leaf": lambda lib, x, w: (lambda b: (b[0].add_(w[0]), b[1].copy_(w[1] * 2), b)[2])(lib.zeros(2, 3)),
    "fill_and_zero": lambda lib, x, w: (lambda a: (a[0].fill_(7.0), a[:, 1].zero_(), a)[2])(x * 1),
    "fill_with_tensor": lambda lib, x, w: (lambda a: (a[1].fill_(w[0, 2]), a)[1])(x * 1),
    "fill_whole": lambda lib, x, w: (lambda a: (a.fill_(3.0), a + w)[1])(x * 1),
}


@pytest.mark.parametrize("name", sorted(INPLACE_ON_VIEWS))
def test_inplace_on_views_rebases_the_base_like_torch(name):
    """An in-place op on a view rewrites its base's history (CopySlices): values, node names
    and the gradients of every leaf match torch."""
    grads, values, nodes = [], [], []
    for lib in (chainrule, torch):
        x = lib.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
        w = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
        out = INPLACE_ON_VIEWS[name](lib, x, w)
        values.append(out.detach().numpy().copy())
        nodes.append(type(out.grad_fn).__name__)
        _weighted_backward(lib, out)
        grads.append([None if t.grad is None else t.grad.numpy().copy() for t in (x, w)])
    np.testing.assert_allclose(values[0], values[1])
    assert nodes[0] == nodes[1]
    for ours, theirs in zip(*grads):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            np.testing.assert_allclose(ours, theirs)


def test_inplace_on_view_checks_like_torch():
    for lib in (chainrule, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            x[:1].mul_(2)
        a = x * 1
        y = a * a  # saves a
        v = a[:1]
        v.mul_(2)
        assert type(a.grad_fn).__name__ == "CopySlices"
        assert type(v.grad_fn).__name__ == "AsStridedBackward0"
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_detach_and_data_are_not_differentiable_views():
    for lib in (chainrule, torch):
        h = lib.tensor([1.0, 2.0], requires_grad=True) * 2
        d = h.detach()
        d.mul_(lib.ones(2, requires_grad=True))
        assert type(h.grad_fn).__name__ == "MulBackward0" and d._base is None
        assert h._version == d._version == 1  # detach shares the version counter
        data = h.data
        data.add_(1)
        assert h._version == 1 and data._version == 1  # .data has a counter of its own


# ------------------------------------------------------------------------ conversions
def test_numpy_on_requires_grad_raises():
    x, _ = pair([1.0])
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0]


@pytest.mark.parametrize("values", [3.5, [1, 2], [[True, False]], [[1.5, 2.0], [3.0, 4.0]], []])
def test_item_and_tolist(values):
    ours, theirs = chainrule.tensor(values), torch.tensor(values)
    assert ours.tolist() == theirs.tolist()
    if theirs.numel() == 1:
        assert ours.item() == theirs.item()
        assert type(ours.item()) is type(theirs.item())


def test_item_of_many_elements_raises():
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        chainrule.tensor([1.0, 2.0]).item()


def test_from_numpy_and_numpy_share_memory():
    array = np.arange(4, dtype=np.float32)
    t = chainrule.from_numpy(array)
    array[0] = 10
    assert t.tolist()[0] == 10
    t.add_(1)
    assert array[1] == 2
    back = t.numpy()
    back[2] = -1
    assert t.tolist()[2] == -1
    assert t.dtype == chainrule.float32


def test_size_repr_and_behaviour():
    s, ts = chainrule.zeros(2, 3).shape, torch.zeros(2, 3).shape
    assert repr(s) == repr(ts) == "torch.Size([2, 3])"
    assert s == (2, 3) and s.numel() == ts.numel() and isinstance(s, tuple)
    assert repr(chainrule.zeros(()).shape) == repr(torch.zeros(()).shape)


# ---------------------------------------------------------------------------- devices
def test_cpu_device_accepted_everywhere():
    x = chainrule.ones(2, device="cpu")
    assert x.device == chainrule.device("cpu") and str(x.device) == "cpu"
    assert x.to("cpu").tolist() == [1.0, 1.0]
    assert x.to(chainrule.device("cpu"), dtype=chainrule.float64).dtype == chainrule.float64
    assert x.cpu() is x
    assert chainrule.zeros(1, device=chainrule.device("cpu")).device.type == "cpu"
    assert repr(chainrule.device("cpu")) == repr(torch.device("cpu"))


@pytest.mark.parametrize("make", [
    lambda: chainrule.zeros(2, device="cuda"),
    lambda: chainrule.tensor([1.0], device="cuda:0"),
    lambda: chainrule.ones(2).to("cuda"),
    lambda: chainrule.ones(2).cuda(),
])
def test_cuda_raises_clearly(make):
    with pytest.raises(RuntimeError, match="cuda"):
        make()


# --------------------------------------------------------------------------- gradcheck
GRADCHECK_FUNCTIONS = {
    "poly": lambda x, y: (x ** 3 * y - x / (y + 3)).sum(),
    "exp_broadcast": lambda x, y: (x.exp() * y.reshape(4, 1)),
    "matmul": lambda x, y: x.reshape(2, 2) @ y.reshape(2, 2),
    "tanh_mean": lambda x, y: (x.tanh() + y.sigmoid()).mean(),
}


@pytest.mark.parametrize("name", list(GRADCHECK_FUNCTIONS))
def test_gradcheck(name):
    x = chainrule.tensor([0.3, -0.7, 1.1, 0.5], dtype=chainrule.float64, requires_grad=True)
    y = chainrule.tensor([0.9, 0.2, -0.4, 1.3], dtype=chainrule.float64, requires_grad=True)
    fn = GRADCHECK_FUNCTIONS[name]
    assert chainrule.autograd.gradcheck(fn, (x, y))


# ------------------------------------------------------- API corners, against torch
def both(fn):
    """``fn(lib)`` in chainrule and torch: the results, or the exceptions (type and message)."""
    results = []
    for lib in (chainrule, torch):
        try:
            results.append(fn(lib))
        except Exception as error:  # noqa: BLE001 - the error *is* the result compared
            results.append((type(error).__name__, str(error)))
    return results


def test_no_grad_and_enable_grad_decorate_without_parentheses():
    def probe(lib):
        x = lib.ones(1, requires_grad=True)

        @lib.no_grad
        def off():
            return (x * 2).requires_grad

        @lib.enable_grad
        def on():
            return (x * 2).requires_grad

        @lib.inference_mode
        def inference():
            return (x * 2).requires_grad

        with lib.no_grad():
            inside = on()
        return off(), inside, inference(), off.__name__, lib.is_grad_enabled()

    ours, theirs = both(probe)
    assert ours == theirs == (False, True, False, "off", True)


def test_backward_inputs_of_a_retained_non_leaf_accumulates_once():
    def probe(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * lib.tensor([3.0, 4.0])
        h.retain_grad()
        (h * h).sum().backward(inputs=[h])
        return h.grad.tolist(), x.grad

    ours, theirs = both(probe)
    assert ours == theirs


@pytest.mark.parametrize("case", [
    lambda lib, x: (x * x).backward([1.0, 3.0]),
    lambda lib, x: lib.autograd.grad((x * x).sum(), x, grad_outputs=[1.0]),
    lambda lib, x: lib.autograd.grad((x * x).sum(), []),
    lambda lib, x: lib.autograd.grad((x * x).sum(), [x, lib.ones(1, requires_grad=True)]),
    lambda lib, x: lib.autograd.grad((x * x).sum(), [x, lib.ones(1)]),
    lambda lib, x: lib.tensor([1]).requires_grad_(),
    lambda lib, x: lib.tensor([1], requires_grad=True),
    lambda lib, x: lib.zeros(2, dtype=lib.long, requires_grad=True),
    lambda lib, x: setattr(x, "grad", lib.zeros(3)),
    lambda lib, x: lib.tensor(1.0)[0],
    lambda lib, x: x.__setitem__(0, 5.0),
], ids=["gradient-list", "grad_outputs-number", "grad-no-inputs", "grad-unused",
        "grad-input-without-grad", "int-requires_grad_", "int-tensor-requires-grad",
        "int-zeros-requires-grad", "grad-of-wrong-size", "index-0d", "setitem-on-leaf"])
def test_api_errors_match_torch(case):
    ours, theirs = both(lambda lib: case(lib, lib.tensor([1.0, 2.0], requires_grad=True)))
    assert ours == theirs


def test_tensor_softmax_select_and_legacy_types_match_torch():
    def probe(lib):
        x = lib.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], requires_grad=True)
        out = [x.softmax(1), lib.softmax(x, 0), x.log_softmax(-1), lib.log_softmax(x, 1),
               x.select(1, -1), lib.select(x, 0, 1), x[0, 0].t(), x.t().t()]
        legacy = [lib.LongTensor([1, 2]), lib.FloatTensor(2, 3).shape, lib.FloatTensor(),
                  x.type(lib.DoubleTensor).dtype, x.type("torch.LongTensor").dtype,
                  isinstance(x, lib.FloatTensor), isinstance(x, lib.LongTensor)]
        return ([(o.tolist(), type(o.grad_fn).__name__) for o in out],
                [str(v) if not isinstance(v, bool) else v for v in legacy])

    ours, theirs = both(probe)
    assert ours[1] == theirs[1]
    for (values, node), (their_values, their_node) in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(values, their_values, rtol=1e-6)
        assert node == their_node


def test_cuda_and_backends_queries_answer_like_cpu_only_torch():
    for name in ("is_available", "device_count", "is_initialized"):
        assert getattr(chainrule.cuda, name)() == getattr(torch.cuda, name)()
    assert chainrule.backends.mps.is_available() is False
    assert chainrule.backends.cudnn.is_available() is False
    assert not hasattr(chainrule, "not_a_submodule_name")
