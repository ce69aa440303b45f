"""Shared by the vision tests and the script that made their stored torchvision references."""

from __future__ import annotations

import zlib

import numpy as np

# Each model is checked on an input its architecture accepts, kept small so the tests stay fast.
MODEL_INPUT_SIZES = {"resnet18": 64, "resnet34": 64, "resnet50": 64, "alexnet": 64,
                     "mobilenet_v2": 32, "squeezenet1_0": 64, "vgg11": 32, "vgg11_bn": 32,
                     "vgg16": 32, "vgg16_bn": 32}
# The models whose outputs are compared (the others only by state-dict keys, shapes and init).
MODELS_RUN = ["resnet18", "resnet50", "alexnet", "mobilenet_v2", "squeezenet1_0", "vgg11_bn"]
NUM_CLASSES = 10


def filled_state_dict(shapes: dict[str, tuple[tuple[int, ...], str]]) -> dict[str, np.ndarray]:
    """Deterministic values for every state-dict entry (key -> (shape, dtype)), scaled so that
    activations stay of order one through deep networks; each key's values depend only on it."""
    values = {}
    for key, (shape, dtype) in shapes.items():
        rng = np.random.default_rng(zlib.crc32(key.encode()))
        if dtype == "int64":
            values[key] = np.zeros(shape, dtype=np.int64)
        elif key.endswith("running_var"):
            values[key] = (0.5 + rng.random(shape, dtype=np.float32))
        elif len(shape) > 1:
            fan_in = int(np.prod(shape[1:]))
            values[key] = rng.standard_normal(shape, dtype=np.float32) * np.float32(1.5 / np.sqrt(fan_in))
        elif key.endswith("weight"):
            values[key] = 1 + 0.1 * rng.standard_normal(shape, dtype=np.float32)
        else:
            values[key] = 0.1 * rng.standard_normal(shape, dtype=np.float32)
    return values


def model_input(size: int) -> np.ndarray:
    return np.random.default_rng(size).standard_normal((2, 3, size, size)).astype(np.float32)


GRID_CASES = [
    {"input": "batch", "kwargs": {}},
    {"input": "batch", "kwargs": {"nrow": 2, "padding": 1, "pad_value": 0.5}},
    {"input": "batch", "kwargs": {"normalize": True}},
    {"input": "batch", "kwargs": {"normalize": True, "value_range": (0.2, 0.8), "nrow": 3}},
    {"input": "batch", "kwargs": {"normalize": True, "scale_each": True, "padding": 0}},
    {"input": "gray", "kwargs": {"nrow": 4}},
    {"input": "single", "kwargs": {"padding": 3}},
    {"input": "list", "kwargs": {"nrow": 1}},
]


def grid_input(kind: str):
    """Float images in (-0.5, 1.5), so normalisation and save_image's clamp both matter."""
    rng = np.random.default_rng(7)
    shapes = {"batch": (5, 3, 4, 6), "gray": (6, 1, 3, 3), "single": (1, 5, 4), "list": (3, 3, 2, 2)}
    images = (rng.random(shapes[kind], dtype=np.float32) * 2 - 0.5)
    return list(images) if kind == "list" else images


BOX_CASES = [
    {"dtype": "uint8", "kwargs": {}},
    {"dtype": "uint8", "kwargs": {"colors": "red", "width": 2, "fill": True}},
    {"dtype": "uint8", "kwargs": {"colors": [(10, 200, 30), "#00ff00"], "labels": ["cat", "dog"]}},
    {"dtype": "float32", "kwargs": {"colors": "blue"}},
]


def box_image(dtype: str):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (3, 24, 32), dtype=np.uint8)
    if dtype == "float32":
        image = image.astype(np.float32) / 255
    return image, np.array([[2, 3, 12, 14], [5, 6, 30, 20]], dtype=np.float32)
