"""``write_diagnostics``: one training batch's gradient flow, autograd graph and findings, as files
(what ``chainrule train --diagnose`` leaves in the run folder)."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Sequence

from chainrule.diagnostics.activations import ActivationMonitor
from chainrule.diagnostics.findings import Finding, check_gradients
from chainrule.diagnostics.grad_flow import plot_grad_flow
from chainrule.diagnostics.grad_stats import grad_stats
from chainrule.diagnostics.graph import draw_graph, graphviz_missing, render_graph
from chainrule.serialization import atomic_writer

__all__ = ["write_diagnostics", "REPORT", "GRAD_FLOW", "GRAPH_DOT", "GRAPH_SVG"]

REPORT, GRAD_FLOW, GRAPH_DOT, GRAPH_SVG = "diagnostics.txt", "grad_flow.png", "graph.dot", "graph.svg"
NO_PROBLEMS = "no problems found"


def _section(title: str, findings: Sequence[Finding]) -> list[str]:
    return [title, *(f"  {finding}" for finding in findings or [NO_PROBLEMS]), ""]


def write_diagnostics(model, criterion, inputs, targets, folder: str | os.PathLike,
                      earlier: Sequence[Finding] | None = None, title: str = "") -> list[str]:
    """One forward and backward pass of ``criterion(model(inputs), targets)`` in training mode,
    then into ``folder``:

    * ``grad_flow.png``: ``plot_grad_flow`` of that backward (skipped, with a warning, without
      matplotlib);
    * ``graph.dot``: ``draw_graph`` of the loss with the parameter names, and ``graph.svg`` when
      Graphviz's ``dot`` program is installed (else a warning and a line in the report say
      what to install);
    * ``diagnostics.txt``: the ``earlier`` findings if given (a ``GradientMonitor``'s), this batch's
      ``check_gradients`` findings with activation statistics - each with its message, or
      "no problems found" - and the ``grad_stats`` table.

    The gradients are cleared again and the model's train/eval mode restored. Returns the paths
    written.
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    was_training = model.training
    model.train()
    model.zero_grad()
    with ActivationMonitor(model) as monitor:
        loss = criterion(model(inputs), targets)
    dot = draw_graph(loss, dict(model.named_parameters()))
    loss.backward()
    stats = grad_stats(model)
    findings = check_gradients(stats, monitor)

    written = [os.path.join(folder, GRAPH_DOT)]
    render_graph(dot, written[-1], format="dot")
    if shutil.which("dot") is not None:
        written.append(os.path.join(folder, GRAPH_SVG))
        render_graph(dot, written[-1], format="svg")
        graph_note = []
    else:
        graph_note = [graphviz_missing(written[-1], os.path.join(folder, GRAPH_SVG)), ""]
        warnings.warn(graph_note[0], stacklevel=2)
    try:
        figure = plot_grad_flow(model, path=os.path.join(folder, GRAD_FLOW),
                                title=f"Gradient flow{f': {title}' if title else ''}")
    except ImportError:
        warnings.warn(f"matplotlib is not installed, so no {GRAD_FLOW} was drawn", stacklevel=2)
    else:
        import matplotlib.pyplot as plt

        plt.close(figure)
        written.append(os.path.join(folder, GRAD_FLOW))

    lines = [f"chainrule diagnostics{f': {title}' if title else ''}", ""]
    if earlier is not None:
        lines += _section("Findings during training (GradientMonitor, each kind once):", earlier)
    lines += _section(f"Findings on one training batch of {len(inputs)} "
                      f"(loss {loss.item():.4g}):", findings)
    lines += ["Gradient statistics on that batch:", str(stats), ""] + graph_note
    written.append(os.path.join(folder, REPORT))
    with atomic_writer(written[-1]) as handle:
        handle.write("\n".join(lines).encode())
    model.zero_grad()
    model.train(was_training)
    return written
