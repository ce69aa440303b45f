"""Neural-network building blocks: ``Module``, layers, losses, ``functional`` and ``init``.

>>> import chainrule as torch
>>> from chainrule import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
>>> model(torch.randn(3, 4)).shape
torch.Size([3, 2])
"""

from chainrule.nn.parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
from chainrule.nn.modules import *  # noqa: F403
from chainrule.nn.modules import Module
from chainrule.nn import attention, functional, init
from chainrule.nn import modules  # noqa: F401
from chainrule.nn import parallel  # noqa: F401
from chainrule.nn.parallel import DataParallel  # noqa: F401

try:
    from chainrule.nn import utils  # noqa: F401 - written by another contributor
except ImportError:
    pass

