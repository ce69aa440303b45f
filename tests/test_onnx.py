"""``torch.onnx.export``: every exported model runs in onnxruntime and matches chainrule."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.onnx.errors import OnnxExporterError, UnsupportedOperatorError

onnx = pytest.importorskip("onnx", reason="the optional 'onnx' package is not installed")
ort = pytest.importorskip("onnxruntime", reason="the optional 'onnxruntime' package is not installed")


def mnist_net(lib=torch):
    """pytorch/examples' MNIST CNN (smaller), built from ``lib`` (chainrule or torch)."""

    class MnistNet(lib.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = lib.nn.Conv2d(1, 8, 3, 1)
            self.conv2 = lib.nn.Conv2d(8, 16, 3, 1)
            self.dropout1 = lib.nn.Dropout(0.25)
            self.fc1 = lib.nn.Linear(2304, 32)
            self.fc2 = lib.nn.Linear(32, 10)

        def forward(self, x):
            functional = lib.nn.functional
            x = functional.max_pool2d(functional.relu(self.conv2(functional.relu(self.conv1(x)))), 2)
            x = lib.flatten(self.dropout1(x), 1)
            return functional.log_softmax(self.fc2(functional.relu(self.fc1(x))), dim=1)

    return MnistNet()


MnistNet = mnist_net


def mlp(lib=torch):
    nn = lib.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(32, 10))


def conv_net(lib=torch):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.LeakyReLU(0.1),
                         nn.AvgPool2d(2), nn.Conv2d(4, 4, 3), nn.GELU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.LayerNorm(4), nn.Linear(4, 3), nn.Tanh())


class Arithmetic(nn.Module):
    def forward(self, a, b):
        c = torch.cat([a @ b, a.permute(1, 0).transpose(0, 1).view(3, 3) * 2 + 1 - a / 3], 0)
        d = (c.reshape(2, 9).unsqueeze(0).squeeze(0) ** 2).sqrt().exp().log().neg()
        e = torch.stack([d[:, 1:7:2], d[..., None, :3][:, 0], -d[:, -3:]], dim=1)
        return e.sum(1, keepdim=True) + e.mean(dim=(0, 1), keepdim=True).abs() - e.abs().rsqrt().tanh()


class MoreOps(nn.Module):
    """Ops with extra arguments (alpha, reversed operands) and ops with several outputs."""

    def forward(self, a, b):
        s = torch.add(a, b, alpha=2) + torch.sub(a, b, alpha=0.5) + (1 - a) + a.abs() ** b
        left, right = s.split([1, 2], dim=1)
        rows = s.t().unbind(0)
        first, _ = torch.chunk(s, 2, dim=0)
        wide = left.expand(3, 4) * torch.stack(rows, 1)[:, :1] / first.sum()
        picked = a[1, None, :2] * a[-1:, -2:] * a[None, :, 1][..., 1:]
        return wide, right[:, 1:].squeeze() + rows[2], picked


class SlicesBatch(nn.Module):
    def forward(self, x):
        ends = x[1:] * x[-1] + x[1:2].sum() + x[1:, ::2].sum(1, keepdim=True)
        return x[:-1] + ends + x[:-1, :1].expand(-1, 4)


class AddsZeros(nn.Module):
    def forward(self, x):
        return x + torch.zeros(x.shape[0], 3) + torch.full((x.shape[0], 1), 2.0)


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        out, _ = self.mha(x, x, x)
        q = x.view(x.shape[0], 5, 2, 4).transpose(1, 2)
        causal = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        return out + causal.transpose(1, 2).reshape(x.shape)


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True)
        self.gru = nn.GRU(6, 5, batch_first=True)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.gru(out)[0]


def randn(*shape):
    return torch.randn(*shape)


