"""Batch, layer and group normalisation (and Dropout2d) against torch."""

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-10)}


def compare(ours, theirs, shapes, dtype=np.float64):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    xs = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **TOL[dtype])
    g = np.random.default_rng(1).standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(chainrule.tensor(g))
    expected.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL[dtype])
        assert x.grad.dtype == x.dtype


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (4, 3, 5, 2)], ids=str)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_training_matches_torch(shape, affine, dtype):
    c = shape[1]
    shapes = [shape, (c,), (c,)] if affine else [shape]
    compare(lambda x, *wb: F.batch_norm(x, None, None, *wb, training=True),
            lambda x, *wb: TF.batch_norm(x, None, None, *wb, training=True), shapes, dtype)


def test_batch_norm_eval_matches_torch():
    rng = np.random.default_rng(2)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    compare(lambda x, w, b: F.batch_norm(x, chainrule.tensor(mean), chainrule.tensor(var), w, b),
            lambda x, w, b: TF.batch_norm(x, torch.tensor(mean), torch.tensor(var), w, b),
            [(4, 3, 5, 2), (3,), (3,)])


@pytest.mark.parametrize("normalized_shape", [(4,), (3, 4)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_matches_torch(normalized_shape, dtype):
    compare(lambda x, w, b: F.layer_norm(x, normalized_shape, w, b),
            lambda x, w, b: TF.layer_norm(x, normalized_shape, w, b),
            [(2, 3, 4), normalized_shape, normalized_shape], dtype)
    compare(lambda x: F.layer_norm(x, normalized_shape), lambda x: TF.layer_norm(x, normalized_shape),
            [(2, 3, 4)], dtype)


@pytest.mark.parametrize("groups,shape", [(1, (2, 6, 4)), (3, (2, 6, 4, 3)), (6, (2, 6, 5))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_norm_matches_torch(groups, shape, dtype):
    compare(lambda x, w, b: F.group_norm(x, groups, w, b),
            lambda x, w, b: TF.group_norm(x, groups, w, b), [shape, (6,), (6,)], dtype)


@pytest.mark.parametrize("fn,tfn,shapes", [
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), [(4, 3, 5), (3,), (3,)]),
    (lambda x, w, b: F.layer_norm(x, (5,), w, b), lambda x, w, b: TF.layer_norm(x, (5,), w, b),
     [(4, 3, 5), (5,), (5,)]),
    (lambda x, w, b: F.group_norm(x, 3, w, b), lambda x, w, b: TF.group_norm(x, 3, w, b),
     [(2, 6, 4), (6,), (6,)]),
])
def test_norm_double_backward_matches_torch(fn, tfn, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    results = []
    for lib, f in ((chainrule, fn), (torch, tfn)):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        grads = lib.autograd.grad((f(*xs) ** 3).sum(), xs, create_graph=True)
        sum((g ** 2).sum() for g in grads).backward()
        results.append([x.grad.detach().numpy() for x in xs])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-8)


def _copy_params(ours, theirs):
    for name, p in theirs.named_parameters():
        getattr(ours, name).data = chainrule.tensor(p.detach().numpy())


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (6, 3, 4)),
                                       ("BatchNorm2d", (4, 3, 5, 5))])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batch_norm_module_running_stats_then_eval(cls, shape, momentum):
    ours = getattr(chainrule.nn, cls)(3, momentum=momentum)
    theirs = getattr(torch.nn, cls)(3, momentum=momentum)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    _copy_params(ours, theirs)
    rng = np.random.default_rng(0)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        xc = chainrule.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        out, expected = ours(xc), theirs(xt)
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5)
        out.sum().backward()
        expected.sum().backward()
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(),
                                   rtol=1e-5, atol=1e-5)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 4
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(ours(chainrule.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval():
    ours = chainrule.nn.BatchNorm2d(2, track_running_stats=False).eval()
    theirs = torch.nn.BatchNorm2d(2, track_running_stats=False).eval()
    assert ours.running_mean is None and "running_mean" not in ours.state_dict()
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(chainrule.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        chainrule.nn.BatchNorm1d(3)(chainrule.randn(1, 3))
    with pytest.raises(ValueError, match="expected 4D input \\(got 3D input\\)"):
        chainrule.nn.BatchNorm2d(3)(chainrule.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(chainrule.randn(2, 6, 4), 4)
    with pytest.raises(RuntimeError, match="expected input with shape \\[\\*, 5\\]"):
        F.layer_norm(chainrule.randn(2, 4), (5,))


@pytest.mark.parametrize("name,args,kwargs", [
    ("BatchNorm2d", (3,), {}), ("BatchNorm1d", (3,), dict(momentum=None, affine=False)),
    ("BatchNorm2d", (3,), dict(bias=False)), ("LayerNorm", ((2, 3),), {}),
    ("LayerNorm", (3,), dict(bias=False)), ("GroupNorm", (2, 4), {}),
    ("GroupNorm", (2, 4), dict(affine=False)), ("Dropout2d", (0.3,), {}),
])
def test_norm_module_repr_and_state(name, args, kwargs):
    ours = getattr(chainrule.nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())


@pytest.mark.parametrize("cls,shape", [("LayerNorm", (2, 3, 4)), ("GroupNorm", (2, 4, 3))])
def test_layer_and_group_norm_modules(cls, shape):
    args = ((4,),) if cls == "LayerNorm" else (2, 4)
    ours, theirs = getattr(chainrule.nn, cls)(*args), getattr(torch.nn, cls)(*args)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xc, xt = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours(xc) ** 2).sum().backward()
    (theirs(xt) ** 2).sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_dropout2d_drops_whole_channels():
    x = chainrule.ones(8, 16, 3, 3, requires_grad=True)
    out = F.dropout2d(x, 0.5)
    per_channel = out.detach().numpy().reshape(8, 16, 9)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()
    assert 0 < (per_channel[..., 0] == 0).sum() < 8 * 16
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())
    assert F.dropout2d(x, 0.5, training=False) is x
    module = chainrule.nn.Dropout2d(0.5).eval()
    assert module(x) is x


# ------------------------------------------------------------------ BatchNorm2d over many steps


@pytest.mark.parametrize("momentum", [0.1, 0.7, None], ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no_affine"])
@pytest.mark.parametrize("track_running_stats", [True, False], ids=["track", "no_track"])
def test_batch_norm2d_steps_with_train_and_eval_match_torch(momentum, affine, track_running_stats):
    kwargs = dict(momentum=momentum, affine=affine, track_running_stats=track_running_stats,
                  eps=1e-3)
    ours = chainrule.nn.BatchNorm2d(3, **kwargs).double()
    theirs = torch.nn.BatchNorm2d(3, **kwargs).double()
    if affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            theirs.bias.uniform_(-1, 1)
        _copy_params(ours, theirs)
    rng = np.random.default_rng(0)
    # Modes over the steps: eval in between must use (and not change) the running statistics.
    for step, training in enumerate([True, True, False, True, True, False, True]):
        ours.train(training)
        theirs.train(training)
        x = rng.standard_normal((4, 3, 5, 3)) * (step + 1) + step
        xc, xt = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, expected = ours(xc), theirs(xt)
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-9,
                                   atol=1e-10)
        g = rng.standard_normal(x.shape)
        out.backward(chainrule.tensor(g))
        expected.backward(torch.tensor(g))
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        for name, p in theirs.named_parameters():
            mine = getattr(ours, name)
            np.testing.assert_allclose(mine.grad.numpy(), p.grad.numpy(), rtol=1e-8, atol=1e-10)
            mine.grad, p.grad = None, None
        theirs_state = theirs.state_dict()
        ours_state = ours.state_dict()
        assert list(ours_state) == list(theirs_state)
        for key, value in theirs_state.items():
            np.testing.assert_allclose(ours_state[key].numpy(), value.numpy(), rtol=1e-10)
            assert str(ours_state[key].dtype) == str(value.dtype)
    if track_running_stats:
        assert ours.num_batches_tracked.item() == 5


def test_batch_norm2d_momentum_none_is_a_cumulative_average():
    bn = chainrule.nn.BatchNorm2d(2, momentum=None).double()
    batches = [chainrule.randn(4, 2, 3, 3, dtype=chainrule.float64) * (k + 1) for k in range(3)]
    for batch in batches:
        bn(batch)
    means = np.stack([b.numpy().mean(axis=(0, 2, 3)) for b in batches])
    variances = np.stack([b.numpy().var(axis=(0, 2, 3), ddof=1) for b in batches])
    # The running variance starts at 1 but momentum 1/1 on the first batch overwrites it.
    np.testing.assert_allclose(bn.running_mean.numpy(), means.mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), variances.mean(0), rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.3, 0.0])
