"""``check_gradients``: turn gradient and activation statistics into named problems with cures."""

from __future__ import annotations

import math
from dataclasses import dataclass

from chainrule.diagnostics.activations import ActivationMonitor, ActivationStat
from chainrule.diagnostics.grad_stats import GradStat, GradStats, grad_stats

__all__ = ["Finding", "check_gradients", "KINDS"]

KINDS = ("vanishing", "exploding", "nonfinite", "dead_relu", "saturated")

CURES = {
    "vanishing": "Cures: ReLU instead of sigmoid/tanh, Kaiming (He) or Xavier weight "
                 "initialisation, batch normalisation, or skip (residual) connections.",
    "exploding": "Cures: gradient clipping (torch.nn.utils.clip_grad_norm_ or "
                 "fit(clip_grad_norm=...)), smaller weight initialisation (Kaiming/Xavier), "
                 "batch normalisation, or a lower learning rate.",
    "nonfinite": "Cures: gradient clipping, a lower learning rate, and batch normalisation; "
                 "run the backward pass under torch.autograd.detect_anomaly() to find the op "
                 "that produced them.",
    "dead_relu": "Cures: proper weight initialisation (Kaiming, biases near 0), a lower "
                 "learning rate, batch normalisation before the ReLU, or LeakyReLU.",
    "saturated": "Cures: ReLU instead of sigmoid/tanh, Xavier initialisation (smaller "
                 "pre-activations), or batch normalisation before the activation.",
}


@dataclass(frozen=True)
class Finding:
    """One problem: its ``kind`` (see ``KINDS``), the parameter or layer ``name``, the measured
    ``value`` and a ``message`` saying what it means and what cures it."""

    kind: str
    name: str
    value: float
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


def _names(rows: list[GradStat]) -> str:
    names = [row.name for row in rows]
    return ", ".join(names) if len(names) <= 4 else f"{names[0]}, {names[1]}, ... {names[-1]}"


def _vanishing(weights: list[GradStat], threshold: float, relative: float) -> list[Finding]:
    if not weights:
        return []
    last = weights[-1]
    tiny = [row for row in weights
            if row.mean_abs_grad < threshold
            or (row is not last and row.mean_abs_grad < relative * last.mean_abs_grad)]
    if not tiny:
        return []
    worst = min(tiny, key=lambda row: row.mean_abs_grad)
    if last in tiny:  # nothing healthy to compare with: only the absolute threshold speaks
        measure = f"below {threshold:.0e} in every one of them"
    else:
        measure = f"against {last.mean_abs_grad:.1e} in the last weight layer ('{last.name}')"
    return [Finding("vanishing", tiny[0].name, worst.mean_abs_grad, (
        f"Vanishing gradients in {len(tiny)} of {len(weights)} weight layers ({_names(tiny)}): "
        f"mean |grad| as low as {worst.mean_abs_grad:.1e} ('{worst.name}') {measure}, so these "
        f"layers barely learn. {CURES['vanishing']}"))]


def _exploding(rows: list[GradStat], threshold: float, ratio: float) -> list[Finding]:
    huge = [row for row in rows if math.isfinite(row.grad_norm) and (
        row.grad_norm > threshold or (len(row.shape) >= 2 and row.ratio > ratio))]
    if not huge:
        return []
    worst = max(huge, key=lambda row: row.grad_norm)
    return [Finding("exploding", worst.name, worst.grad_norm, (
        f"Exploding gradients in {len(huge)} parameters ({_names(huge)}): gradient norm up to "
        f"{worst.grad_norm:.1e} ('{worst.name}', {worst.ratio:.1e} times its weight norm), so "
        f"one optimizer step can throw the weights far away. {CURES['exploding']}"))]


