"""``GradientMonitor``: a ``fit`` callback that records gradient norms and reports problems."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from typing import Any, TextIO

import numpy as np

from chainrule.diagnostics.activations import ActivationMonitor
from chainrule.diagnostics.findings import Finding, check_gradients
from chainrule.diagnostics.grad_stats import grad_stats, named_parameters_of
from chainrule.train.callbacks import Callback

__all__ = ["GradientMonitor"]


class GradientMonitor(Callback):
    """Watch gradients (and activations) during ``fit``; report each kind of problem once.

    Every batch it adds up each parameter's gradient norm (before any gradient clipping that
    ``fit`` adds); at each epoch end it writes their mean into the History as
    ``grad_norm/<parameter>`` (also kept in ``self.history``). The first batch of each epoch,
    and any batch whose gradients are not finite, goes through ``check_gradients``; with
    ``activations`` an ``ActivationMonitor`` watches the layers and is checked at epoch ends.
    Each kind of ``Finding`` is printed once to ``file`` and kept in ``self.findings``; the
    ``nonfinite`` one names the epoch, batch and step where NaN or Inf gradients first appeared.
    ``thresholds`` are passed on to ``check_gradients``.

    >>> from chainrule.train import fit
    >>> monitor = GradientMonitor(verbose=False)  # fit(..., callbacks=[monitor])
    """

    def __init__(self, activations: bool = True, verbose: bool = True, file: TextIO | None = None,
                 **thresholds: float) -> None:
        self.watch_activations = activations
        self.verbose = verbose
        self.file = file
        self.thresholds = thresholds
        self.history: dict[str, list[float]] = {}
        self.findings: list[Finding] = []
        self.activation_monitor: ActivationMonitor | None = None
        self._sums: dict[str, float] = {}
        self._batches = 0
        self._epoch = 0
        self._steps = 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.watch_activations:
            self.activation_monitor = ActivationMonitor(self.state.model)
            self.activation_monitor.attach()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self._epoch, self._sums, self._batches = epoch, {}, 0
        if self.activation_monitor is not None:
            self.activation_monitor.reset()

    def on_before_optimizer_step(self, logs: dict[str, Any]) -> None:
        all_finite = True
        for name, param in named_parameters_of(self.state.model):
            if param.grad is None:
                continue
            grad = param.grad._data.ravel()
            norm = math.sqrt(float(np.dot(grad, grad)))
            all_finite = all_finite and math.isfinite(norm)
            self._sums[name] = self._sums.get(name, 0.0) + norm
        if self._batches == 0 or not all_finite:
            findings = check_gradients(grad_stats(self.state.model), **self.thresholds)
            self._report([self._when(finding) for finding in findings])
        self._batches += 1
        self._steps += 1

    def _when(self, finding: Finding) -> Finding:
        """A nonfinite finding says at which step the NaN or Inf first appeared."""
        if finding.kind != "nonfinite":
            return finding
        return replace(finding, message=f"First at epoch {self._epoch + 1}, batch "
                                        f"{self._batches + 1} (step {self._steps + 1}): "
                                        f"{finding.message}")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        history = self.state.history
        for name, total in self._sums.items():
            key = f"grad_norm/{name}"
            mean = total / max(self._batches, 1)
            self.history.setdefault(key, []).append(mean)
            # fit appended this epoch's logs already: fill this epoch's slot of the column.
            column = history.history.setdefault(key, [math.nan] * len(history))
            column[-1] = mean
        if self.activation_monitor is not None:
            self._report(check_gradients([], self.activation_monitor, **self.thresholds))

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.activation_monitor is not None:
            self.activation_monitor.remove()

    def _report(self, findings: list[Finding]) -> None:
        reported = {finding.kind for finding in self.findings}
        for finding in findings:
            if finding.kind in reported:
                continue
            reported.add(finding.kind)
            self.findings.append(finding)
            if self.verbose:
                print(f"GradientMonitor (epoch {self._epoch + 1}): {finding}",
                      file=self.file or sys.stderr)