@pytest.mark.parametrize("affine", [True, False])
def test_functional_batch_norm_updates_running_stats_in_place_like_torch(momentum, affine):
    rng = np.random.default_rng(0)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    ours_stats = [chainrule.tensor(mean.copy()), chainrule.tensor(var.copy())]
    theirs_stats = [torch.tensor(mean.copy()), torch.tensor(var.copy())]
    shapes = [(5, 3, 4, 2), (3,), (3,)] if affine else [(5, 3, 4, 2)]
    for _ in range(3):
        compare(lambda x, *wb: F.batch_norm(x, *ours_stats, *wb, training=True, momentum=momentum,
                                            eps=1e-4),
                lambda x, *wb: TF.batch_norm(x, *theirs_stats, *wb, training=True,
                                             momentum=momentum, eps=1e-4), shapes)
        for mine, other in zip(ours_stats, theirs_stats):
            np.testing.assert_allclose(mine.numpy(), other.numpy(), rtol=1e-12)
    compare(lambda x, *wb: F.batch_norm(x, *ours_stats, *wb, training=False),
            lambda x, *wb: TF.batch_norm(x, *theirs_stats, *wb, training=False), shapes)
    if momentum == 0.0:
        np.testing.assert_array_equal(ours_stats[0].numpy(), mean)