# (id, model, inputs): every model is exported at the default opset and run in onnxruntime.
MODELS = [
    ("mnist_cnn", MnistNet, lambda: (randn(2, 1, 28, 28),)),
    ("mlp", mlp, lambda: (randn(3, 1, 28, 28),)),
    ("conv_net", conv_net, lambda: (randn(2, 3, 8, 8),)),
    ("conv1d_batchnorm_pools", lambda: nn.Sequential(
        nn.Conv1d(3, 4, 3, padding=1, stride=2), nn.BatchNorm1d(4), nn.AvgPool1d(2), nn.LeakyReLU(0.2),
        nn.MaxPool1d(2), nn.BatchNorm1d(4, track_running_stats=False), nn.AdaptiveAvgPool1d(1)),
     lambda: (randn(2, 3, 17),)),
    ("conv2d_norms", lambda: nn.Sequential(
        nn.Conv2d(3, 4, 3, padding="same", dilation=2, groups=1), nn.BatchNorm2d(4),
        nn.GroupNorm(2, 4), nn.Conv2d(4, 4, 2, groups=2, bias=False), nn.AdaptiveAvgPool2d((3, 2)),
        nn.Sigmoid()), lambda: (randn(2, 3, 9, 8),)),
    ("pool_padding_ceil", lambda: nn.Sequential(
        nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), nn.MaxPool2d(2, 1, dilation=2),
        nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
        nn.AvgPool2d(2, padding=1, divisor_override=3)), lambda: (randn(2, 3, 13, 12),)),
    ("layernorm_gelu_softmax", lambda: nn.Sequential(
        nn.Linear(6, 8), nn.GELU(), nn.LayerNorm(8), nn.GELU("tanh"), nn.Linear(8, 4),
        nn.Softmax(-1)), lambda: (randn(2, 3, 6),)),
    ("activations", lambda: nn.Sequential(
        nn.ELU(0.5), nn.SELU(), nn.CELU(2.0), nn.Softplus(), nn.Softplus(beta=2.0), nn.SiLU(),
        nn.Hardtanh(-0.5, 0.7), nn.ReLU6(), nn.Tanh(), nn.LogSoftmax(1)), lambda: (randn(4, 5),)),
    ("max_pool_negative", lambda: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True),
     lambda: (randn(1, 2, 6, 6) - 10,)),
    ("upsample", lambda: nn.Sequential(nn.Upsample(scale_factor=2), nn.Upsample(
        size=(7, 5), mode="bilinear", align_corners=False)), lambda: (randn(1, 2, 3, 4),)),
    ("embedding", lambda: nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2)),
     lambda: (torch.tensor([[1, 2, 9], [0, 4, 4]]),)),
    ("arithmetic_and_shapes", Arithmetic, lambda: (randn(3, 3), randn(3, 3))),
    ("more_ops", MoreOps, lambda: (randn(3, 3), randn(3, 3))),
    ("attention", Attention, lambda: (randn(2, 5, 8),)),
    ("lstm_gru", Recurrent, lambda: (randn(2, 3, 4),)),
]


def _expected(model, inputs):
    with torch.no_grad():
        result = model(*inputs)
    results = result if isinstance(result, tuple) else (result,)
    return [r.numpy() for r in results]


def _run(model_bytes: bytes, inputs, names=None):
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = names or [i.name for i in session.get_inputs()]
    return session.run(None, {name: t.numpy() for name, t in zip(names, inputs)})


