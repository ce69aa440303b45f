"""Adagrad: per-parameter learning rates shrinking with the sum of squared past gradients."""

from __future__ import annotations

import numpy as np

from chainrule._tensor import make_tensor
from chainrule.optim.optimizer import Optimizer, new_state, step_counter

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """``p -= clr * g / (sqrt(sum g**2) + eps)`` with ``clr = lr / (1 + (step - 1) * lr_decay)``."""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False, fused=None) -> None:
        for name, value in (("learning rate", lr), ("lr_decay value", lr_decay),
                            ("weight_decay value", weight_decay),
                            ("initial_accumulator_value value", initial_accumulator_value),
                            ("epsilon value", eps)):
            if value < 0.0:
                raise ValueError(f"Invalid {name}: {value}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # PyTorch creates Adagrad's state eagerly, so a fresh state_dict already holds it.
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                new_state(state)["sum"] = make_tensor(
                    np.full_like(p._data, group["initial_accumulator_value"]))

    def _update_parameter(self, p, grad, state, group) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        data = p._data
        step = step_counter(state)
        if weight_decay:
            grad = grad + weight_decay * data
        clr = lr / (1 + (step - 1) * group["lr_decay"])
        total = state["sum"]._data
        total += grad * grad
        std = np.sqrt(total, out=np.empty_like(total))
        std += eps
        np.divide(grad, std, out=std)
        std *= clr
        data -= std
