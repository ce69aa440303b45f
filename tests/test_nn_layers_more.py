"""RMSNorm, InstanceNorm, LocalResponseNorm, normalize, pixel shuffle, the padding layers, lazy
modules, ``compile`` and the CPU-only device queries, against torch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
from tests.torch_compare import compare_with_torch, raises_like_torch  # noqa: E402


def randn(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------ functional forms
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,normalized", [((3, 4), (4,)), ((2, 3, 4), (3, 4))], ids=str)
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm_matches_torch(dtype, shape, normalized, eps):
    compare_with_torch(lambda lib, x, w: lib.nn.functional.rms_norm(x, normalized, w, eps),
                       randn(*shape, dtype=dtype), randn(*normalized, dtype=dtype, seed=1))
    compare_with_torch(lambda lib, x: lib.nn.functional.rms_norm(x, normalized, eps=eps),
                       randn(*shape, dtype=dtype))


def test_rms_norm_rejects_a_shape_that_is_not_trailing():
    raises_like_torch(lambda: F.rms_norm(chainrule.randn(2, 4), (3,)),
                      lambda: torch.nn.functional.rms_norm(torch.randn(2, 4), (3,)))


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 2)], ids=str)
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_matches_torch(shape, affine):
    args = [randn(*shape)] + ([randn(3, seed=1), randn(3, seed=2)] if affine else [])
    compare_with_torch(lambda lib, x, *wb: lib.nn.functional.instance_norm(x, None, None, *wb),
                       *args)


def test_instance_norm_updates_and_uses_running_statistics_as_torch():
    x = randn(4, 3, 6)
    stats = {lib: (lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64))
             for lib in (chainrule, torch)}
    for lib in (chainrule, torch):
        lib.nn.functional.instance_norm(lib.tensor(x), *stats[lib], momentum=0.3)
    for ours, theirs in zip(stats[chainrule], stats[torch]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    compare_with_torch(lambda lib, x: lib.nn.functional.instance_norm(
        x, *stats[lib], use_input_stats=False), x)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.instance_norm(lib.randn(2, 4)),
    lambda lib: lib.nn.functional.instance_norm(lib.randn(2, 3, 1)),
    lambda lib: lib.nn.functional.instance_norm(lib.randn(2, 3, 4), use_input_stats=False),
])
def test_instance_norm_errors_match_torch(call):
    raises_like_torch(lambda: call(chainrule), lambda: call(torch))


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 4, 3, 2), (1, 6, 2, 2, 2)], ids=str)
@pytest.mark.parametrize("size", [1, 2, 3])
def test_local_response_norm_matches_torch(shape, size):
    compare_with_torch(lambda lib, x: lib.nn.functional.local_response_norm(
        x, size, alpha=0.1, beta=0.6, k=2.0), randn(*shape))


def test_local_response_norm_rejects_2d_input_as_torch():
    raises_like_torch(lambda: F.local_response_norm(chainrule.randn(2, 4), 2),
                      lambda: torch.nn.functional.local_response_norm(torch.randn(2, 4), 2))


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
def test_normalize_matches_torch(p, dim):
    x = randn(3, 4)
    x[1] = 0.0  # a zero vector hits the eps floor
    compare_with_torch(lambda lib, x: lib.nn.functional.normalize(x, p, dim), x)


def test_normalize_writes_out():
    out = chainrule.empty(2)
    result = F.normalize(chainrule.tensor([3.0, 4.0]), dim=0, out=out)
    assert result is out
    np.testing.assert_allclose(out.numpy(), [0.6, 0.8], rtol=1e-6)


@pytest.mark.parametrize("shape,factor", [((1, 8, 2, 3), 2), ((2, 3, 9, 1, 2), 3), ((4, 2, 2), 2)],
                         ids=str)
def test_pixel_shuffle_and_unshuffle_match_torch(shape, factor):
    x = randn(*shape)
    shuffled = compare_with_torch(lambda lib, x: lib.nn.functional.pixel_shuffle(x, factor), x)
    compare_with_torch(lambda lib, x: lib.nn.functional.pixel_unshuffle(x, factor),
                       shuffled.detach().numpy())


def test_pixel_shuffle_second_derivative_is_unshuffle():
    x = chainrule.randn(1, 4, 2, 2, dtype=chainrule.float64, requires_grad=True)
    assert chainrule.autograd.gradgradcheck(lambda x: F.pixel_shuffle(x, 2) ** 2, (x,))


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.pixel_shuffle(lib.randn(2, 4), 2),
    lambda lib: lib.nn.functional.pixel_shuffle(lib.randn(2, 5, 2, 2), 2),
    lambda lib: lib.nn.functional.pixel_shuffle(lib.randn(4, 2, 2), 0),
    lambda lib: lib.nn.functional.pixel_unshuffle(lib.randn(4, 2), 2),
    lambda lib: lib.nn.functional.pixel_unshuffle(lib.randn(2, 4, 3, 2), 2),
    lambda lib: lib.nn.functional.pixel_unshuffle(lib.randn(2, 4, 2, 3), 2),
])
def test_pixel_shuffle_errors_match_torch(call):
    raises_like_torch(lambda: call(chainrule), lambda: call(torch))


# ------------------------------------------------------------------ modules
MODULES = {
    "RMSNorm": (lambda lib: lib.nn.RMSNorm([3, 4], eps=1e-3), (2, 3, 4)),
    "RMSNorm-no-affine": (lambda lib: lib.nn.RMSNorm(4, elementwise_affine=False), (2, 4)),
    "LayerNorm-no-affine": (lambda lib: lib.nn.LayerNorm(4, elementwise_affine=False), (2, 4)),
    "LayerNorm-no-bias": (lambda lib: lib.nn.LayerNorm(4, bias=False), (2, 4)),
    "LocalResponseNorm": (lambda lib: lib.nn.LocalResponseNorm(3, k=2.0), (2, 5, 3)),
    "InstanceNorm1d": (lambda lib: lib.nn.InstanceNorm1d(3), (2, 3, 5)),
    "InstanceNorm1d-unbatched": (lambda lib: lib.nn.InstanceNorm1d(3, affine=True), (3, 5)),
    "InstanceNorm2d": (lambda lib: lib.nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
                       (2, 3, 4, 4)),
    "ReflectionPad1d": (lambda lib: lib.nn.ReflectionPad1d(2), (2, 3, 4)),
    "ReflectionPad2d": (lambda lib: lib.nn.ReflectionPad2d((1, 2, 0, 1)), (2, 3, 4)),
    "ReflectionPad3d": (lambda lib: lib.nn.ReflectionPad3d(1), (1, 2, 3, 3, 3)),
    "ReplicationPad1d": (lambda lib: lib.nn.ReplicationPad1d((3, 1)), (2, 3, 4)),
    "ReplicationPad2d": (lambda lib: lib.nn.ReplicationPad2d(2), (1, 2, 3, 4)),
    "ReplicationPad3d": (lambda lib: lib.nn.ReplicationPad3d((1, 0, 2, 1, 0, 1)), (2, 2, 3, 3)),
    "CircularPad1d": (lambda lib: lib.nn.CircularPad1d(2), (2, 3, 4)),
    "CircularPad2d": (lambda lib: lib.nn.CircularPad2d((1, 0, 2, 1)), (1, 2, 3, 4)),
    "CircularPad3d": (lambda lib: lib.nn.CircularPad3d(1), (1, 2, 3, 3, 3)),
    "ConstantPad1d": (lambda lib: lib.nn.ConstantPad1d(2, 3.5), (2, 3, 4)),
    "ConstantPad2d": (lambda lib: lib.nn.ConstantPad2d((1, 2, 3, 4), -1.0), (2, 3, 4)),
    "ConstantPad3d": (lambda lib: lib.nn.ConstantPad3d(1, 0), (2, 3, 4, 2)),
    "ZeroPad1d": (lambda lib: lib.nn.ZeroPad1d((1, 2)), (2, 3, 4)),
    "ZeroPad2d": (lambda lib: lib.nn.ZeroPad2d((1, 1, 2, 0)), (2, 3, 4)),
    "ZeroPad3d": (lambda lib: lib.nn.ZeroPad3d(1), (2, 3, 4, 2)),
    "PixelShuffle": (lambda lib: lib.nn.PixelShuffle(2), (1, 8, 2, 3)),
    "PixelUnshuffle": (lambda lib: lib.nn.PixelUnshuffle(2), (1, 2, 4, 6)),
}


@pytest.mark.parametrize("case", list(MODULES))
def test_module_matches_torch_in_repr_state_dict_values_and_gradients(case):
    build, shape = MODULES[case]
    ours, theirs = build(chainrule), build(torch)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours._parameters) == list(theirs._parameters)
    ours.double()
    theirs.double()
    with torch.no_grad():
        for (name, mine), other in zip(ours.named_parameters(), theirs.parameters()):
            values = randn(*other.shape, seed=len(name))
            mine.data = chainrule.tensor(values)
            other.copy_(torch.tensor(values))
    x = randn(*shape)
    compare_with_torch(lambda lib, x: (ours if lib is chainrule else theirs)(x), x,
                       name="CircularPad1DBackward0" if case.startswith("Circular") else None)
    for mine, other in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(mine.grad.numpy(), other.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (key, mine), other in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(mine.numpy(), other.numpy(), rtol=1e-9, err_msg=key)


@pytest.mark.parametrize("cls", ["InstanceNorm1d", "InstanceNorm2d"])
def test_instance_norm_module_errors_and_warnings_match_torch(cls):
    for lib in (chainrule, torch):
        with pytest.warns(UserWarning, match="does not match num_features"):
            getattr(lib.nn, cls)(3)(lib.randn(2, 4, 5, 5)[..., 0] if cls == "InstanceNorm1d"
                                    else lib.randn(2, 4, 5, 5))
    raises_like_torch(lambda: getattr(nn, cls)(3, affine=True)(chainrule.randn(2, 4, 5, 5)),
                      lambda: getattr(torch.nn, cls)(3, affine=True)(torch.randn(2, 4, 5, 5)))
    raises_like_torch(lambda: getattr(nn, cls)(3)(chainrule.randn(5)),
                      lambda: getattr(torch.nn, cls)(3)(torch.randn(5)))


def test_instance_norm_eval_uses_running_statistics():
    x = randn(4, 3, 6)
    modules = {lib: lib.nn.InstanceNorm1d(3, track_running_stats=True).double()
               for lib in (chainrule, torch)}
    for lib, module in modules.items():
        module(lib.tensor(x))
        module.eval()
    for key, value in modules[torch].state_dict().items():
        np.testing.assert_allclose(modules[chainrule].state_dict()[key].numpy(), value.numpy(),
                                   rtol=1e-12, err_msg=key)
    np.testing.assert_allclose(modules[chainrule](chainrule.tensor(x)).numpy(),
                               modules[torch](torch.tensor(x)).numpy(), rtol=1e-10)


# ------------------------------------------------------------------ lazy modules
LAZY = {
    "LazyLinear": (lambda lib: lib.nn.LazyLinear(4), lambda lib: lib.nn.Linear(3, 4), (5, 3)),
    "LazyLinear-no-bias": (lambda lib: lib.nn.LazyLinear(4, bias=False),
                           lambda lib: lib.nn.Linear(3, 4, bias=False), (2, 5, 3)),
    "LazyConv1d": (lambda lib: lib.nn.LazyConv1d(4, 3, padding=1),
                   lambda lib: lib.nn.Conv1d(2, 4, 3, padding=1), (2, 2, 7)),
    "LazyConv1d-unbatched": (lambda lib: lib.nn.LazyConv1d(4, 3, groups=2),
                             lambda lib: lib.nn.Conv1d(6, 4, 3, groups=2), (6, 7)),
    "LazyConv2d": (lambda lib: lib.nn.LazyConv2d(4, 3, stride=2),
                   lambda lib: lib.nn.Conv2d(3, 4, 3, stride=2), (2, 3, 7, 7)),
    "LazyBatchNorm1d": (lambda lib: lib.nn.LazyBatchNorm1d(momentum=0.2),
                        lambda lib: lib.nn.BatchNorm1d(3, momentum=0.2), (5, 3)),
    "LazyBatchNorm2d": (lambda lib: lib.nn.LazyBatchNorm2d(affine=False),
                        lambda lib: lib.nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4)),
}


@pytest.mark.parametrize("case", list(LAZY))
def test_lazy_module_before_and_after_its_first_forward_matches_torch(case):
    lazy, eager, shape = LAZY[case]
    ours, theirs = lazy(chainrule), lazy(torch)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [repr(v) for v in ours.state_dict().values()][:-1] == \
        [repr(v) for v in theirs.state_dict().values()][:-1]
    assert ours.has_uninitialized_params()
    x = chainrule.randn(*shape)
    chainrule.manual_seed(7)
    out = ours(x)
    theirs(torch.randn(*shape))
    assert type(ours).__name__ == type(theirs).__name__
    assert repr(ours) == repr(theirs)
    assert isinstance(ours, getattr(nn, type(theirs).__name__))
    for (name, mine), other in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert mine.shape == other.shape and type(mine) is chainrule.Tensor, name
    assert all(type(p) is nn.Parameter for p in ours.parameters())
    # Initialised exactly as the eager layer: same draws from the same generator state.
    chainrule.manual_seed(7)
    reference = eager(chainrule)
    for key, value in reference.state_dict().items():
        if key.startswith(("running", "num_batches")):
            continue  # the lazy module's forward already updated them
        np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    assert out.shape == tuple(theirs(torch.randn(*shape)).shape)
    assert ours._forward_pre_hooks == {}


def test_lazy_module_materialises_from_a_loaded_state_dict():
    source = nn.Linear(3, 4)
    lazy = nn.LazyLinear(4)
    lazy.load_state_dict(source.state_dict())
    assert not lazy.has_uninitialized_params()
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), source.weight.detach().numpy())
    x = chainrule.randn(2, 3)
    np.testing.assert_array_equal(lazy(x).detach().numpy(), source(x).detach().numpy())
    assert type(lazy) is nn.Linear


@pytest.mark.parametrize("case", ["LazyLinear", "LazyBatchNorm1d"])
def test_lazy_module_converted_before_its_first_forward_keeps_its_placeholders(case):
    lazy, _, shape = LAZY[case]
    ours, theirs = lazy(chainrule).double(), lazy(torch).double()
    assert [repr(v) for v in ours.state_dict().values()] == [repr(v) for v in theirs.state_dict().values()]
    ours(chainrule.randn(*shape, dtype=chainrule.float64))
    theirs(torch.randn(*shape, dtype=torch.float64))
    for (key, mine), other in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert (tuple(mine.shape), str(mine.dtype)) == (tuple(other.shape), str(other.dtype)), key


def test_lazy_conv_errors_match_torch():
    raises_like_torch(lambda: nn.LazyConv1d(4, 3, groups=2)(chainrule.randn(2, 3, 5)),
                      lambda: torch.nn.LazyConv1d(4, 3, groups=2)(torch.randn(2, 3, 5)))
    raises_like_torch(lambda: nn.LazyConv1d(4, 3)(chainrule.randn(5)),
                      lambda: torch.nn.LazyConv1d(4, 3)(torch.randn(5)))


def test_uninitialized_placeholders_become_their_plain_classes():
    param, buffer = nn.UninitializedParameter(), nn.UninitializedBuffer()
    assert repr(param) == "<UninitializedParameter>" and repr(buffer) == "<UninitializedBuffer>"
    assert isinstance(param, nn.Parameter)
    param.materialize((2, 3), dtype=chainrule.float64)
    buffer.materialize((4,))
    assert type(param) is nn.Parameter and param.shape == (2, 3)
    assert param.dtype == chainrule.float64 and param.requires_grad
    assert type(buffer) is chainrule.Tensor and buffer.shape == (4,)


# ------------------------------------------------------------------ compile, devices, constants
def test_compile_returns_a_module_wrapper_like_torch():
    model = nn.Linear(3, 4)
    compiled = chainrule.compile(model, mode="max-autotune", fullgraph=True, dynamic=False,
                                 backend="inductor")
    # torch.compile's output, written out: building it live imports TorchDynamo (seconds).
    assert repr(compiled) == ("OptimizedModule(\n  (_orig_mod): Linear(in_features=3, "
                              "out_features=4, bias=True)\n)")
    assert list(compiled.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    assert isinstance(compiled, nn.Module) and compiled._orig_mod is model
    assert compiled.weight is model.weight and compiled.in_features == 3
    x = chainrule.randn(2, 3)
    np.testing.assert_array_equal(compiled(x).detach().numpy(), model(x).detach().numpy())
    assert list(compiled.parameters()) == list(model.parameters())


def test_compile_wraps_functions_and_works_as_a_decorator():
    def square(x):
        return x * x

    compiled = chainrule.compile(square)
    assert compiled.__wrapped__ is square and compiled.__name__ == "square"

    @chainrule.compile(backend="eager")
    def cube(x):
        return x ** 3

    assert cube(chainrule.tensor(2.0)).item() == 8.0
    assert compiled(chainrule.tensor(3.0)).item() == 9.0


# torch.compile's errors, written out: calling it live imports TorchDynamo (seconds).
@pytest.mark.parametrize("call,error,message", [
    (lambda: chainrule.compile(3), AssertionError,
     "A callable function is expected, but <class 'int'> is provided."),
    (lambda: chainrule.compile(lambda x: x, mode="x"), RuntimeError,
     "Unrecognized mode=x, should be one of: default, lite, reduce-overhead, "
     "max-autotune-no-cudagraphs, max-autotune"),
    (lambda: chainrule.compile(lambda x: x, mode="default", options={}), RuntimeError,
     "Either mode or options can be specified, but both can't be specified at the same time."),
])
def test_compile_errors_match_torch(call, error, message):
    with pytest.raises(error) as got:
        call()
    assert str(got.value) == message


def test_device_queries_answer_as_on_a_cpu_only_machine():
    x = chainrule.ones(2)
    assert (x.is_cuda, x.is_xpu, x.is_mps) == (False, False, False)
    assert chainrule.cuda.is_available() is False
    assert chainrule.backends.mps.is_available() is False


def test_constants_match_torch():
    for name in ("inf", "pi", "e"):
        assert getattr(chainrule, name) == getattr(torch, name)
    assert math.isnan(chainrule.nan)
