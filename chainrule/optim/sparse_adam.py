"""SparseAdam: Adam for sparse gradients, updating only the moments of the rows that appear.

chainrule has no sparse tensors: ``nn.Embedding(sparse=True)`` produces a dense gradient, so
every ``step()`` that meets a gradient refuses it exactly as PyTorch refuses a dense one.
Construction, argument checks, ``state_dict`` and ``repr`` match PyTorch, so code that builds a
SparseAdam still runs; use ``Adam`` to train.
"""

from __future__ import annotations

from chainrule.optim.optimizer import Optimizer, check_betas, check_hyperparameter

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Lazy Adam for sparse gradients; refuses dense ones (all of chainrule's) like PyTorch.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.SparseAdam([w])
    >>> w.grad = torch.ones(2); opt.step()
    Traceback (most recent call last):
    ...
    RuntimeError: SparseAdam does not support dense gradients, please consider Adam instead
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        check_hyperparameter("learning rate", lr, 0.0 < lr)
        check_hyperparameter("epsilon value", eps, 0.0 < eps)
        check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        complex_params = [[group_index, index]
                          for group_index, group in enumerate(self.param_groups)
                          for index, p in enumerate(group["params"]) if p.is_complex()]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: "
                             "SparseAdam does not support complex parameters")

    def refuse_step(self, params: list, group: dict) -> None:
        if any(not p._grad.is_sparse for p in params):
            raise RuntimeError("SparseAdam does not support dense gradients, "
                               "please consider Adam instead")
