"""chainrule.diagnostics: gradient statistics, findings, activation health, plots, graphs,
the GradientMonitor callback, and anomaly detection in the autograd engine."""

from __future__ import annotations

import io
import os
import shutil
import sys
import warnings

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.diagnostics import (
    ActivationMonitor,
    Finding,
    GradientMonitor,
    check_gradients,
    draw_graph,
    grad_stats,
    plot_grad_flow,
    write_diagnostics,
)
from chainrule.train.callbacks import Callback

torch = pytest.importorskip("torch")

def mlp(sizes, activation=nn.ReLU):
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    return nn.Sequential(*layers[:-1])


def backward_on_random_batch(model, features, classes, samples=64):
    x = chainrule.randn(samples, features)
    y = chainrule.randint(0, classes, (samples,))
    nn.CrossEntropyLoss()(model(x), y).backward()


def kinds(findings):
    return {finding.kind for finding in findings}


@pytest.fixture(autouse=True)
def seeded():
    chainrule.manual_seed(0)


# --- grad_stats --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [chainrule.float32, chainrule.float64])
def test_grad_stats_match_a_direct_computation_and_torch(dtype):
    model = mlp([5, 7, 3]).to(dtype)
    x = np.random.default_rng(0).standard_normal((4, 5))
    model(chainrule.tensor(x, dtype=dtype)).relu().pow(2).sum().backward()

    reference = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    reference = reference.to(getattr(torch, str(dtype).split(".")[1]))
    with torch.no_grad():
        for name, p in reference.named_parameters():
            p.copy_(torch.from_numpy(dict(model.named_parameters())[name].detach().numpy().copy()))
    reference(torch.from_numpy(x).to(reference[0].weight.dtype)).relu().pow(2).sum().backward()
    torch_params = dict(reference.named_parameters())

    rows = grad_stats(model)
    assert [row.name for row in rows] == [name for name, _ in model.named_parameters()]
    tol = 1e-5 if dtype == chainrule.float32 else 1e-10
    for row in rows:
        p = dict(model.named_parameters())[row.name]
        g, w = p.grad.numpy().astype(np.float64), p.detach().numpy().astype(np.float64)
        np.testing.assert_allclose(g, torch_params[row.name].grad.double().numpy(), rtol=tol,
                                   atol=tol)
        assert row.shape == tuple(p.shape)
        assert row.weight_norm == pytest.approx(np.sqrt((w ** 2).sum()), rel=tol)
        assert row.grad_norm == pytest.approx(np.sqrt((g ** 2).sum()), rel=tol)
        assert row.ratio == pytest.approx(row.grad_norm / row.weight_norm, rel=tol)
        assert row.mean_abs_grad == pytest.approx(np.abs(g).mean(), rel=tol)
        assert row.max_abs_grad == pytest.approx(np.abs(g).max(), rel=tol)
        assert row.zero_fraction == pytest.approx((g == 0).mean())
        assert row.nonfinite == 0


def test_grad_stats_counts_zeros_and_nonfinite_and_skips_parameters_without_grad():
    model = nn.Linear(3, 2)
    model.weight.grad = chainrule.tensor([[0.0, float("nan"), 1.0], [float("inf"), 0.0, 0.0]])
    (row,) = grad_stats(model)  # the bias has no gradient
    assert row.name == "weight"
    assert row.nonfinite == 2
    assert row.zero_fraction == pytest.approx(3 / 6)


def test_grad_stats_prints_an_aligned_table():
    model = mlp([4, 8, 2])
    backward_on_random_batch(model, 4, 2)
    lines = str(grad_stats(model)).splitlines()
    assert lines[0].split()[:3] == ["parameter", "shape", "|w|"]
    assert [line.split()[0] for line in lines[2:]] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len({len(line) for line in lines[:2]}) == 1


# --- check_gradients: the four diagnoses the issue asks for -------------------------------------

def test_deep_sigmoid_mlp_is_flagged_vanishing():
    model = mlp([16] + [32] * 30 + [4], nn.Sigmoid)
    backward_on_random_batch(model, 16, 4)
    findings = check_gradients(model)
    assert kinds(findings) == {"vanishing"}
    (finding,) = findings
    assert finding.name == "0.weight"
    assert finding.value < 1e-10
    for cure in ("ReLU", "initialisation", "batch normalisation", "skip"):
        assert cure in finding.message