def _exported(model, inputs, **options) -> bytes:
    buffer = io.BytesIO()
    torch.onnx.export(model, inputs, buffer, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("opset", [13, 20])
@pytest.mark.parametrize("make_model, make_inputs", [m[1:] for m in MODELS],
                         ids=[m[0] for m in MODELS])
def test_exported_model_matches_chainrule_in_onnxruntime(make_model, make_inputs, opset):
    torch.manual_seed(0)
    model, inputs = make_model(), make_inputs()
    data = _exported(model, inputs, opset_version=opset)
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    for got, want in zip(_run(data, inputs), _expected(model.eval(), inputs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
def test_opset_versions(opset):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.LayerNorm(8), nn.GELU("tanh"),
                          nn.GroupNorm(3, 3))
    x = randn(2, 3, 6)
    data = _exported(model, (x,), opset_version=opset)
    proto = onnx.load_from_string(data)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]
    assert ("Gelu" in {n.op_type for n in proto.graph.node}) == (opset >= 20)
    np.testing.assert_allclose(_run(data, (x,))[0], _expected(model, (x,))[0], rtol=1e-5, atol=1e-6)


def test_default_opset_is_torchs():
    program = torch.onnx.export(nn.Linear(2, 2), randn(1, 2), io.BytesIO())
    assert program.model_proto.opset_import[0].version == 20


@pytest.mark.parametrize("opset", [12, 21])
def test_unsupported_opset_is_refused(opset):
    with pytest.raises(RuntimeError, match=f"Unsupported onnx_opset_version: {opset}"):
        torch.onnx.export(nn.Linear(2, 2), randn(1, 2), io.BytesIO(), opset_version=opset)


@pytest.mark.parametrize("make_model, shape, batch_dim", [
    (MnistNet, (2, 1, 28, 28), 0),
    (Attention, (2, 5, 8), 0),
    (SlicesBatch, (3, 4), 0),
    (AddsZeros, (2, 3), 0),
    (Recurrent, (2, 3, 4), 0),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.GroupNorm(2, 4), nn.Flatten(0, 1)), (2, 3, 5, 5), 0),
    (lambda: nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3)), (3, 2, 4), 1),
])
def test_dynamic_batch_axis_runs_at_another_batch_size(make_model, shape, batch_dim):
    torch.manual_seed(0)
    model = make_model()
    data = _exported(model, (randn(*shape),), input_names=["input"], output_names=["out"],
                     dynamic_axes={"input": {batch_dim: "batch"}, "out": {batch_dim: "batch"}})
    graph = onnx.load_from_string(data).graph
    assert graph.input[0].type.tensor_type.shape.dim[batch_dim].dim_param == "batch"
    larger = list(shape)
    larger[batch_dim] = 5
    x = randn(*larger)
    np.testing.assert_allclose(_run(data, (x,))[0], _expected(model.eval(), (x,))[0],
                               rtol=1e-5, atol=1e-6)


def test_dynamic_axes_as_a_list_get_torchs_dim_names():
    data = _exported(nn.Linear(3, 2), (randn(2, 3),), input_names=["x"], output_names=["y"],
                     dynamic_axes={"x": [0], "y": [0]})
    graph = onnx.load_from_string(data).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "x_dynamic_axes_1"
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "y_dynamic_axes_1"
    assert graph.input[0].type.tensor_type.shape.dim[1].dim_value == 3


def test_fixed_shapes_without_dynamic_axes():
    data = _exported(nn.Linear(3, 2), (randn(2, 3),))
    dims = onnx.load_from_string(data).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [2, 3]


def test_dynamic_axes_naming_an_unknown_value_is_an_error():
    with pytest.raises(ValueError, match="'nope'"):
        _exported(nn.Linear(3, 2), (randn(2, 3),), dynamic_axes={"nope": [0]})


def test_tensor_made_in_forward_with_a_dynamic_size_is_refused_unless_filled():
    class AddsRange(nn.Module):
        def forward(self, x):
            return x + torch.arange(x.shape[0], dtype=torch.float32)[:, None]

    with pytest.raises(OnnxExporterError, match=r"aten::unsqueeze uses a tensor of shape \(2,\) made inside forward"):
        _exported(AddsRange(), (randn(2, 3),), input_names=["x"], dynamic_axes={"x": [0]})


def test_a_dynamic_sequence_length_through_an_unrolled_rnn_is_refused():
    with pytest.raises(OnnxExporterError, match="applied different ops when a dynamic axis"):
        _exported(Recurrent(), (randn(2, 3, 4),), input_names=["x"], dynamic_axes={"x": [1]})


def test_expanding_a_constant_to_a_dynamic_size_is_refused():
    class ExpandsOnes(nn.Module):
        def forward(self, x):
            return x + torch.ones(1, 3).expand(x.shape[0], 3)

    with pytest.raises(OnnxExporterError, match=r"expand to \(2, 3\) grows dim 0"):
        _exported(ExpandsOnes(), (randn(2, 3),), input_names=["x"], dynamic_axes={"x": [0]})


def test_input_and_output_names():
    model = Arithmetic()
    data = _exported(model, (randn(3, 3), randn(3, 3)), input_names=["left", "right"],
                     output_names=["result"])
    graph = onnx.load_from_string(data).graph
    assert [i.name for i in graph.input] == ["left", "right"]
    assert [o.name for o in graph.output] == ["result"]


