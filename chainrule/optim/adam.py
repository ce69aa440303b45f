"""Adam: per-parameter steps from bias-corrected running moments of the gradient."""

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

__all__ = ["Adam"]


class Adam(Optimizer):
    """``p -= lr * m_hat / (sqrt(v_hat) + eps)`` with ``m``, ``v`` running means of ``g`` and ``g**2``.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient, or, with
    ``decoupled_weight_decay=True`` (what ``AdamW`` is), shrinks ``p`` directly.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.Adam([w], lr=0.1)
    >>> w.grad = torch.ones(2); opt.step()
    >>> w
    Parameter containing:
    tensor([-0.1000, -0.1000], requires_grad=True)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused=None,
                 decoupled_weight_decay: bool = False) -> None:
        check_adam_hyperparameters(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update_parameter(self, p, grad, state, group) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        data = p._data
        if not state:
            new_state(state)["exp_avg"] = zeros_like_param(p)
            state["exp_avg_sq"] = zeros_like_param(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_like_param(p)
        step = step_counter(state)
        grad = decay_weights(data, grad, lr, weight_decay, group["decoupled_weight_decay"])
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
        scratch = np.subtract(grad, exp_avg, out=np.empty_like(data))  # the one temporary
        scratch *= 1 - beta1
        exp_avg += scratch
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - beta2
        exp_avg_sq *= beta2
        exp_avg_sq += scratch
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        if group["amsgrad"]:
            max_sq = state["max_exp_avg_sq"]._data
            np.maximum(max_sq, exp_avg_sq, out=max_sq)
            np.sqrt(max_sq, out=scratch)
        else:
            np.sqrt(exp_avg_sq, out=scratch)
        scratch /= bias_correction2_sqrt
        scratch += eps
        np.divide(exp_avg, scratch, out=scratch)
        scratch *= step_size
        data -= scratch
