"""Image transforms with torchvision's names (``chainrule.transforms`` ~ ``torchvision.transforms``).

Images are PIL images, tensors (C x H x W), or NumPy arrays (H x W [x C]) standing in for PIL
images where Pillow is not installed.
"""

from chainrule.transforms import functional
from chainrule.transforms._augment import (
    ColorJitter,
    Grayscale,
    RandomAffine,
    RandomErasing,
    RandomResizedCrop,
)
from chainrule.transforms.functional import InterpolationMode
from chainrule.transforms.transforms import (
    CenterCrop,
    Compose,
    ConvertImageDtype,
    Lambda,
    Normalize,
    Pad,
    PILToTensor,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
    ToPILImage,
    ToTensor,
)

__all__ = ["CenterCrop", "ColorJitter", "Compose", "ConvertImageDtype", "Grayscale",
           "InterpolationMode", "Lambda", "Normalize", "Pad", "PILToTensor", "RandomAffine",
           "RandomCrop", "RandomErasing", "RandomHorizontalFlip", "RandomResizedCrop",
           "RandomRotation", "RandomVerticalFlip", "Resize", "ToPILImage", "ToTensor",
           "functional"]
