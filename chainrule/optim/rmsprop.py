"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

import numpy as np

from chainrule.optim._moments import add_ratio, update_average, update_square_average
from chainrule.optim.optimizer import (
    Array,
    ArrayState,
    Optimizer,
    check_hyperparameter,
    decay_weights,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``p -= lr * g / (sqrt(E[g**2]) + eps)``, optionally centred and with momentum."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach=None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_hyperparameter("learning rate", lr, 0.0 <= lr)
        check_hyperparameter("epsilon value", eps, 0.0 <= eps)
        check_hyperparameter("momentum value", momentum, 0.0 <= momentum)
        check_hyperparameter("weight_decay value", weight_decay, 0.0 <= weight_decay)
        check_hyperparameter("alpha value", alpha, 0.0 <= alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def init_state(self, param: Array, group: dict) -> ArrayState:
        state = {"square_avg": np.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(param)
        return state

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        lr, alpha, momentum = group["lr"], group["alpha"], group["momentum"]
        grad = decay_weights(param, grad, lr, group["weight_decay"])
        square_avg, scratch = state["square_avg"], np.empty_like(param)
        update_square_average(square_avg, grad, alpha, scratch)
        if group["centered"]:  # divide by the standard deviation, not the root mean square
            grad_avg = state["grad_avg"]
            update_average(grad_avg, grad, alpha, scratch)
            rms = np.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            rms = np.sqrt(square_avg) + group["eps"]
        if momentum > 0:  # b = momentum * b + g / rms; p -= lr * b
            buffer = state["momentum_buffer"]
            buffer *= momentum
            add_ratio(buffer, 1.0, grad, rms, scratch)
            param -= lr * buffer
        else:
            add_ratio(param, -lr, grad, rms, scratch)
