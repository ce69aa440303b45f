"""Lines of PyTorch's own tutorials that chainrule once failed: accelerators and default
devices, ``out=`` on ops, ``ctx.needs_input_grad`` without gradients."""

from __future__ import annotations

import pytest

import chainrule

torch = pytest.importorskip("torch")


def test_accelerator_says_there_is_none():
    for lib in (chainrule, torch):
        assert lib.accelerator.is_available() is False
        assert lib.accelerator.current_accelerator() is None
        device = (lib.accelerator.current_accelerator().type
                  if lib.accelerator.is_available() else "cpu")
        assert str(lib.ones(1).to(device).device) == "cpu"


def test_default_device_is_the_cpu_and_others_are_refused():
    chainrule.set_default_device("cpu")
    chainrule.set_default_device(chainrule.device("cpu"))
    chainrule.set_default_device(None)
    assert chainrule.get_default_device() == chainrule.device("cpu")
    assert repr(chainrule.get_default_device()) == repr(torch.get_default_device())
    with pytest.raises(RuntimeError, match="CPU only"):
        chainrule.set_default_device("cuda")


@pytest.mark.parametrize("op", [
    lambda lib, out: lib.matmul(lib.ones(2, 3), lib.ones(3, 2), out=out),
    lambda lib, out: lib.mm(lib.ones(2, 3), lib.ones(3, 2), out=out),
    lambda lib, out: lib.exp(lib.zeros(3), out=out),
    lambda lib, out: lib.sum(lib.ones(2, 3), 1, out=out),
    lambda lib, out: lib.clamp(lib.arange(5.0), 1, 3, out=out),
    lambda lib, out: lib.where(lib.tensor([True, False]), lib.ones(2), lib.zeros(2), out=out),
])
def test_ops_write_into_out_as_torch_does(op):
    results = []
    for lib in (chainrule, torch):
        out = lib.empty(0)
        assert op(lib, out) is out
        results.append(out.tolist())
    assert results[0] == results[1]


def test_out_refuses_arguments_that_require_grad_as_torch_does():
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
            lib.exp(lib.ones(2, requires_grad=True), out=lib.empty(2))


def _needs_seen(lib) -> list:
    seen = []

    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, factor):
            seen.append(ctx.needs_input_grad)
            return x * factor

        @staticmethod
        def backward(ctx, grad):
            return grad * 2, None

    Double.apply(lib.ones(1), 2)
    Double.apply(lib.ones(1, requires_grad=True), 2)
    return seen


@pytest.mark.parametrize("lib", [chainrule, torch], ids=["chainrule", "torch"])
def test_needs_input_grad_has_one_entry_per_input_even_without_gradients(lib):
    assert _needs_seen(lib) == [(False, False), (True, False)]


@pytest.mark.parametrize("name", ["float16", "float32", "float64", None])
def test_finfo_matches_torch(name):
    ours = chainrule.finfo() if name is None else chainrule.finfo(getattr(chainrule, name))
    theirs = torch.finfo() if name is None else torch.finfo(getattr(torch, name))
    assert repr(ours) == repr(theirs)
    for attribute in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    ours, theirs = chainrule.iinfo(getattr(chainrule, name)), torch.iinfo(getattr(torch, name))
    assert repr(ours) == repr(theirs)
    assert (ours.bits, ours.min, ours.max, ours.dtype) == (theirs.bits, theirs.min, theirs.max, theirs.dtype)


def test_finfo_and_iinfo_refuse_the_other_kind_as_torch_does():
    for lib in (chainrule, torch):
        with pytest.raises(TypeError, match="requires a floating point input type"):
            lib.finfo(lib.int32)
        with pytest.raises(TypeError, match="requires an integer input type"):
            lib.iinfo(lib.float32)


