"""Pretrained-weight descriptions with torchvision's names: ``Weights`` and ``WeightsEnum``.

chainrule never downloads weights: asking a builder for them raises one line saying how to load
a local state dict instead.

>>> from chainrule.vision.models import ResNet18_Weights
>>> ResNet18_Weights.DEFAULT
ResNet18_Weights.IMAGENET1K_V1
>>> ResNet18_Weights.DEFAULT.meta["num_params"]
11689512
>>> ResNet18_Weights.DEFAULT.transforms().crop_size
[224]
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from types import ModuleType
from typing import Any

from chainrule.transforms._presets import ImageClassification
from chainrule.vision.models._meta import IMAGENET_CATEGORIES

__all__ = ["Weights", "WeightsEnum", "get_model", "get_model_builder", "get_model_weights",
           "get_weight", "list_models"]


@dataclass
class Weights:
    """Where a set of pretrained weights lives, its preprocessing settings and its metadata."""

    url: str
    transforms: Any = None
    meta: dict[str, Any] = field(default_factory=dict)


class WeightsEnum(Enum):
    """The pretrained weights of one model builder (``ResNet18_Weights.IMAGENET1K_V1``)."""

    @classmethod
    def verify(cls, obj: Any) -> Any:
        """``obj`` as a member of this enum (a member's name such as ``"DEFAULT"`` is accepted)."""
        if obj is None:
            return None
        if type(obj) is str:
            return cls[obj.replace(cls.__name__ + ".", "")]
        if not isinstance(obj, cls):
            raise TypeError(f"Invalid Weight class provided; expected {cls.__name__} but "
                            f"received {obj.__class__.__name__}.")
        return obj

    def get_state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError(_cannot_download(self))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}.{self._name_}"

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def transforms(self) -> Any:
        return self.value.transforms

    @property
    def meta(self) -> dict[str, Any]:
        return self.value.meta


def _cannot_download(weights: WeightsEnum) -> str:
    file = weights.url.rsplit("/", 1)[-1]
    return (f"{weights!r}: chainrule cannot download pretrained weights ({weights.url}); build "
            f"the model with weights=None and load a local state dict: "
            f"model.load_state_dict(chainrule.load('{file}')) or "
            f"model.load_state_dict(chainrule.serialization.load_safetensors('MODEL.safetensors'))")


def resolve_weights(weights: Any, enum: type[WeightsEnum]) -> None:
    """Check a builder's ``weights`` argument; anything but None asks for a download: refuse it."""
    weights = enum.verify(weights)
    if weights is not None:
        raise RuntimeError(_cannot_download(weights))


def imagenet_weights(url: str, num_params: int, acc1: float, acc5: float, min_size=(1, 1),
                     crop_size: int = 224, resize_size: int = 256) -> Weights:
    """An ImageNet-1K entry: its file, evaluation preprocessing and reported accuracy."""
    return Weights(url=url,
                   transforms=partial(ImageClassification, crop_size=crop_size,
                                      resize_size=resize_size),
                   meta={"num_params": num_params, "min_size": min_size,
                         "categories": IMAGENET_CATEGORIES,
                         "_metrics": {"ImageNet-1K": {"acc@1": acc1, "acc@5": acc5}}})


# Every builder by name, with the enum of its weights (torchvision's model registry).
BUILTIN_MODELS: dict[str, tuple[Callable[..., Any], type[WeightsEnum]]] = {}


def register_model(weights: type[WeightsEnum]) -> Callable:
    """Record the decorated builder under its name, with its weights enum."""
    def register(builder: Callable) -> Callable:
        BUILTIN_MODELS[builder.__name__] = (builder, weights)
        return builder
    return register


def list_models(module: ModuleType | None = None, include: str | list[str] | None = None,
                exclude: str | list[str] | None = None) -> list[str]:
    """The sorted names of the registered builders (those defined in ``module``), kept by the
    ``include`` and dropped by the ``exclude`` glob patterns.

    >>> list_models(include="resnet*")
    ['resnet18', 'resnet34', 'resnet50']
    """
    names = {name for name, (builder, _) in BUILTIN_MODELS.items()
             if module is None or builder.__module__.startswith(module.__name__)}
    if include:
        patterns = [include] if isinstance(include, str) else include
        names = {n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)}
    if exclude:
        patterns = [exclude] if isinstance(exclude, str) else exclude
        names = {n for n in names if not any(fnmatch.fnmatch(n, p) for p in patterns)}
    return sorted(names)


def get_model_builder(name: str) -> Callable[..., Any]:
    """The builder registered as ``name`` (case-insensitive)."""
    try:
        return BUILTIN_MODELS[name.lower()][0]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_model(name: str, **config: Any) -> Any:
    """``get_model_builder(name)(**config)``."""
    return get_model_builder(name)(**config)


def get_model_weights(name: str | Callable) -> type[WeightsEnum]:
    """The weights enum of a builder (given by name or itself)."""
    name = name if isinstance(name, str) else name.__name__
    try:
        return BUILTIN_MODELS[name.lower()][1]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_weight(name: str) -> WeightsEnum:
    """The weights named ``"EnumName.MEMBER"`` (``"ResNet50_Weights.IMAGENET1K_V2"``)."""
    try:
        enum_name, member = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    for _, enum in BUILTIN_MODELS.values():
        if enum.__name__ == enum_name:
            return enum[member]
    raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be "
                     f"retrieved.")
