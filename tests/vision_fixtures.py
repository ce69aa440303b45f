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
