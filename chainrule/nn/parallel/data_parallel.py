"""``DataParallel`` on a CPU-only machine: as in torch without CUDA, it wraps the module and
forwards every call to it unchanged (no devices to split the batch over).

>>> import chainrule as torch
>>> model = torch.nn.DataParallel(torch.nn.Linear(2, 1))
>>> list(model.state_dict())
['module.weight', 'module.bias']
>>> model(torch.ones(3, 2)).shape
torch.Size([3, 1])
"""

from __future__ import annotations

from chainrule.nn.modules.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Runs ``module`` as it is: there is no GPU to replicate it onto."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids = []  # torch sets only this when no GPU is present

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
