"""Shared by the vision tests and the script that made their stored torchvision references."""

from __future__ import annotations

import zlib

import numpy as np

# Each model is checked on an input its architecture accepts, kept small so the tests stay fast.
MODEL_INPUT_SIZES = {"resnet18": 64, "resnet34": 64, "resnet50": 64, "alexnet": 64,
                     "mobilenet_v2": 32, "squeezenet1_0": 64, "vgg11": 32, "vgg11_bn": 32,
                     "vgg16": 32, "vgg16_bn": 32}
# The models whose outputs are compared; VGG's 120M-parameter classifier makes one VGG enough
# (the others are compared layer by layer in their ``features``).
MODELS_RUN = ["resnet18", "resnet50", "alexnet", "mobilenet_v2", "squeezenet1_0", "vgg16_bn"]


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


# (functional name, input kind, keyword arguments); "interpolation" names an InterpolationMode.
TRANSFORM_CASES = [
    ("resize", "pil", {"size": [7, 9]}),
    ("resize", "pil", {"size": 6, "interpolation": "BICUBIC"}),
    ("resize", "pil", {"size": [15, 8], "interpolation": "NEAREST"}),
    ("center_crop", "pil", {"output_size": [6, 5]}),
    ("center_crop", "pil", {"output_size": [12, 15]}),
    ("pad", "pil", {"padding": [2, 1], "fill": 3}),
    ("pad", "pil", {"padding": [1, 2, 3, 1], "padding_mode": "reflect"}),
    ("rotate", "pil", {"angle": 30.0, "interpolation": "BILINEAR", "expand": True}),
    ("rotate", "pil", {"angle": 45.0, "fill": 9}),
    ("affine", "pil", {"angle": 20.0, "translate": [2, -1], "scale": 0.9, "shear": [10.0, 5.0],
                       "interpolation": "BILINEAR"}),
    ("affine", "pil", {"angle": -35.0, "translate": [0, 3], "scale": 1.2, "shear": 8.0}),
    ("affine", "float", {"angle": 20.0, "translate": [2, -1], "scale": 0.9,
                         "shear": [10.0, 5.0], "interpolation": "BILINEAR"}),
    ("affine", "float", {"angle": 90.0, "translate": [1, 0], "scale": 1.0, "shear": [0.0, 0.0]}),
    ("resized_crop", "pil", {"top": 1, "left": 2, "height": 6, "width": 8, "size": [5, 5]}),
    ("rgb_to_grayscale", "pil", {}),
    ("rgb_to_grayscale", "pil", {"num_output_channels": 3}),
    ("rgb_to_grayscale", "float", {}),
    ("rgb_to_grayscale", "uint8", {"num_output_channels": 3}),
    ("adjust_brightness", "pil", {"brightness_factor": 1.4}),
    ("adjust_brightness", "float", {"brightness_factor": 1.4}),
    ("adjust_brightness", "uint8", {"brightness_factor": 0.6}),
    ("adjust_contrast", "pil", {"contrast_factor": 0.6}),
    ("adjust_contrast", "float", {"contrast_factor": 1.7}),
    ("adjust_contrast", "uint8", {"contrast_factor": 0.6}),
    ("adjust_saturation", "pil", {"saturation_factor": 0.3}),
    ("adjust_saturation", "float", {"saturation_factor": 1.8}),
    ("adjust_saturation", "uint8", {"saturation_factor": 0.3}),
    ("adjust_hue", "pil", {"hue_factor": 0.2}),
    ("adjust_hue", "float", {"hue_factor": -0.3}),
    ("adjust_hue", "uint8", {"hue_factor": 0.2}),
    ("to_pil_image", "float", {}),
    ("to_pil_image", "uint8", {}),
    ("pil_to_tensor", "pil", {}),
    ("to_tensor", "pil", {}),
    ("convert_image_dtype", "float", {"dtype": "uint8"}),
    ("convert_image_dtype", "uint8", {"dtype": "float32"}),
    ("convert_image_dtype", "uint8", {"dtype": "float64"}),
    ("erase", "float", {"i": 2, "j": 3, "h": 4, "w": 5, "v": 0.5}),
]


def transform_input(kind: str):
    """An RGB image 10 x 13, as a PIL image, a float32 tensor array or a uint8 tensor array."""
    pixels = np.random.default_rng(11).integers(0, 256, (10, 13, 3), dtype=np.uint8)
    if kind == "pil":
        from PIL import Image
        return Image.fromarray(pixels)
    chw = np.ascontiguousarray(pixels.transpose(2, 0, 1))
    return chw if kind == "uint8" else chw.astype(np.float32) / 255


def resolve_transform_kwargs(kwargs: dict, interpolation_modes, library) -> dict:
    """A case's keyword arguments with names of interpolation modes and dtypes resolved in the
    library under test (chainrule or torch)."""
    kwargs = dict(kwargs)
    if "interpolation" in kwargs:
        kwargs["interpolation"] = interpolation_modes[kwargs["interpolation"]]
    if "dtype" in kwargs:
        kwargs["dtype"] = getattr(library, kwargs["dtype"])
    return kwargs


def import_torchvision():
    """torchvision, for the reference scripts. With TORCHVISION_SRC=<unpacked wheel> its
    native-op registrations are stubbed out (the CUDA-only wheel cannot load them next to the CPU
    build of torch); the pure-Python models, transforms and utils work without them."""
    import importlib
    import os
    import sys
    import types

    if os.environ.get("TORCHVISION_SRC"):
        sys.path.insert(0, os.environ["TORCHVISION_SRC"])
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("stub")
    return importlib.import_module("torchvision")
