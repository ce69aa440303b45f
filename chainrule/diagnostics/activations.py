"""``ActivationMonitor``: dead rectifier units and saturated sigmoid/tanh units, per layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule import nn

__all__ = ["ActivationMonitor", "ActivationStat"]

# A rectifier unit whose output is never positive passes (almost) no gradient back: "dead".
RECTIFIERS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU,
              nn.SiLU, nn.Mish, nn.Hardswish)
# Outputs in (0, 1): saturated when within the threshold of either end.
UNIT_INTERVAL = (nn.Sigmoid, nn.Hardsigmoid)
# Outputs in (-1, 1): saturated when |y| is within the threshold of 1.
SYMMETRIC = (nn.Tanh, nn.Hardtanh, nn.Softsign)


@dataclass(frozen=True)
class ActivationStat:
    """One activation layer over the batches seen; fractions are None where they do not apply."""

    name: str
    kind: str
    batches: int
    units: int
    dead_fraction: float | None
    saturated_fraction: float | None

    def __str__(self) -> str:
        dead = "-" if self.dead_fraction is None else f"{self.dead_fraction:.1%}"
        saturated = "-" if self.saturated_fraction is None else f"{self.saturated_fraction:.1%}"
        return (f"{self.name} ({self.kind}): {self.units} units over {self.batches} batches, "
                f"dead {dead}, saturated {saturated}")


class _LayerRecord:
    def __init__(self, module) -> None:
        self.kind = type(module).__name__
        self.rectifier = isinstance(module, RECTIFIERS)
        self.saturating = isinstance(module, UNIT_INTERVAL + SYMMETRIC)
        self.batches = 0
        self.units = 0
        self.fired: np.ndarray | None = None  # per unit: positive for at least one sample
        self.saturated = 0
        self.outputs = 0


class ActivationMonitor:
    """Watch the outputs of every activation layer of ``model`` while in the ``with`` block.

    Per layer it records the fraction of units that never fired (output <= 0 for every
    sample seen: dead ReLUs) and the fraction of outputs saturated (sigmoid below
    ``saturation_threshold`` or above ``1 - saturation_threshold``; tanh with
    ``|y| > 1 - saturation_threshold``). A unit is one element of a sample's output.

    >>> import chainrule as torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
    >>> with ActivationMonitor(model) as monitor:
    ...     _ = model(torch.randn(16, 4))
    >>> monitor.report()[0].name
    '1'
    """

    def __init__(self, model, saturation_threshold: float = 0.01) -> None:
        self.model = model
        self.saturation_threshold = saturation_threshold
        self.records: dict[str, _LayerRecord] = {}
        self._modules: dict[str, object] = {}
        self._handles: list = []

    def __enter__(self) -> ActivationMonitor:
        self.attach()
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def attach(self) -> None:
        """Register the forward hooks (``with`` does this for you)."""
        for name, module in self.model.named_modules():
            if isinstance(module, RECTIFIERS + UNIT_INTERVAL + SYMMETRIC):
                self._modules[name] = module
                self.records.setdefault(name, _LayerRecord(module))
                self._handles.append(module.register_forward_hook(self._hook_for(name)))

    def remove(self) -> None:
        """Remove the hooks; the records stay readable."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def reset(self) -> None:
        """Forget what was recorded so far (the hooks stay)."""
        self.records = {name: _LayerRecord(module) for name, module in self._modules.items()}

    def _hook_for(self, name: str):
        def hook(module, args, output) -> None:
            data = getattr(output, "_data", None)
            if data is None or data.ndim == 0:
                return
            self._record(self.records[name], module, data)
        return hook

    def _record(self, record: _LayerRecord, module, data: np.ndarray) -> None:
        record.batches += 1
        record.units = data[0].size
        if record.rectifier:
            fired = (data > 0).any(axis=0)
            if record.fired is None or record.fired.shape != fired.shape:
                record.fired = fired
            else:
                record.fired |= fired
        if record.saturating:
            t = self.saturation_threshold
            if isinstance(module, UNIT_INTERVAL):
                saturated = np.count_nonzero((data < t) | (data > 1 - t))
            else:
                saturated = np.count_nonzero(np.abs(data) > 1 - t)
            record.saturated += int(saturated)
            record.outputs += data.size

    def report(self) -> list[ActivationStat]:
        """One row per activation layer that saw at least one batch."""
        rows = []
        for name, record in self.records.items():
            if not record.batches:
                continue
            dead = saturated = None
            if record.rectifier and record.fired is not None and record.fired.size:
                dead = 1.0 - float(np.count_nonzero(record.fired)) / record.fired.size
            if record.saturating and record.outputs:
                saturated = record.saturated / record.outputs
            rows.append(ActivationStat(name, record.kind, record.batches, record.units, dead,
                                       saturated))
        return rows
