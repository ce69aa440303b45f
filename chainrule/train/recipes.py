"""Ready-made pieces for the ``chainrule train`` command: the seed notes' MLP, LeNet-5, and
image-classification data loaded as whole tensors (so batching is a slice, not a Python loop
over samples)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

import chainrule
from chainrule.train.metrics import as_numpy

__all__ = ["build_mlp", "build_lenet5", "build_model", "load_images", "ACTIVATIONS"]

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "GELU",
               "leaky_relu": "LeakyReLU", "elu": "ELU"}


def build_mlp(input_size: int = 784, hidden_sizes: Sequence[int] = (128, 64), output_size: int = 10,
              activation: str = "relu", dropout: float = 0.0):
    """The seed notes' ``nn.Sequential(OrderedDict(fc1, relu1, ..., logits))`` network."""
    from collections import OrderedDict

    from chainrule import nn

    layers: list = []
    sizes = [input_size, *hidden_sizes]
    for index, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        layers.append((f"fc{index}", nn.Linear(n_in, n_out)))
        layers.append((f"{activation}{index}", getattr(nn, ACTIVATIONS[activation])()))
        if dropout > 0:
            layers.append((f"dropout{index}", nn.Dropout(dropout)))
    layers.append(("logits", nn.Linear(sizes[-1], output_size)))
    return nn.Sequential(OrderedDict(layers))


def build_lenet5(output_size: int = 10, activation: str = "relu", dropout: float = 0.0):
    """LeNet-5 for 1x28x28 images: two conv+pool stages, then three linear layers."""
    from chainrule import nn

    def act():
        return getattr(nn, ACTIVATIONS[activation])()

    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), act(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), act(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), act(), *([nn.Dropout(dropout)] if dropout > 0 else []),
        nn.Linear(120, 84), act(),
        nn.Linear(84, output_size),
    )


def build_model(config: dict):
    """The model a run's ``summary.json`` config describes."""
    if config["model"] == "cnn":
        return build_lenet5(config["num_classes"], config["activation"], config["dropout"])
    return build_mlp(config["input_size"], config["hidden"], config["num_classes"],
                     config["activation"], config["dropout"])


def _find(folder: str, stem: str) -> str:
    for name in (stem, f"{stem}.gz"):
        candidate = os.path.join(folder, name)
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"no {stem}[.gz] in {folder}")


def _idx_folder(folder: str, train: bool) -> tuple[np.ndarray, np.ndarray]:
    from chainrule.datasets import read_idx

    prefix = "train" if train else "t10k"
    images_path = _find(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    _check_split(images, labels, images_path, labels_path)
    return images, labels


def _check_split(images: np.ndarray, labels: np.ndarray, images_name: str, labels_name: str
                 ) -> None:
    """Refuse a split whose labels do not fit its images, naming the file at fault."""
    if labels.ndim != 1:
        raise ValueError(f"{labels_name}: labels must be one number per image, got shape "
                         f"{labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{labels_name} has {len(labels)} labels but {images_name} has "
                         f"{len(images)} images")
    if images.ndim not in (2, 3, 4) or len(images) == 0:
        raise ValueError(f"{images_name}: expected a non-empty stack of images, got shape "
                         f"{images.shape}")
    if len(labels) and labels.min() < 0:
        raise ValueError(f"{labels_name}: labels must be class indices >= 0, found "
                         f"{labels.min()}")
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        bad = int((~np.isfinite(images)).sum())
        raise ValueError(f"{images_name}: {bad} pixel value(s) are NaN or infinite")


def _dataset_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    data, targets = getattr(dataset, "data", None), getattr(dataset, "targets", None)
    if data is not None and targets is not None:
        return as_numpy(data), as_numpy(targets)
    pairs = [dataset[i] for i in range(len(dataset))]
    images = np.stack([as_numpy(p[0]) for p in pairs])
    return images, np.asarray([int(p[1]) for p in pairs])


def load_images(name: str, train: bool, data_root: str = "data"):
    """``(images, labels)`` tensors: float32 images scaled to [-1, 1] of shape (N, 1, H, W), and
    int64 labels. ``name`` is ``digits``, ``mnist``, ``fashion-mnist`` or a folder of IDX files."""
    from chainrule import datasets

    split = "train" if train else "test"
    if name == "digits":
        images, labels = _dataset_arrays(datasets.Digits(train=train))
    elif name in ("mnist", "fashion-mnist"):
        dataset_class = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
        images, labels = _dataset_arrays(dataset_class(data_root, train=train, download=True))
    elif os.path.isdir(name):
        images, labels = _idx_folder(name, train)
    else:
        raise ValueError(f"unknown dataset {name!r}: use digits, mnist, fashion-mnist or a folder "
                         "of IDX files")
    if name in ("digits", "mnist", "fashion-mnist"):
        _check_split(images, labels, f"{name} {split} images", f"{name} {split} labels")
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    images = ((images.astype(np.float32) - 0.5) / 0.5)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        images = images.reshape(-1, 1, side, side)
    return chainrule.tensor(images), chainrule.tensor(np.asarray(labels, dtype=np.int64))