def test_default_names_are_the_forward_parameters():
    graph = onnx.load_from_string(_exported(Arithmetic(), (randn(3, 3), randn(3, 3)))).graph
    assert [i.name for i in graph.input] == ["a", "b"]
    assert [o.name for o in graph.output] == ["output"]


def test_parameters_are_initializers_named_by_state_dict_keys():
    model = MnistNet()
    graph = onnx.load_from_string(_exported(model, (randn(1, 1, 28, 28),))).graph
    stored = {i.name for i in graph.initializer if not i.name.startswith("_constant")}
    assert stored == set(model.state_dict())
    assert [i.name for i in graph.input] == ["x"]


def test_export_params_false_makes_parameters_inputs():
    torch.manual_seed(0)
    model = mlp()
    x = randn(2, 1, 28, 28)
    data = _exported(model, (x,), export_params=False)
    graph = onnx.load_from_string(data).graph
    assert [i.name for i in graph.initializer] == ["_constant_0"]  # the flatten's shape
    names = [i.name for i in graph.input]
    assert names == ["input", "1.weight", "1.bias", "4.weight", "4.bias"]
    state = model.state_dict()
    got = _run(data, (x, *[state[name] for name in names[1:]]), names)[0]
    np.testing.assert_allclose(got, _expected(model.eval(), (x,))[0], rtol=1e-5, atol=1e-6)


def test_keep_initializers_as_inputs():
    data = _exported(nn.Linear(3, 2), (randn(2, 3),), keep_initializers_as_inputs=True)
    graph = onnx.load_from_string(data).graph
    assert [i.name for i in graph.input] == ["input", "weight", "bias"]
    assert [i.name for i in graph.initializer] == ["weight", "bias"]


def test_f_as_a_path_and_as_a_file_object(tmp_path):
    torch.manual_seed(0)
    model, x = mlp(), randn(2, 1, 28, 28)
    torch.onnx.export(model, x, str(tmp_path / "model.onnx"))
    torch.onnx.export(model, (x,), tmp_path / "pathlib.onnx")
    with open(tmp_path / "file.onnx", "wb") as f:
        torch.onnx.export(model, (x,), f)
    contents = {(tmp_path / name).read_bytes() for name in ("model.onnx", "pathlib.onnx", "file.onnx")}
    assert len(contents) == 1
    onnx.checker.check_model(str(tmp_path / "model.onnx"))
    np.testing.assert_allclose(_run(contents.pop(), (x,))[0], _expected(model.eval(), (x,))[0], rtol=1e-5,
                               atol=1e-6)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_unsupported_op_names_it_and_writes_nothing(tmp_path):
    class Cumulative(nn.Module):
        def forward(self, x):
            return torch.cumsum(x, 0)

    with pytest.raises(UnsupportedOperatorError,
                       match="Exporting the operator 'aten::cumsum' to ONNX opset version 20 is not supported"):
        torch.onnx.export(Cumulative(), randn(3), tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_max_pool_indices_are_refused():
    class WithIndices(nn.Module):
        def forward(self, x):
            values, indices = F.max_pool2d(x, 2, return_indices=True)
            return values + indices

    with pytest.raises(OnnxExporterError, match=r"aten::add uses a tensor of shape \(1, 1, 2, 2\) "
                                                "that forward computed from its inputs"):
        _exported(WithIndices(), (randn(1, 1, 4, 4),))


def test_model_is_exported_in_eval_mode_and_its_modes_restored():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.9), nn.BatchNorm1d(3))
    model[2].eval()
    x = randn(4, 3)
    data = _exported(model, (x,))
    assert model.training and model[1].training and not model[2].training
    np.testing.assert_allclose(_run(data, (x,))[0], _expected(model.eval(), (x,))[0], rtol=1e-5, atol=1e-6)


def test_is_in_onnx_export():  # True in both recordings of the forward
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(torch.onnx.is_in_onnx_export())
            return x * 2

    _exported(Probe(), (randn(2),))
    assert seen == [True, True] and not torch.onnx.is_in_onnx_export()