def test_a_moderately_deep_sigmoid_mlp_is_flagged_by_the_relative_test_alone():
    model = mlp([16] + [32] * 10 + [4], nn.Sigmoid)
    backward_on_random_batch(model, 16, 4)
    assert min(row.mean_abs_grad for row in grad_stats(model)) > 1e-12
    assert "vanishing" in kinds(check_gradients(model))
    assert "vanishing" not in kinds(check_gradients(model, relative_vanishing=1e-30,
                                                     vanishing_threshold=1e-30))


def test_relu_mlp_with_weights_scaled_by_ten_is_flagged_exploding():
    model = mlp([16] + [64] * 5 + [4])
    with chainrule.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.weight.mul_(10)
    backward_on_random_batch(model, 16, 4)
    findings = check_gradients(model)
    assert "exploding" in kinds(findings)
    finding = next(f for f in findings if f.kind == "exploding")
    assert finding.value > 1e3
    assert "clipping" in finding.message


def test_negative_bias_before_relu_is_flagged_dead_relu():
    model = mlp([16, 64, 64, 4])
    with chainrule.no_grad():
        model[2].bias.fill_(-100.0)
    with ActivationMonitor(model) as monitor:
        for _ in range(3):
            backward_on_random_batch(model, 16, 4)
    findings = check_gradients(model, monitor)
    dead = [f for f in findings if f.kind == "dead_relu"]
    assert [f.name for f in dead] == ["3"]
    assert dead[0].value == 1.0
    row = {r.name: r for r in monitor.report()}["3"]
    assert (row.kind, row.units, row.batches, row.dead_fraction) == ("ReLU", 64, 3, 1.0)
    assert {r.name: r for r in monitor.report()}["1"].dead_fraction < 0.5


def test_healthy_network_gets_no_findings():
    model = mlp([784, 128, 64, 10])
    with ActivationMonitor(model) as monitor:
        backward_on_random_batch(model, 784, 10, samples=128)
    assert check_gradients(model, monitor) == []


@pytest.mark.parametrize("network", ["mlp", "lenet5", "resnet_block"])
def test_healthy_networks_pass_every_check_and_anomaly_detection(network):
    from chainrule.train.recipes import build_lenet5, build_mlp

    if network == "resnet_block":
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 4, 3, padding=1)
                self.norm = nn.BatchNorm2d(4)
                self.relu = nn.ReLU()
                self.head = nn.Linear(4 * 28 * 28, 10)

            def forward(self, x):
                return self.head((x + self.relu(self.norm(self.conv(x)))).flatten(1))
        model = Block()
    else:
        model = build_mlp() if network == "mlp" else build_lenet5()
    x = chainrule.randn(32, 1, 28, 28)
    y = chainrule.randint(0, 10, (32,))
    with ActivationMonitor(model) as monitor, chainrule.autograd.detect_anomaly():
        nn.CrossEntropyLoss()(model(x if network != "mlp" else x.flatten(1)), y).backward()
    assert monitor.report()  # the activations were watched
    assert check_gradients(model, monitor) == []


def test_saturated_sigmoid_is_flagged():
    model = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 2))
    with chainrule.no_grad():
        model[0].weight.mul_(100)
    with ActivationMonitor(model) as monitor:
        backward_on_random_batch(model, 8, 2)
    (finding,) = check_gradients(model, monitor.report())
    assert (finding.kind, finding.name) == ("saturated", "1")
    assert finding.value > 0.5
    assert monitor.report()[0].dead_fraction is None


@pytest.mark.parametrize("activation, values, saturated", [
    (nn.Sigmoid, [0.005, 0.5, 0.995, 0.2], 0.5),
    (nn.Tanh, [-0.995, 0.0, 0.5, 0.999], 0.5),
])
def test_saturation_thresholds(activation, values, saturated):
    layer = activation()
    with ActivationMonitor(layer) as monitor:
        inverse = {nn.Sigmoid: lambda y: np.log(y / (1 - y)), nn.Tanh: np.arctanh}[activation]
        layer(chainrule.tensor(inverse(np.array([values]))))
    assert monitor.report()[0].saturated_fraction == pytest.approx(saturated)


