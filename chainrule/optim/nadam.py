"""NAdam: Adam with Nesterov momentum, its momentum coefficient warmed up over the steps."""

from __future__ import annotations

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    check_adam_hyperparameters,
    check_non_negative,
    decay_weights,
    new_state,
    scalar_state,
    step_counter,
    zeros_like_param,
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
    >>> w.grad = torch.ones(2); opt.step()
    >>> w
    Parameter containing:
    tensor([-0.1056, -0.1056], requires_grad=True)
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        check_non_negative(("momentum_decay value", momentum_decay))
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    _capturable_tensors = "params, mu_products and state_steps"

    def _update_parameter(self, p, grad, state, group) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            new_state(state)["mu_product"] = scalar_state(1.0)
            state["exp_avg"] = zeros_like_param(p)
            state["exp_avg_sq"] = zeros_like_param(p)
        step = step_counter(state)
        grad = decay_weights(p._data, grad, lr, weight_decay, group["decoupled_weight_decay"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
        mu_product = state["mu_product"]._data
        mu_product *= mu
        mu_product_next = float(mu_product) * mu_next
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        denom = np.sqrt(exp_avg_sq / (1 - beta2 ** step)) + eps
        # The Nesterov look-ahead: this gradient's share now plus the momentum of the next step.
        p._data += (-lr * (1.0 - mu) / (1.0 - float(mu_product))) * (grad / denom)
        p._data += (-lr * mu_next / (1.0 - mu_product_next)) * (exp_avg / denom)

