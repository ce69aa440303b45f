"""Adadelta: steps scaled by the ratio of running RMS of past updates to that of gradients."""

from __future__ import annotations

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    check_non_negative,
    decay_weights,
    new_state,
    step_counter,
    zeros_like_param,
)

__all__ = ["Adadelta"]

class Adadelta(Optimizer):
    """``p -= lr * sqrt(E[dx**2] + eps) / sqrt(E[g**2] + eps) * g`` (Zeiler, 2012).

    ``E[g**2]`` (``square_avg``) and ``E[dx**2]`` (``acc_delta``) are running means with
    decay ``rho``; ``weight_decay`` adds ``weight_decay * p`` to the gradient.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.Adadelta([w])
    >>> w.grad = torch.ones(2); opt.step()
    >>> w
    Parameter containing:
    tensor([-0.0032, -0.0032], requires_grad=True)
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach=None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        check_non_negative(("learning rate", lr))
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_non_negative(("epsilon value", eps), ("weight_decay value", weight_decay))
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    _capturable_devices = ['cuda', 'xpu', 'hpu', 'privateuseone']  # XLA is left out

    def _update_parameter(self, p, grad, state, group) -> None:
        lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
        if not state:
            new_state(state)["square_avg"] = zeros_like_param(p)
            state["acc_delta"] = zeros_like_param(p)
        step_counter(state)
        grad = decay_weights(p._data, grad, lr, weight_decay, decoupled=False)
        square_avg, acc_delta = state["square_avg"]._data, state["acc_delta"]._data
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        p._data -= lr * delta
