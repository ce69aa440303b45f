"""Seeing inside training: gradient statistics, activation health, gradient-flow plots,
autograd graphs, and a ``fit`` callback that names problems and their cures.

>>> import chainrule as torch
>>> from chainrule import diagnostics
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
>>> model(torch.randn(16, 4)).pow(2).mean().backward()
>>> diagnostics.check_gradients(model)
[]

Anomaly detection (which backward op made a NaN) is ``chainrule.autograd.detect_anomaly``.
"""

from chainrule.diagnostics.grad_stats import GradStat, GradStats, grad_stats
from chainrule.diagnostics.activations import ActivationMonitor, ActivationStat
from chainrule.diagnostics.findings import KINDS, Finding, check_gradients
from chainrule.diagnostics.grad_flow import plot_grad_flow
from chainrule.diagnostics.graph import draw_graph, render_graph
from chainrule.diagnostics.monitor import GradientMonitor
from chainrule.diagnostics.report import write_diagnostics

__all__ = ["grad_stats", "GradStats", "GradStat", "ActivationMonitor", "ActivationStat",
           "check_gradients", "Finding", "KINDS", "plot_grad_flow", "draw_graph",
           "render_graph", "GradientMonitor", "write_diagnostics"]
