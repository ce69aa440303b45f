"""RAdam: Adam with the variance of its adaptive learning rate rectified in the first steps."""

from __future__ import annotations

import math

import numpy as np

from chainrule.optim._moments import bias_correction, update_adam_moments
from chainrule.optim.optimizer import Array, ArrayState, Optimizer, check_adam_hyperparameters

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Adam that takes plain momentum steps until the variance estimate is trustworthy (Liu et al., 2019).

    ``rho_t``, the length of the approximated simple moving average, decides: above 5 the
    step is Adam's times the rectification term ``r_t``; below, it is ``lr * m_hat``. With
    ``decoupled_weight_decay=True`` (RAdamW) ``weight_decay`` shrinks ``p`` directly.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.RAdam([w], lr=0.1)
    >>> w.grad = torch.tensor([1.0, -2.0]); opt.step()
    >>> w  # the first step is lr * m_hat = lr * g, not Adam's lr * sign(g)
    Parameter containing:
    tensor([-0.1000,  0.2000], requires_grad=True)
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

    def init_state(self, param: Array, group: dict) -> ArrayState:
        return {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        lr, eps, step = group["lr"], group["eps"], float(state["step"])
        beta1, beta2 = group["betas"]
        scratch = np.empty_like(param)
        _, m, v = update_adam_moments(param, grad, state, group, scratch)
        m_hat = m / bias_correction(beta1, step)
        rectification = variance_rectification(beta2, step)
        if rectification is None:  # too few steps to trust v: a plain momentum step
            param -= m_hat * lr
        else:
            adaptive_lr = math.sqrt(bias_correction(beta2, step)) / (np.sqrt(v) + eps)
            param -= m_hat * lr * adaptive_lr * rectification


def variance_rectification(beta2: float, step: float) -> float | None:
    """RAdam's ``r_t``, or None while ``rho_t``, the length of the approximated simple moving
    average, is at most 5 (the variance of the adaptive learning rate is then intractable)."""
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction(beta2, step)
    if rho_t <= 5.0:
        return None
    return math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
