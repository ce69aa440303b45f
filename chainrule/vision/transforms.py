"""``torchvision.transforms``: the transforms live in ``chainrule.transforms``."""

from chainrule.transforms import *  # noqa: F403
from chainrule.transforms import __all__  # noqa: F401
