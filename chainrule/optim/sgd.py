"""Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from chainrule.optim.optimizer import (
    Array,
    ArrayState,
    Optimizer,
    check_hyperparameter,
    decay_weights,
)

__all__ = ["SGD"]


class SGD(Optimizer):
    """``p -= lr * d`` where ``d`` is the gradient (plus ``weight_decay * p``), through momentum.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.ones(2))
    >>> opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = torch.ones(2); opt.step()
    >>> w
    Parameter containing:
    tensor([0.9000, 0.9000], requires_grad=True)
    """

    counts_steps = False
    sparse_gradients_error = None

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach=None, differentiable: bool = False, fused=None) -> None:
        check_hyperparameter("learning rate", lr, not lr < 0.0)
        check_hyperparameter("momentum value", momentum, not momentum < 0.0)
        check_hyperparameter("weight_decay value", weight_decay, not weight_decay < 0.0)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        lr, momentum = group["lr"], group["momentum"]
        grad = decay_weights(param, grad, lr, group["weight_decay"])
        if momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:  # the first step's buffer is the gradient itself
                buffer = state["momentum_buffer"] = np.array(grad)  # a copy, 0-d included
            else:  # b = momentum * b + (1 - dampening) * g
                buffer *= momentum
                buffer += (1 - group["dampening"]) * grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        param -= lr * grad