def test_batch_norm2d_float32_state_dict_round_trip_with_torch():
    theirs = torch.nn.BatchNorm2d(4)
    for _ in range(2):
        theirs(torch.randn(3, 4, 2, 2) * 3 + 1)
    ours = chainrule.nn.BatchNorm2d(4)
    ours.load_state_dict({k: chainrule.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    assert ours.num_batches_tracked.dtype == chainrule.int64
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(chainrule.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("groups,channels,affine,shape", [
    (1, 4, False, (2, 4, 5, 3)), (2, 4, True, (3, 4, 6)), (4, 4, False, (2, 4, 3, 3)),
    (3, 6, True, (1, 6, 2, 2)), (2, 4, True, (4, 4))], ids=str)
def test_group_norm_module_matches_torch(groups, channels, affine, shape):
    torch.manual_seed(0)
    theirs = torch.nn.GroupNorm(groups, channels, eps=1e-3, affine=affine).double()
    if affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            theirs.bias.uniform_(-1, 1)
    ours = chainrule.nn.GroupNorm(groups, channels, eps=1e-3, affine=affine).double()
    if affine:
        _copy_params(ours, theirs)
    x = np.random.default_rng(0).standard_normal(shape)
    xc, xt = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xc), theirs(xt)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-10)
    g = np.random.default_rng(1).standard_normal(shape)
    out.backward(chainrule.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), p.grad.numpy(), rtol=1e-8,
                                   atol=1e-10)


@pytest.mark.parametrize("shape", [(4, 6, 3, 3), (6, 3, 3), (5, 4), (2, 3, 2, 2, 2)], ids=str)
def test_dropout2d_drops_along_the_first_two_dims_and_warns_like_torch(shape, recwarn):
    chainrule.manual_seed(0)
    x = chainrule.ones(*shape, requires_grad=True)
    kept = []
    for _ in range(50):
        out = F.dropout2d(x, 0.25)
        # Whole (sample, channel) slices go, or stay scaled by 1 / (1 - p); a 3-D input is
        # (N, C, L) in PyTorch, not an unbatched (C, H, W).
        rows = out.detach().numpy().reshape(shape[0] * shape[1], -1)
        assert (rows.min(-1) == rows.max(-1)).all()
        assert np.isclose(rows, 0).sum() + np.isclose(rows, 1 / 0.75).sum() == rows.size
        kept.append((rows[:, 0] != 0).mean())
    assert abs(np.mean(kept) - 0.75) < 0.05
    assert out.grad_fn.name() == TF.dropout2d(torch.ones(shape, requires_grad=True)).grad_fn.name()
    ours = [str(w.message) for w in recwarn]
    recwarn.clear()
    TF.dropout2d(torch.ones(shape), 0.25)
    assert set(ours) == {str(w.message) for w in recwarn}


def test_dropout2d_needs_two_dims_only_when_it_drops():
    with pytest.raises(RuntimeError, match="at least 2 dimensions"), pytest.warns(UserWarning):
        F.dropout2d(chainrule.ones(3))
    with pytest.warns(UserWarning, match="1-D input"):
        assert F.dropout2d(chainrule.ones(3), training=False).shape == (3,)


@pytest.mark.parametrize("normalized_shape,affine", [((5,), True), ((3, 5), True), ((3, 5), False)])
def test_layer_norm_array_backward_equals_the_recorded_one(normalized_shape, affine):
    """The backward on plain arrays (no graph) gives what the create_graph form gives."""
    rng = np.random.default_rng(1)
    x = chainrule.tensor(rng.standard_normal((4, 3, 5)), requires_grad=True)
    params = [chainrule.tensor(rng.standard_normal(normalized_shape), requires_grad=True)
              for _ in range(2 if affine else 0)]
    out = F.layer_norm(x, normalized_shape, *params)
    grad = chainrule.tensor(rng.standard_normal(out.shape))
    plain = chainrule.autograd.grad(out, [x, *params], grad, retain_graph=True)
    recorded = chainrule.autograd.grad(out, [x, *params], grad, create_graph=True)
    for a, b in zip(plain, recorded):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
