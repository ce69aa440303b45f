"""``grad_stats``: one row of gradient statistics per parameter, printable as a table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["GradStat", "GradStats", "grad_stats", "named_parameters_of"]


@dataclass(frozen=True)
class GradStat:
    """Statistics of one parameter's weights and gradient (norms are L2 over all elements)."""

    name: str
    shape: tuple[int, ...]
    weight_norm: float
    grad_norm: float
    ratio: float  # grad_norm / weight_norm: the relative size of one plain SGD step at lr=1
    mean_abs_grad: float
    max_abs_grad: float
    zero_fraction: float
    nonfinite: int


_COLUMNS = (("name", "parameter", "{}"), ("shape", "shape", "{}"),
            ("weight_norm", "|w|", "{:.3e}"), ("grad_norm", "|g|", "{:.3e}"),
            ("ratio", "|g|/|w|", "{:.3e}"), ("mean_abs_grad", "mean|g|", "{:.3e}"),
            ("max_abs_grad", "max|g|", "{:.3e}"), ("zero_fraction", "zeros", "{:.1%}"),
            ("nonfinite", "nonfinite", "{}"))


class GradStats(list):
    """A list of ``GradStat`` rows; ``str()`` gives an aligned table."""

    def __str__(self) -> str:
        header = [title for _, title, _ in _COLUMNS]
        rows = [[fmt.format(tuple(getattr(row, key)) if key == "shape" else getattr(row, key))
                 for key, _, fmt in _COLUMNS] for row in self]
        widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
        lines = [header, ["-" * w for w in widths], *rows]
        return "\n".join("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                                   for i, (cell, w) in enumerate(zip(line, widths))).rstrip()
                         for line in lines)

    def __repr__(self) -> str:
        return f"GradStats({len(self)} parameters)\n{self}"


def named_parameters_of(model) -> list[tuple[str, object]]:
    """``(name, parameter)`` pairs from a Module, a dict, or an iterable of pairs or tensors."""
    if hasattr(model, "named_parameters"):
        return list(model.named_parameters())
    if isinstance(model, dict):
        return list(model.items())
    items = list(model) if isinstance(model, Iterable) else [model]
    return [item if isinstance(item, tuple) else (str(i), item) for i, item in enumerate(items)]


def _stat(name: str, param) -> GradStat:
    weights, grad = param._data, param.grad._data
    finite = np.isfinite(grad)
    nonfinite = int(grad.size - np.count_nonzero(finite))
    magnitudes = np.abs(grad)
    weight_norm = float(np.linalg.norm(weights.ravel()))
    grad_norm = float(np.linalg.norm(grad.ravel()))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = grad_norm / weight_norm if weight_norm else (np.inf if grad_norm else 0.0)
    return GradStat(
        name=name,
        shape=tuple(grad.shape),
        weight_norm=weight_norm,
        grad_norm=grad_norm,
        ratio=float(ratio),
        mean_abs_grad=float(magnitudes.mean()) if grad.size else 0.0,
        max_abs_grad=float(magnitudes.max()) if grad.size else 0.0,
        zero_fraction=float(np.count_nonzero(grad == 0) / grad.size) if grad.size else 0.0,
        nonfinite=nonfinite,
    )


def grad_stats(model) -> GradStats:
    """Gradient statistics of every parameter that has a ``.grad`` (call after ``backward()``).

    ``model`` is a Module, a dict of named parameters, or an iterable of ``(name, param)``.

    >>> import chainrule as torch
    >>> model = torch.nn.Linear(3, 2)
    >>> model(torch.randn(4, 3)).sum().backward()
    >>> [row.name for row in grad_stats(model)]
    ['weight', 'bias']
    """
    return GradStats(_stat(name, p) for name, p in named_parameters_of(model)
                     if getattr(p, "grad", None) is not None)
