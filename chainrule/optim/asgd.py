"""ASGD: SGD with a decaying step size and a running (Polyak) average of the iterates."""

from __future__ import annotations

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    check_non_negative,
    new_state,
    scalar_state,
    step_counter,
    zeros_like_param,
)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992): ``p = p * (1 - lambd * eta) - eta * g``.

    The step size decays as ``eta_t = lr / (1 + lambd * lr * t) ** alpha``; from step ``t0``
    on, ``state['ax']`` holds the running average of the iterates (``mu_t = 1 / max(1, t - t0)``),
    before that a copy of ``p``.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.ASGD([w], lr=0.1)
    >>> w.grad = torch.ones(2); opt.step()
    >>> w
    Parameter containing:
    tensor([-0.1000, -0.1000], requires_grad=True)
    """

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach=None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_non_negative(("learning rate", lr), ("weight_decay value", weight_decay))
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    _capturable_tensors = "params, mus, etas, and state_steps"

    def _update_parameter(self, p, grad, state, group) -> None:
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        data = p._data
        if not state:
            new_state(state)["eta"] = scalar_state(lr)
            state["mu"] = scalar_state(1.0)
            state["ax"] = zeros_like_param(p)
        step = step_counter(state)
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * data
        eta = float(state["eta"]._data)
        data *= 1 - lambd * eta
        data -= eta * grad
        mu, ax = float(state["mu"]._data), state["ax"]._data
        if mu != 1:
            ax += (data - ax) * mu
        else:
            np.copyto(ax, data)
        state["eta"]._data[...] = lr / (1 + lambd * lr * step) ** alpha
        state["mu"]._data[...] = 1 / max(1, step - t0)
