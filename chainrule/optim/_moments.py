"""The running averages of the gradient that Adam and its relatives keep, and their corrections.

Each helper is one line of the papers, computed in place: its first argument is updated, and
``scratch`` (an array shaped like the parameter, free for the helper to overwrite) holds the
line's temporaries, so a step allocates one array however many lines it has.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.optim.optimizer import decay_weights

__all__ = ["update_average", "update_square_average", "update_adam_moments", "bias_correction",
           "adam_denominator", "add_ratio"]


def update_average(average: np.ndarray, value: np.ndarray, beta: float,
                   scratch: np.ndarray) -> None:
    """``average = beta * average + (1 - beta) * value`` (a first moment: Adam's ``m``).

    >>> m = np.zeros(2, np.float32)
    >>> update_average(m, np.ones(2, np.float32), 0.9, np.empty(2, np.float32)); m
    array([0.1, 0.1], dtype=float32)
    """
    np.subtract(value, average, out=scratch)  # PyTorch's lerp_: m + (1 - beta) * (g - m)
    scratch *= 1 - beta
    average += scratch


def update_square_average(average: np.ndarray, value: np.ndarray, beta: float,
                          scratch: np.ndarray) -> None:
    """``average = beta * average + (1 - beta) * value**2`` (a second moment: Adam's ``v``).

    >>> v = np.ones(2, np.float32)
    >>> update_square_average(v, np.full(2, 2, np.float32), 0.5, np.empty(2, np.float32)); v
    array([2.5, 2.5], dtype=float32)
    """
    np.multiply(value, value, out=scratch)
    scratch *= 1 - beta
    average *= beta
    average += scratch


def update_adam_moments(param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
                        group: dict, scratch: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lines Adam, NAdam and RAdam begin with: weight decay (L2, or decoupled), then
    ``m = beta1 * m + (1 - beta1) * g`` (``exp_avg``) and ``v = beta2 * v + (1 - beta2) * g**2``
    (``exp_avg_sq``). Returns ``(g, m, v)``, ``g`` with its weight decay."""
    grad = decay_weights(param, grad, group["lr"], group["weight_decay"],
                         group["decoupled_weight_decay"])
    beta1, beta2 = group["betas"]
    m, v = state["exp_avg"], state["exp_avg_sq"]
    update_average(m, grad, beta1, scratch)
    update_square_average(v, grad, beta2, scratch)
    return grad, m, v


def bias_correction(beta: float, step: float) -> float:
    """``1 - beta**t``: how much a running average started at zero underestimates after ``t`` steps."""
    return 1 - beta ** step


def adam_denominator(square_average: np.ndarray, step: float, beta2: float, eps: float,
                     scratch: np.ndarray) -> np.ndarray:
    """``sqrt(v_hat) + eps`` with ``v_hat = v / (1 - beta2**t)``, written into ``scratch``."""
    denominator = np.sqrt(square_average, out=scratch)
    denominator /= math.sqrt(bias_correction(beta2, step))
    denominator += eps
    return denominator


def add_ratio(target: np.ndarray, value: float, numerator: np.ndarray, denominator: np.ndarray,
              scratch: np.ndarray) -> None:
    """``target += value * numerator / denominator`` (PyTorch's ``addcdiv_``); ``scratch`` may
    be ``denominator`` itself.

    >>> p, scratch = np.ones(2, np.float32), np.empty(2, np.float32)
    >>> add_ratio(p, -0.5, np.full(2, 3, np.float32), np.full(2, 2, np.float32), scratch); p
    array([0.25, 0.25], dtype=float32)
    """
    ratio = np.divide(numerator, denominator, out=scratch)
    ratio *= value
    target += ratio