def test_nonfinite_gradients_are_flagged():
    model = nn.Linear(3, 2)
    model(chainrule.randn(4, 3)).sum().backward()
    model.weight.grad[0, 0] = float("nan")
    findings = check_gradients(model)
    assert [(f.kind, f.name, f.value) for f in findings] == [("nonfinite", "weight", 1.0)]
    assert "detect_anomaly" in findings[0].message


def test_a_nan_run_is_called_nonfinite_not_vanishing():
    # NaN weights in the first layer: its own gradient comes out 0 (ReLU passes nothing back
    # through NaN), which once made it "vanishing" against itself as "the last layer".
    model = mlp([8, 16, 16, 4])
    with chainrule.no_grad():
        model[0].weight.fill_(float("nan"))
    backward_on_random_batch(model, 8, 4)
    (finding,) = check_gradients(model)
    assert finding.kind == "nonfinite" and finding.name == "2.weight"
    assert finding.message.startswith("Gradients are not finite (NaN or Inf) in 3 of 6 "
                                       "parameters (2.weight, 4.weight, 4.bias)")
    assert "The weights themselves are not finite (0.weight): the run diverged" in finding.message
    assert "vanishing" not in finding.message.lower() and "last" not in finding.message


def test_vanishing_names_the_last_weight_layer_it_compares_with():
    model = mlp([16] + [32] * 30 + [4], nn.Sigmoid)
    backward_on_random_batch(model, 16, 4)
    (finding,) = check_gradients(model)
    assert "in the last weight layer ('60.weight')" in finding.message


def test_all_zero_gradients_are_not_compared_with_a_zero_last_layer():
    model = mlp([8, 16, 16, 4])
    with chainrule.no_grad():
        for layer in (model[0], model[2]):
            layer.bias.fill_(-100.0)  # every ReLU dead: every weight gradient is exactly 0
    backward_on_random_batch(model, 8, 4)
    (finding,) = check_gradients(model)
    assert finding.kind == "vanishing"
    assert "3 of 3 weight layers" in finding.message
    assert "below 1e-06 in every one of them" in finding.message
    assert "last" not in finding.message


def test_activation_monitor_removes_its_hooks_on_exit():
    model = mlp([4, 8, 2])
    with ActivationMonitor(model) as monitor:
        model(chainrule.randn(2, 4))
    model(chainrule.randn(2, 4))
    assert monitor.report()[0].batches == 1
    assert not model[1]._forward_hooks


# --- anomaly detection (in the autograd core) --------------------------------------------------

def test_detect_anomaly_names_sqrt_backward_and_the_forward_traceback():
    x = chainrule.tensor([-1.0, 4.0], requires_grad=True)
    with chainrule.autograd.detect_anomaly():
        y = x.sqrt().sum()
        with pytest.raises(RuntimeError, match="SqrtBackward0") as error:
            y.backward()
    message = str(error.value)
    assert "nan" in message
    assert "test_diagnostics.py" in message and "x.sqrt()" in message


def test_without_anomaly_detection_nan_gradients_pass_silently():
    x = chainrule.tensor([-1.0], requires_grad=True)
    x.sqrt().sum().backward()
    assert np.isnan(x.grad.numpy()).all()
    assert not chainrule.autograd.is_anomaly_enabled()


def test_set_detect_anomaly_as_context_manager_restores_the_previous_mode():
    x = chainrule.tensor([0.0], requires_grad=True)
    with chainrule.autograd.set_detect_anomaly(True):
        assert chainrule.autograd.is_anomaly_enabled()
        y = x.log().sum()
        with pytest.raises(RuntimeError, match="Function 'LogBackward0' returned inf values"):
            y.backward()
    assert not chainrule.autograd.is_anomaly_enabled()


# --- draw_graph --------------------------------------------------------------------------------

def test_dot_text_of_a_small_mlp_names_every_parameter_and_op():
    model = mlp([4, 8, 3])
    out = model(chainrule.randn(5, 4)).sum()
    params = dict(model.named_parameters())
    dot = draw_graph(out, params)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for name, p in params.items():
        assert f"{name}\\n{tuple(p.shape)}" in dot
    for node in ("AddmmBackward0", "ReluBackward0", "SumBackward0"):
        assert node in dot
    assert "ReluBackward0\\n(5, 8)" in dot
    assert dot.count("->") == 8  # 7 graph edges and the output


