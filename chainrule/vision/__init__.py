"""torchvision's namespace on chainrule: ``models``, ``ops``, ``utils``, ``io``, ``datasets``
and ``transforms`` (the last two are ``chainrule.datasets`` and ``chainrule.transforms``).

>>> from chainrule.vision import models
>>> models.resnet18(num_classes=10).fc.out_features
10
"""

from chainrule.vision import datasets, io, models, ops, transforms, utils

__all__ = ["datasets", "io", "models", "ops", "transforms", "utils"]