def test_export_returns_an_onnx_program_as_torchs_default_exporter_does(tmp_path):
    """The ONNX tutorial's form: ``program = torch.onnx.export(model, inputs, dynamo=True)``."""
    torch.manual_seed(0)
    model, x = conv_net(), randn(2, 3, 8, 8)
    program = torch.onnx.export(model, (x,), dynamo=True)
    assert isinstance(program, torch.onnx.ONNXProgram)
    assert repr(program) == "ONNXProgram(inputs=['input'], outputs=['output'], nodes=30, opset=20)"
    (out,) = program(x)
    np.testing.assert_allclose(out.numpy(), _expected(model.eval(), (x,))[0], rtol=1e-5, atol=1e-6)
    program.save(tmp_path / "model.onnx")
    assert (tmp_path / "model.onnx").read_bytes() == program.model_proto.SerializeToString()
    with pytest.raises(ValueError, match=r"takes 1 inputs \['input'\], got 2"):
        program(x, x)
    assert torch.onnx.export(model, (x,), io.BytesIO(), dynamo=False) is None


def test_a_plain_function_exports_too():
    def scaled_sum(x, y):
        return (x * 3 + y).sum(0)

    x, y = randn(2, 3), randn(2, 3)
    data = _exported(scaled_sum, (x, y))
    assert [i.name for i in onnx.load_from_string(data).graph.input] == ["x", "y"]
    np.testing.assert_allclose(_run(data, (x, y))[0], scaled_sum(x, y).numpy(), rtol=1e-6)


def test_torchs_other_options_are_accepted_and_typos_are_not():
    _exported(nn.Linear(2, 2), (randn(1, 2),), optimize=False, do_constant_folding=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'opset'"):
        _exported(nn.Linear(2, 2), (randn(1, 2),), opset=13)


def test_missing_onnx_package_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'ONNX export needs the optional package \'onnx\': run .*'
                                          r'pip install "chainrule\[onnx\]"'):
        torch.onnx.export(nn.Linear(2, 2), randn(1, 2), io.BytesIO())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("make_model, shape", [(mnist_net, (2, 1, 28, 28)), (mlp, (2, 1, 28, 28)),
                                               (conv_net, (2, 3, 8, 8))])
def test_torchs_own_export_of_the_same_model_gives_the_same_outputs(make_model, shape):
    """torch's TorchScript exporter (``dynamo=False``: the default one needs onnxscript)."""
    real_torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    torch.manual_seed(0)
    model, theirs = make_model(), make_model(real_torch)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):  # running statistics that matter
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    theirs.load_state_dict({k: real_torch.from_numpy(v.numpy().copy())
                            for k, v in model.state_dict().items()})
    theirs.eval()
    x = randn(*shape)
    ours = _exported(model, (x,), input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    buffer = io.BytesIO()
    real_torch.onnx.export(theirs, (real_torch.from_numpy(x.numpy()),), buffer, dynamo=False,
                           input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    for batch in (x, randn(5, *shape[1:])):
        np.testing.assert_allclose(_run(ours, (batch,))[0], _run(buffer.getvalue(), (batch,))[0],
                                   rtol=1e-5, atol=1e-6)


def test_unchanged_torch_script_exports_under_chainrule_run(tmp_path, capsys, monkeypatch):
    from chainrule._torch_shim import run_script

    script = tmp_path / "export.py"
    script.write_text(
        "import torch\n"
        "import torch.onnx\n"
        "from torch.onnx.errors import UnsupportedOperatorError\n"
        "model = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU())\n"
        "dummy_input = torch.randn(1, 4)\n"
        "torch.onnx.export(model, dummy_input, 'model.onnx', input_names=['input'],\n"
        "                  output_names=['output'], dynamic_axes={'input': {0: 'batch'}})\n"
        "print(type(model).__module__, UnsupportedOperatorError.__module__)\n")
    monkeypatch.chdir(tmp_path)
    run_script(script, [])
    assert capsys.readouterr().out.split() == ["chainrule.nn.modules.container", "chainrule.onnx.errors"]
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    assert session.run(None, {"input": np.ones((3, 4), np.float32)})[0].shape == (3, 2)