@pytest.mark.parametrize("lib", [chainrule, torch], ids=["chainrule", "torch"])
def test_a_zero_dim_index_reads_as_one_dim_in_gather_and_scatter(lib):
    one_hot = lib.zeros(5).scatter_(0, lib.tensor(3), value=1)  # the Transforms tutorial's Lambda
    assert one_hot.tolist() == [0, 0, 0, 1, 0]
    picked = lib.arange(5.0).gather(0, lib.tensor(2))
    assert picked.shape == () and picked.item() == 2
    assert lib.zeros(4).scatter_add(0, lib.tensor(1), lib.tensor(5.0)).tolist() == [0, 5, 0, 0]
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        lib.zeros(2, 3).gather(0, lib.tensor(1))


@pytest.mark.parametrize("dtype", ["int32", "int16", "float32"])
def test_class_targets_of_other_dtypes_than_long_or_byte_are_refused(dtype):
    for lib in (chainrule, torch):
        target = lib.tensor([0, 1], dtype=getattr(lib, dtype))
        for loss in (lib.nn.functional.cross_entropy, lib.nn.functional.nll_loss):
            with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
                loss(lib.ones(2, 3), target)


def _new_style_exp(lib):
    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx, grad):
            (result,) = ctx.saved_tensors
            return grad * result

    return Exp


@pytest.mark.parametrize("lib", [chainrule, torch], ids=["chainrule", "torch"])
def test_functions_in_the_setup_context_style(lib):
    exp = _new_style_exp(lib)
    x = lib.tensor([0.0, 1.0], requires_grad=True)
    y = exp.apply(x)
    assert type(y.grad_fn).__name__ == "ExpBackward"
    y.sum().backward()
    assert x.grad.tolist() == pytest.approx([1.0, 2.718281828])
    assert exp.apply(lib.zeros(1)).tolist() == [1.0]
    assert lib.autograd.gradcheck(exp.apply, (lib.zeros(3, dtype=lib.float64, requires_grad=True),))


def test_variable_is_a_detached_tensor_sharing_data():
    from chainrule.autograd import Variable

    data = chainrule.ones(2)
    variable = Variable(data, requires_grad=True)
    assert variable.requires_grad and not data.requires_grad and variable is not data
    variable.data[0] = 5
    assert data.tolist() == [5, 1]
    assert isinstance(data, Variable)
    theirs = torch.autograd.Variable(torch.ones(2), requires_grad=True)
    assert repr(variable.detach().fill_(1).requires_grad_()) == repr(theirs)


@pytest.mark.parametrize("make", [
    lambda lib: lib.randn(2, dtype=lib.long), lambda lib: lib.rand(2, dtype=lib.long),
    lambda lib: lib.rand_like(lib.tensor([1, 2])), lambda lib: lib.rand(2, dtype=lib.bool),
    lambda lib: lib.normal(0, 1, (2,), dtype=lib.int64),
])
def test_random_floats_of_integer_dtypes_raise_torchs_error(make):
    messages = []
    for lib in (chainrule, torch):
        with pytest.raises(NotImplementedError) as error:
            make(lib)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_adaptive_average_of_whole_numbers_is_whole_as_in_torch():
    results = [lib.nn.functional.adaptive_avg_pool2d(lib.arange(25.0).view(1, 1, 5, 5), 2)
               for lib in (chainrule, torch)]
    assert results[0].tolist() == results[1].tolist() == [[[[6.0, 8.0], [16.0, 18.0]]]]
    assert repr(results[0]) == repr(results[1])


@pytest.mark.parametrize("lib", [chainrule, torch], ids=["chainrule", "torch"])
def test_in_place_shape_changes(lib):
    w = lib.ones(2, 1, 3)
    assert w.squeeze_() is w and w.shape == (2, 3)
    assert w.unsqueeze_(0).shape == (1, 2, 3)
    assert w.transpose_(0, 2).shape == (3, 2, 1)
    m = lib.arange(6.0).reshape(2, 3)
    m.t_()
    m[0, 1] = 100
    assert m.tolist() == [[0, 100], [1, 4], [2, 5]] and m._version > 0
    x = lib.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.t_()
    y = x * lib.arange(3.0)
    y.t_()
    (y * lib.arange(2.0)).sum().backward()
    assert x.grad.tolist() == [[0, 0, 0], [0, 1, 2]]