def test_draw_graph_handles_deep_graphs_and_shared_nodes():
    x = chainrule.randn(3, requires_grad=True)
    y = x
    for _ in range(3000):  # deeper than Python's recursion limit
        y = y * 1.0
    dot = draw_graph(y + y, {"x": x})
    assert dot.count("MulBackward0") == 3000
    assert dot.count("AddBackward0") == 1 and '"x\\n(3,)"' in dot


def test_draw_graph_writes_dot_when_graphviz_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    model = nn.Linear(2, 1)
    with pytest.warns(UserWarning, match="dot"):
        dot = draw_graph(model(chainrule.randn(1, 2)), path=tmp_path / "graph.svg")
    assert (tmp_path / "graph.dot").read_text() == dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot program")
def test_draw_graph_renders_svg_with_graphviz(tmp_path):
    model = mlp([4, 8, 3])
    draw_graph(model(chainrule.randn(5, 4)).sum(), dict(model.named_parameters()),
               path=tmp_path / "graph.svg")
    svg = (tmp_path / "graph.svg").read_text()
    assert "<svg" in svg and "ReluBackward0" in svg and "0.weight" in svg


# --- write_diagnostics (chainrule train --diagnose) --------------------------------------------

@pytest.mark.filterwarnings("ignore:Could not render the autograd graph")  # no Graphviz here
def test_write_diagnostics_leaves_the_model_as_it_was(tmp_path):
    pytest.importorskip("matplotlib")
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4)).eval()
    x, y = chainrule.randn(64, 16), chainrule.randint(0, 4, (64,))
    written = write_diagnostics(model, nn.CrossEntropyLoss(), x, y, tmp_path / "run", title="t")
    names = {os.path.basename(path) for path in written}
    assert {"graph.dot", "grad_flow.png", "diagnostics.txt"} <= names
    assert ("graph.svg" in names) == (shutil.which("dot") is not None)
    assert not model.training and all(p.grad is None for p in model.parameters())
    report = (tmp_path / "run" / "diagnostics.txt").read_text()
    assert report.startswith("chainrule diagnostics: t") and "during training" not in report
    assert report.count("no problems found") == 1 and "3.weight" in report


@pytest.mark.filterwarnings("ignore:Could not render the autograd graph")  # no Graphviz here
def test_write_diagnostics_reports_earlier_and_new_findings(tmp_path):
    pytest.importorskip("matplotlib")
    model = mlp([16, 64, 64, 4])
    with chainrule.no_grad():
        model[2].bias.fill_(-100.0)
    x, y = chainrule.randn(64, 16), chainrule.randint(0, 4, (64,))
    earlier = [Finding("exploding", "0.weight", 1e4, "earlier message")]
    write_diagnostics(model, nn.CrossEntropyLoss(), x, y, tmp_path, earlier)
    report = (tmp_path / "diagnostics.txt").read_text()
    training, batch = report.split("Findings on one training batch of 64")
    assert "[exploding] earlier message" in training
    assert "[dead_relu] Dead units: 100% of the 64 units of '3'" in batch.split("Gradient")[0]


def test_write_diagnostics_says_what_to_install_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    model = mlp([4, 8, 2])
    x, y = chainrule.randn(8, 4), chainrule.randint(0, 2, (8,))
    with pytest.warns(UserWarning, match="Graphviz's 'dot' program is not installed") as caught:
        written = write_diagnostics(model, nn.CrossEntropyLoss(), x, y, tmp_path)
    (warning,) = [w for w in caught if "Graphviz" in str(w.message)]
    assert "apt-get install graphviz" in str(warning.message)
    assert warning.filename == __file__  # points at the caller, not at chainrule's internals
    assert "graph.svg" not in {os.path.basename(path) for path in written}
    assert (tmp_path / "graph.dot").exists() and not (tmp_path / "graph.svg").exists()
    report = (tmp_path / "diagnostics.txt").read_text()
    assert str(warning.message) in report.splitlines()


