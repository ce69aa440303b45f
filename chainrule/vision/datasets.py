"""``torchvision.datasets``: the datasets live in ``chainrule.datasets``."""

from chainrule.datasets import *  # noqa: F403
from chainrule.datasets import __all__  # noqa: F401
