"""Adagrad: per-parameter learning rates shrinking with the sum of squared past gradients."""

from __future__ import annotations

import numpy as np

from chainrule.optim.optimizer import (
    Array,
    ArrayState,
    Optimizer,
    check_hyperparameter,
    decay_weights,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """``p -= clr * g / (sqrt(sum g**2) + eps)`` with ``clr = lr / (1 + (step - 1) * lr_decay)``."""

    sparse_gradients_error = None  # PyTorch's Adagrad accepts them

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False, fused=None) -> None:
        check_hyperparameter("learning rate", lr, 0.0 <= lr)
        check_hyperparameter("lr_decay value", lr_decay, 0.0 <= lr_decay)
        check_hyperparameter("weight_decay value", weight_decay, 0.0 <= weight_decay)
        check_hyperparameter("initial_accumulator_value value", initial_accumulator_value,
                             0.0 <= initial_accumulator_value)
        check_hyperparameter("epsilon value", eps, 0.0 <= eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # PyTorch creates Adagrad's state eagerly, so a fresh state_dict already holds it.
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self.initial_state(p, group)

    def init_state(self, param: Array, group: dict) -> ArrayState:
        return {"sum": np.full_like(param, group["initial_accumulator_value"])}

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        lr, step = group["lr"], float(state["step"])
        grad = decay_weights(param, grad, lr, group["weight_decay"])
        clr = lr / (1 + (step - 1) * group["lr_decay"])
        total = state["sum"]
        total += grad * grad  # the sum of every squared gradient so far
        param -= clr * (grad / (np.sqrt(total) + group["eps"]))
