"""Adamax: Adam with the second moment replaced by a running infinity norm of the gradient."""

from __future__ import annotations

import numpy as np

from chainrule.optim._moments import add_ratio, bias_correction, update_average
from chainrule.optim.optimizer import (
    Array,
    ArrayState,
    Optimizer,
    check_adam_hyperparameters,
    decay_weights,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """``p -= lr / (1 - beta1**t) * m / u`` with ``u = max(beta2 * u, |g| + eps)`` (Kingma & Ba, 2014).

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.Adamax([w], lr=0.1)
    >>> w.grad = torch.tensor([1.0, -3.0]); opt.step()
    >>> opt.state[w]["exp_inf"]  # u, the largest |g| seen (decaying by beta2)
    tensor([1., 3.])
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def init_state(self, param: Array, group: dict) -> ArrayState:
        return {"exp_avg": np.zeros_like(param), "exp_inf": np.zeros_like(param)}

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        lr, eps, step = group["lr"], group["eps"], float(state["step"])
        beta1, beta2 = group["betas"]
        grad = decay_weights(param, grad, lr, group["weight_decay"])
        m, u, scratch = state["exp_avg"], state["exp_inf"], np.empty_like(param)
        update_average(m, grad, beta1, scratch)
        u *= beta2  # u = max(beta2 * u, |g| + eps)
        abs_grad = np.abs(grad, out=scratch)
        abs_grad += eps
        np.maximum(u, abs_grad, out=u)
        add_ratio(param, -lr / bias_correction(beta1, step), m, u, scratch)