def _nonfinite(rows: list[GradStat]) -> list[Finding]:
    bad = [row for row in rows if row.nonfinite]
    if not bad:
        return []
    count = sum(row.nonfinite for row in bad)
    broken = [row for row in rows if not math.isfinite(row.weight_norm)]
    weights = (f" The weights themselves are not finite ({_names(broken)}): the run diverged "
               f"at an earlier step." if broken else " The next step will corrupt the weights.")
    return [Finding("nonfinite", bad[0].name, float(count), (
        f"Gradients are not finite (NaN or Inf) in {len(bad)} of {len(rows)} parameters "
        f"({_names(bad)}), {count} values in all.{weights} {CURES['nonfinite']}"))]


def _activation_findings(rows: list[ActivationStat], dead_fraction: float,
                         saturated_fraction: float) -> list[Finding]:
    findings = []
    for row in rows:
        if row.dead_fraction is not None and row.dead_fraction >= dead_fraction:
            findings.append(Finding("dead_relu", row.name, row.dead_fraction, (
                f"Dead units: {row.dead_fraction:.0%} of the {row.units} units of '{row.name}' "
                f"({row.kind}) never fired over {row.batches} batches, so they pass no "
                f"gradient back and never recover. {CURES['dead_relu']}")))
        if row.saturated_fraction is not None and row.saturated_fraction >= saturated_fraction:
            findings.append(Finding("saturated", row.name, row.saturated_fraction, (
                f"Saturated units: {row.saturated_fraction:.0%} of the outputs of '{row.name}' "
                f"({row.kind}) sit at the flat ends of the curve, where the gradient is almost "
                f"0. {CURES['saturated']}")))
    return findings


def check_gradients(model, activations: ActivationMonitor | list[ActivationStat] | None = None,
                    *, vanishing_threshold: float = 1e-6, relative_vanishing: float = 1e-4,
                    exploding_threshold: float = 1e3, exploding_ratio: float = 10.0,
                    dead_fraction: float = 0.5, saturated_fraction: float = 0.5) -> list[Finding]:
    """Diagnose the gradients of ``model`` (call after ``backward()``) and, if given, the
    activation statistics of an ``ActivationMonitor``.

    ``model`` is a Module (or anything ``grad_stats`` takes) or a ``GradStats`` already computed.
    "Weight layers" are the parameters with two or more dimensions, in registration order
    (input side first). The checks and their thresholds:

    * ``vanishing``: a weight's mean |grad| below ``vanishing_threshold`` (1e-6), or below
      ``relative_vanishing`` (1e-4: four orders of magnitude) times the last weight layer's -
      the signature of a deep sigmoid/tanh network, where early layers stop learning.
    * ``exploding``: a gradient norm above ``exploding_threshold`` (1e3), or a weight whose
      gradient norm exceeds ``exploding_ratio`` (10) times its own norm.
    * ``nonfinite``: any NaN or Inf in a gradient; then the size checks above are skipped,
      since the finite gradients beside them are no measure of health.
    * ``dead_relu``: a rectifier layer with at least ``dead_fraction`` (50%) of its units never
      positive over the batches the monitor saw.
    * ``saturated``: a sigmoid/tanh layer with at least ``saturated_fraction`` (50%) of its
      outputs saturated (thresholds set on the ``ActivationMonitor``).

    Gradient problems give one ``Finding`` per kind (naming every affected parameter);
    activation problems one per layer. A healthy network gives ``[]``.

    >>> import chainrule as torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    >>> model(torch.randn(32, 8)).pow(2).mean().backward()
    >>> check_gradients(model)
    []
    """
    rows = model if isinstance(model, GradStats) else grad_stats(model)
    # Beside NaN or Inf, gradient sizes mean nothing (a ReLU turns NaN into a 0 gradient):
    # a non-finite batch gets only the nonfinite finding.
    findings = _nonfinite(rows)
    if not findings:
        weights = [row for row in rows if len(row.shape) >= 2]
        findings += _vanishing(weights, vanishing_threshold, relative_vanishing)
        findings += _exploding(rows, exploding_threshold, exploding_ratio)
    if activations is not None:
        if isinstance(activations, ActivationMonitor):
            activations = activations.report()
        findings += _activation_findings(activations, dead_fraction, saturated_fraction)
    return findings
