"""torchvision's ``ops``: the layers its models are built from."""

from chainrule.vision.ops.misc import Conv2dNormActivation

__all__ = ["Conv2dNormActivation"]
