"""AdamW: Adam with weight decay applied to the weights directly (decoupled from the gradient)."""

from __future__ import annotations

from chainrule.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """Adam whose ``weight_decay`` shrinks ``p`` by ``lr * weight_decay`` each step (default 1e-2)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach=None, capturable: bool = False,
                 differentiable: bool = False, fused=None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused, decoupled_weight_decay=True)
