"""Metrics that score a model's outputs against targets, returning plain Python numbers.

Each accepts chainrule tensors (or NumPy arrays) and works on NumPy copies-free views,
so calling one never builds an autograd graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["accuracy", "top_k_accuracy", "confusion_matrix", "mean_absolute_error", "as_numpy"]


def as_numpy(x: Any) -> np.ndarray:
    """A NumPy view of a tensor's values (detached), or ``np.asarray`` of anything else."""
    if hasattr(x, "detach"):
        return x.detach().numpy()
    return np.asarray(x)


def _predicted_classes(output: np.ndarray) -> np.ndarray:
    # Scores of shape (N, C) become class indices; anything 1-D is taken as indices already.
    return output.argmax(axis=1) if output.ndim == 2 else output


def accuracy(output: Any, target: Any) -> float:
    """Fraction of rows whose highest score is the target class.

    >>> import chainrule as torch
    >>> accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
    0.5
    """
    predicted = _predicted_classes(as_numpy(output))
    target = as_numpy(target)
    if predicted.shape != target.shape:
        raise ValueError(f"accuracy: predictions of shape {tuple(predicted.shape)} do not match "
                         f"targets of shape {tuple(target.shape)}")
    return float((predicted == target).mean()) if target.size else 0.0


def top_k_accuracy(output: Any, target: Any, k: int = 5) -> float:
    """Fraction of rows whose target class is among the ``k`` highest scores."""
    scores = as_numpy(output)
    target = as_numpy(target)
    if scores.ndim != 2:
        raise ValueError(f"top_k_accuracy expects scores of shape (N, C), got {tuple(scores.shape)}")
    k = min(k, scores.shape[1])
    top_k = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float((top_k == target[:, None]).any(axis=1).mean()) if target.size else 0.0


def confusion_matrix(output: Any, target: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts ``matrix[true, predicted]`` as an int64 array of shape (C, C).

    ``output`` may be scores of shape (N, C) or predicted class indices of shape (N,).
    """
    scores = as_numpy(output)
    predicted = _predicted_classes(scores).astype(np.int64)
    target = as_numpy(target).astype(np.int64)
    if num_classes is None:
        num_classes = scores.shape[1] if scores.ndim == 2 else int(max(predicted.max(initial=-1),
                                                                        target.max(initial=-1))) + 1
    flat = np.bincount(target * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def mean_absolute_error(output: Any, target: Any) -> float:
    """Mean of ``|output - target|`` over all elements (shapes must broadcast)."""
    return float(np.abs(as_numpy(output) - as_numpy(target)).mean())


METRICS = {
    "accuracy": accuracy,
    "top_k_accuracy": top_k_accuracy,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
}

# Metrics that only make sense when targets are class indices.
CLASSIFICATION_METRICS = {accuracy, top_k_accuracy}
