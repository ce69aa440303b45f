"""ASGD: SGD with a decaying step size and a running (Polyak) average of the iterates."""

from __future__ import annotations

import numpy as np

from chainrule.optim.optimizer import (
    Array,
    ArrayState,
    Optimizer,
    check_hyperparameter,
    decay_weights,
)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992): ``p = p * (1 - lambd * eta) - eta * g``.

    The step size decays as ``eta_t = lr / (1 + lambd * lr * t) ** alpha``; from step ``t0``
    on, ``state['ax']`` holds the running average of the iterates (``mu_t = 1 / max(1, t - t0)``),
    before that a copy of ``p``.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.ASGD([w], lr=0.1, lambd=0.0, t0=0)
    >>> for _ in range(4):
    ...     w.grad = torch.ones(1); opt.step()
    >>> w.detach(), opt.state[w]["ax"]  # ax: the mean of the iterates after the first
    (tensor([-0.4000]), tensor([-0.3000]))
    """

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach=None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_hyperparameter("learning rate", lr, 0.0 <= lr)
        check_hyperparameter("weight_decay value", weight_decay, 0.0 <= weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    _capturable_tensors = "params, mus, etas, and state_steps"

    def init_state(self, param: Array, group: dict) -> ArrayState:
        return {"eta": np.array(group["lr"], np.float32), "mu": np.ones((), np.float32),
                "ax": np.zeros_like(param)}

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        lr, lambd, alpha, step = group["lr"], group["lambd"], group["alpha"], float(state["step"])
        grad = decay_weights(param, grad, lr, group["weight_decay"])
        eta, mu, ax = float(state["eta"]), float(state["mu"]), state["ax"]
        param *= 1 - lambd * eta
        param -= eta * grad
        if mu != 1:  # ax = ax + mu * (p - ax): the running average of the iterates
            ax += (param - ax) * mu
        else:
            np.copyto(ax, param)
        state["eta"][...] = lr / (1 + lambd * lr * step) ** alpha
        state["mu"][...] = 1 / max(1, step - group["t0"])