def test_write_diagnostics_renders_svg_with_graphviz_and_keeps_quiet(tmp_path, monkeypatch):
    fake_dot = tmp_path / "bin" / "dot"  # stands in for Graphviz: writes the file -o names
    fake_dot.parent.mkdir()
    fake_dot.write_text(f"#!{sys.executable}\nimport sys\n"
                        "open(sys.argv[sys.argv.index('-o') + 1], 'w').write('<svg/>')\n")
    fake_dot.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_dot.parent}{os.pathsep}{os.environ['PATH']}")
    model = mlp([4, 8, 2])
    x, y = chainrule.randn(8, 4), chainrule.randint(0, 2, (8,))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*Graphviz")
        written = write_diagnostics(model, nn.CrossEntropyLoss(), x, y, tmp_path / "run")
    assert (tmp_path / "run" / "graph.svg").read_text() == "<svg/>"
    assert str(tmp_path / "run" / "graph.svg") in written
    assert "Graphviz" not in (tmp_path / "run" / "diagnostics.txt").read_text()


# --- plot_grad_flow ----------------------------------------------------------------------------

def test_plot_grad_flow_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    model = mlp([4, 8, 8, 2])
    backward_on_random_batch(model, 4, 2)
    figure = plot_grad_flow(model, path=tmp_path / "flow" / "grad_flow.png")
    assert (tmp_path / "flow" / "grad_flow.png").read_bytes()[:4] == b"\x89PNG"
    labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert labels == ["0.weight", "2.weight", "4.weight"]


# --- GradientMonitor ---------------------------------------------------------------------------

def fit_with_monitor(model, callbacks, epochs=2, **options):
    from chainrule.train import fit
    from chainrule.utils.data import DataLoader, TensorDataset

    x = chainrule.randn(64, 16)
    data = DataLoader(TensorDataset(x, chainrule.randint(0, 4, (64,))), batch_size=16)
    return fit(model, nn.CrossEntropyLoss(), chainrule.optim.SGD(model.parameters(), lr=0.01),
               data, epochs=epochs, progress=False,
               callbacks=callbacks if isinstance(callbacks, list) else [callbacks], **options)


def test_gradient_monitor_records_norms_and_reports_each_kind_once():
    model = mlp([16] + [32] * 30 + [4], nn.Sigmoid)
    out = io.StringIO()
    monitor = GradientMonitor(file=out)
    history = fit_with_monitor(model, monitor, epochs=3)
    assert [f.kind for f in monitor.findings] == ["vanishing"]
    assert out.getvalue().count("[vanishing]") == 1
    column = history.history["grad_norm/0.weight"]
    assert len(column) == len(history) == 3
    assert monitor.history["grad_norm/0.weight"] == column
    assert all(value < 1e-10 for value in column)
    assert not model[1]._forward_hooks  # the activation monitor is gone after training


class PoisonGradient(Callback):
    """Puts a NaN into one gradient at one training step (counted from 1)."""

    def __init__(self, step: int, parameter: str) -> None:
        self.step, self.parameter, self.seen = step, parameter, 0

    def on_before_optimizer_step(self, logs):
        self.seen += 1
        if self.seen == self.step:
            dict(self.state.model.named_parameters())[self.parameter].grad[0, 0] = float("nan")


def test_gradient_monitor_says_where_and_when_gradients_first_went_nonfinite():
    model = mlp([16, 32, 32, 4])
    out = io.StringIO()
    monitor = GradientMonitor(file=out)
    # 4 batches an epoch; the NaN weights then make the next loss NaN, which stops training.
    history = fit_with_monitor(model, [PoisonGradient(6, "2.weight"), monitor], epochs=3,
                               on_nonfinite="stop")
    assert "epoch 2, batch 3" in history.diverged
    kinds_reported = [finding.kind for finding in monitor.findings]
    assert kinds_reported[0] == "nonfinite" and "vanishing" not in kinds_reported
    message = monitor.findings[0].message
    assert message.startswith("First at epoch 2, batch 2 (step 6): Gradients are not finite "
                              "(NaN or Inf) in 1 of 6 parameters (2.weight), 1 values in all.")
    assert out.getvalue().count("[nonfinite] First at epoch 2, batch 2 (step 6)") == 1


def test_gradient_monitor_is_quiet_on_a_healthy_network():
    out = io.StringIO()
    monitor = GradientMonitor(file=out)
    history = fit_with_monitor(mlp([16, 32, 4]), monitor)
    assert monitor.findings == [] and out.getvalue() == ""
    assert history.history["grad_norm/2.bias"][-1] > 0
