"""NAdam: Adam with Nesterov momentum, its momentum coefficient warmed up over the steps."""

from __future__ import annotations

import numpy as np

from chainrule.optim._moments import add_ratio, bias_correction, update_adam_moments
from chainrule.optim.optimizer import (
    Array,
    ArrayState,
    Optimizer,
    check_adam_hyperparameters,
    check_hyperparameter,
)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """Adam whose step looks one momentum step ahead (Dozat, 2016).

    The momentum schedule is ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``;
    ``state['mu_product']`` keeps the running product of the ``mu_t``. With
    ``decoupled_weight_decay=True`` (NAdamW) ``weight_decay`` shrinks ``p`` directly.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.NAdam([w], lr=0.1)
    >>> w.grad = torch.tensor([1.0, -2.0]); opt.step(); opt.step()
    >>> opt.state[w]["mu_product"], w.detach()
    (tensor(0.2026), tensor([-0.1840,  0.1840]))
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        check_hyperparameter("momentum_decay value", momentum_decay, 0.0 <= momentum_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    _capturable_tensors = "params, mu_products and state_steps"

    def init_state(self, param: Array, group: dict) -> ArrayState:
        return {"mu_product": np.ones((), np.float32), "exp_avg": np.zeros_like(param),
                "exp_avg_sq": np.zeros_like(param)}

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        lr, eps, step = group["lr"], group["eps"], float(state["step"])
        beta1, beta2 = group["betas"]
        scratch = np.empty_like(param)
        grad, m, v = update_adam_moments(param, grad, state, group, scratch)
        mu = momentum_coefficient(beta1, step, group["momentum_decay"])
        mu_next = momentum_coefficient(beta1, step + 1, group["momentum_decay"])
        mu_product = state["mu_product"]
        mu_product *= mu
        mu_product_next = float(mu_product) * mu_next
        denominator = np.sqrt(v / bias_correction(beta2, step)) + eps
        # The Nesterov look-ahead: this gradient's share now plus the momentum of the next step.
        add_ratio(param, -lr * (1.0 - mu) / (1.0 - float(mu_product)), grad, denominator, scratch)
        add_ratio(param, -lr * mu_next / (1.0 - mu_product_next), m, denominator, scratch)


def momentum_coefficient(beta1: float, step: float, momentum_decay: float) -> float:
    """NAdam's warmed-up momentum ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
