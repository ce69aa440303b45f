"""RAdam: Adam with the variance of its adaptive learning rate rectified in the first steps."""

from __future__ import annotations

import math

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    check_adam_hyperparameters,
    decay_weights,
    new_state,
    step_counter,
    zeros_like_param,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Adam that takes plain momentum steps until the variance estimate is trustworthy (Liu et al., 2019).

    ``rho_t``, the length of the approximated simple moving average, decides: above 5 the
    step is Adam's times the rectification term ``r_t``; below, it is ``lr * m_hat``. With
    ``decoupled_weight_decay=True`` (RAdamW) ``weight_decay`` shrinks ``p`` directly.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.RAdam([w], lr=0.1)
    >>> w.grad = torch.ones(2); opt.step()
    >>> w
    Parameter containing:
    tensor([-0.1000, -0.1000], requires_grad=True)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False,
                 *, foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_parameter(self, p, grad, state, group) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            new_state(state)["exp_avg"] = zeros_like_param(p)
            state["exp_avg_sq"] = zeros_like_param(p)
        step = step_counter(state)
        grad = decay_weights(p._data, grad, lr, weight_decay, group["decoupled_weight_decay"])
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        exp_avg_hat = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        if rho_t > 5.0:
            rectification = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                      / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive_lr = math.sqrt(bias_correction2) / (np.sqrt(exp_avg_sq) + eps)
            p._data -= exp_avg_hat * lr * adaptive_lr * rectification
        else:
            p._data -= exp_avg_hat * lr
