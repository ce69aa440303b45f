"""Adamax: Adam with the second moment replaced by a running infinity norm of the gradient."""

from __future__ import annotations

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    check_adam_hyperparameters,
    decay_weights,
    new_state,
    step_counter,
    zeros_like_param,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """``p -= lr / (1 - beta1**t) * m / u`` with ``u = max(beta2 * u, |g| + eps)`` (Kingma & Ba, 2014).

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.Adamax([w], lr=0.1)
    >>> w.grad = torch.ones(2); opt.step()
    >>> w
    Parameter containing:
    tensor([-0.1000, -0.1000], requires_grad=True)
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update_parameter(self, p, grad, state, group) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            new_state(state)["exp_avg"] = zeros_like_param(p)
            state["exp_inf"] = zeros_like_param(p)
        step = step_counter(state)
        grad = decay_weights(p._data, grad, lr, weight_decay, decoupled=False)
        exp_avg, exp_inf = state["exp_avg"]._data, state["exp_inf"]._data
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_inf *= beta2
        np.maximum(exp_inf, np.abs(grad) + eps, out=exp_inf)
        p._data -= lr / (1 - beta1 ** step) * (exp_avg / exp_inf)
