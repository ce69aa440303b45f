"""Adadelta: steps scaled by the ratio of running RMS of past updates to that of gradients."""

from __future__ import annotations

import numpy as np

from chainrule.optim._moments import update_square_average
from chainrule.optim.optimizer import (
    Array,
    ArrayState,
    Optimizer,
    check_hyperparameter,
    decay_weights,
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
        check_hyperparameter("learning rate", lr, 0.0 <= lr)
        check_hyperparameter("rho value", rho, 0.0 <= rho <= 1.0)
        check_hyperparameter("epsilon value", eps, 0.0 <= eps)
        check_hyperparameter("weight_decay value", weight_decay, 0.0 <= weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    _capturable_devices = ['cuda', 'xpu', 'hpu', 'privateuseone']  # XLA is left out

    def init_state(self, param: Array, group: dict) -> ArrayState:
        return {"square_avg": np.zeros_like(param), "acc_delta": np.zeros_like(param)}

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        rho, eps = group["rho"], group["eps"]
        grad = decay_weights(param, grad, group["lr"], group["weight_decay"])
        square_avg, acc_delta, scratch = state["square_avg"], state["acc_delta"], np.empty_like(param)
        update_square_average(square_avg, grad, rho, scratch)
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        update_square_average(acc_delta, delta, rho, scratch)
        param -= group["lr"] * delta
