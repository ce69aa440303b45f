"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    new_state,
    step_counter,
    zeros_like_param,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``p -= lr * g / (sqrt(E[g**2]) + eps)``, optionally centred and with momentum."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach=None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        for name, value in (("learning rate", lr), ("epsilon value", eps),
                            ("momentum value", momentum), ("weight_decay value", weight_decay),
                            ("alpha value", alpha)):
            if value < 0.0:
                raise ValueError(f"Invalid {name}: {value}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_parameter(self, p, grad, state, group) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        data = p._data
        if not state:
            new_state(state)["square_avg"] = zeros_like_param(p)
            if momentum > 0:
                state["momentum_buffer"] = zeros_like_param(p)
            if group["centered"]:
                state["grad_avg"] = zeros_like_param(p)
        step_counter(state)
        if weight_decay:
            grad = grad + weight_decay * data
        square_avg = state["square_avg"]._data
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            grad_avg += (grad - grad_avg) * (1 - alpha)
            avg = np.multiply(grad_avg, grad_avg, out=np.empty_like(grad_avg))
            np.subtract(square_avg, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(square_avg, out=np.empty_like(square_avg))
        avg += eps
        np.divide(grad, avg, out=avg)
        if momentum > 0:
            buffer = state["momentum_buffer"]._data
            buffer *= momentum
            buffer += avg
            data -= lr * buffer
        else:
            avg *= lr
            data -= avg
