"""Image transforms with torchvision's names (``chainrule.transforms`` ~ ``torchvision.transforms``).

Images are NumPy arrays (H x W [x C], standing in for PIL images) or tensors (C x H x W).
"""

from chainrule.transforms import functional
from chainrule.transforms.functional import InterpolationMode
from chainrule.transforms.transforms import (
    CenterCrop,
    Compose,
    Lambda,
    Normalize,
    Pad,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
    ToTensor,
)

__all__ = ["CenterCrop", "Compose", "InterpolationMode", "Lambda", "Normalize", "Pad",
           "RandomCrop", "RandomHorizontalFlip", "RandomRotation", "RandomVerticalFlip", "Resize",
           "ToTensor", "functional"]
