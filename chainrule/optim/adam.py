"""Adam: per-parameter steps from bias-corrected running moments of the gradient."""

from __future__ import annotations

import numpy as np

from chainrule.backends.cpu import optim as cpu_optim
from chainrule.optim._moments import (
    adam_denominator,
    add_ratio,
    bias_correction,
    update_adam_moments,
)
from chainrule.optim.optimizer import Array, ArrayState, Optimizer, check_adam_hyperparameters

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

    sparse_gradients_error = "Adam does not support sparse gradients, please consider SparseAdam instead"

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

    def init_state(self, param: Array, group: dict) -> ArrayState:
        state = {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        return state

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        lr, eps, step = group["lr"], group["eps"], float(state["step"])
        beta1, beta2 = group["betas"]
        if not group["amsgrad"] and cpu_optim.adam(
                param, grad, state["exp_avg"], state["exp_avg_sq"], lr=lr, betas=(beta1, beta2),
                eps=eps, weight_decay=group["weight_decay"],
                decoupled=group["decoupled_weight_decay"], step=step):
            return
        scratch = np.empty_like(param)
        _, m, v = update_adam_moments(param, grad, state, group, scratch)
        if group["amsgrad"]:  # the largest v so far, so steps never grow from v shrinking
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denominator = adam_denominator(v, step, beta2, eps, scratch)
        add_ratio(param, -lr / bias_correction(beta1, step), m, denominator, scratch)
