"""The transforms torchvision scripts use most, on PIL images and tensors: functional calls with
fixed parameters against stored torchvision 0.28 outputs (vision_reference/transforms.json,
written by make_transforms_reference.py), and the random transforms by their draws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from vision_fixtures import TRANSFORM_CASES, resolve_transform_kwargs, transform_input

import chainrule
from chainrule import transforms as T
from chainrule.transforms import functional as F

Image = pytest.importorskip("PIL.Image", reason="Pillow (the 'images' extra) is not installed")
STORED = json.loads((Path(__file__).parent / "vision_reference" / "transforms.json").read_text())
REFERENCE = STORED["cases"]

# Bilinear/bicubic resampling of tensors may differ from torch's grid_sample by float rounding;
# where uint8 results are rounded from those, by one level.
TOLERANCES = {"affine": 1e-5}


@pytest.mark.parametrize("index", range(len(TRANSFORM_CASES)),
                         ids=[f"{n}-{k}-{i}" for i, (n, k, _) in enumerate(TRANSFORM_CASES)])
def test_functional_matches_torchvision(index):
    name, kind, kwargs = TRANSFORM_CASES[index]
    expected = REFERENCE[index]
    kwargs = resolve_transform_kwargs(kwargs, F.InterpolationMode, chainrule)
    image = transform_input(kind)
    if kind != "pil":
        image = chainrule.from_numpy(image)
    out = getattr(F, name)(image, **kwargs)
    if expected["kind"] == "pil":
        assert type(out).__module__.startswith("PIL.") and out.mode == expected["mode"]
        np.testing.assert_array_equal(np.asarray(out), np.array(expected["value"]))
    else:
        assert isinstance(out, chainrule.Tensor) and str(out.dtype) == expected["dtype"]
        np.testing.assert_allclose(out.numpy(), np.array(expected["value"]),
                                   rtol=TOLERANCES.get(name, 1e-6), atol=1e-6)


def _pil(h=10, w=13):
    return Image.fromarray(np.random.default_rng(2).integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_random_resized_crop_draws_within_scale_and_ratio():
    img = _pil(40, 50)
    for _ in range(200):
        top, left, h, w = T.RandomResizedCrop.get_params(img, (0.1, 0.5), (0.5, 2.0))
        assert 0 <= top <= 40 - h and 0 <= left <= 50 - w
        assert 0.1 * 2000 * 0.8 <= h * w <= 0.5 * 2000 * 1.2
        assert 0.5 * 0.7 <= w / h <= 2.0 * 1.4
    # Impossible areas fall back to the central crop clipped to the ratio range.
    assert T.RandomResizedCrop.get_params(_pil(10, 40), (2.0, 3.0), (0.5, 2.0)) == (0, 10, 10, 20)
    crop = T.RandomResizedCrop(8)
    assert crop(img).size == (8, 8)
    assert repr(crop) == ("RandomResizedCrop(size=(8, 8), scale=(0.08, 1.0), "
                          "ratio=(0.75, 1.3333), interpolation=bilinear, antialias=True)")


def test_color_jitter_ranges_order_and_repr():
    jitter = T.ColorJitter(brightness=0.5, contrast=(0.2, 0.9), saturation=0, hue=0.1)
    assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == (
        (0.5, 1.5), (0.2, 0.9), None, (-0.1, 0.1))
    assert repr(jitter) == ("ColorJitter(brightness=(0.5, 1.5), contrast=(0.2, 0.9), "
                            "saturation=None, hue=(-0.1, 0.1))")
    orders = set()
    for _ in range(100):
        order, b, c, s, h = T.ColorJitter.get_params(jitter.brightness, jitter.contrast,
                                                     jitter.saturation, jitter.hue)
        orders.add(tuple(order))
        assert 0.5 <= b <= 1.5 and 0.2 <= c <= 0.9 and s is None and -0.1 <= h <= 0.1
    assert len(orders) > 10
    assert jitter(_pil()).size == (13, 10)
    with pytest.raises(ValueError, match=r"hue values should be between \(-0.5, 0.5\)"):
        T.ColorJitter(hue=0.7)


def test_random_affine_draws_and_applies():
    affine = T.RandomAffine(degrees=10, translate=(0.1, 0.2), scale=(0.8, 1.1), shear=(-5, 5, 1, 2))
    for _ in range(100):
        angle, (tx, ty), scale, (sx, sy) = T.RandomAffine.get_params(
            affine.degrees, affine.translate, affine.scale, affine.shear, [50, 40])
        assert -10 <= angle <= 10 and abs(tx) <= 5 and abs(ty) <= 8
        assert 0.8 <= scale <= 1.1 and -5 <= sx <= 5 and 1 <= sy <= 2
    assert affine(_pil()).size == (13, 10)
    assert repr(T.RandomAffine(30)) == "RandomAffine(degrees=[-30.0, 30.0])"
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(1.5, 0))


def test_random_erasing():
    image = chainrule.ones(3, 20, 30)
    erased = T.RandomErasing(p=1.0, value=(0.1, 0.2, 0.3))(image)
    zeroed = image.numpy() != erased.numpy()
    rows, cols = np.nonzero(zeroed[0])
    area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    assert zeroed.sum() == 3 * area and 0.02 * 600 * 0.7 <= area <= 0.33 * 600 * 1.3
    np.testing.assert_allclose(erased.numpy()[:, rows[0], cols[0]], [0.1, 0.2, 0.3], rtol=1e-6)
    assert T.RandomErasing(p=0.0)(image) is image
    with pytest.raises(ValueError, match="it should have either a single value or 3"):
        T.RandomErasing(p=1.0, value=(1, 2))(image)
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        F.erase(_pil(), 0, 0, 1, 1, 0)


def test_conversions_round_trip_and_reprs():
    pil = _pil()
    tensor = T.PILToTensor()(pil)
    assert tensor.dtype == chainrule.uint8 and tuple(tensor.shape) == (3, 10, 13)
    np.testing.assert_array_equal(np.asarray(T.ToPILImage()(tensor)), np.asarray(pil))
    as_float = T.ConvertImageDtype(chainrule.float32)(tensor)
    np.testing.assert_array_equal(T.ConvertImageDtype(chainrule.uint8)(as_float).numpy(),
                                  tensor.numpy())
    assert T.Grayscale(3)(pil).mode == "RGB" and T.Grayscale()(pil).mode == "L"
    assert repr(T.Grayscale()) == "Grayscale(num_output_channels=1)"
    assert repr(T.ToPILImage()) == "ToPILImage()"
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(as_float, chainrule.int64)


def test_existing_transforms_accept_pil_images():
    pil = _pil()
    pipeline = T.Compose([T.RandomHorizontalFlip(1.0), T.Pad(2), T.RandomCrop(9),
                          T.CenterCrop(7), T.RandomRotation(10), T.Resize(5), T.ToTensor()])
    out = pipeline(pil)
    assert tuple(out.shape) == (3, 5, 5) and out.dtype == chainrule.float32
    np.testing.assert_array_equal(np.asarray(F.hflip(pil)), np.asarray(pil)[:, ::-1])


def test_tensor_interpolation_beyond_bilinear_is_refused_not_approximated():
    with pytest.raises(NotImplementedError, match="'bicubic' is available for PIL images only"):
        F.resize(chainrule.zeros(3, 4, 4), [2, 2], F.InterpolationMode.BICUBIC)
    assert F.resize(_pil(), [2, 2], F.InterpolationMode.BICUBIC).size == (2, 2)


def test_weights_transforms_preset_matches_torchvision():
    from chainrule.vision.models import ResNet50_Weights

    preset = ResNet50_Weights.IMAGENET1K_V2.transforms()
    assert (preset.crop_size, preset.resize_size) == ([224], [232])
    stored = STORED["preset"]
    small = type(preset)(crop_size=stored["crop_size"], resize_size=stored["resize_size"])
    out = small(transform_input("pil"))
    np.testing.assert_allclose(out.numpy(), np.array(stored["value"]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("in_size, out_size", [((20, 17), (7, 5)), ((9, 31), (4, 30)),
                                               ((16, 16), (3, 20))])
def test_tensor_resize_antialias_matches_torch(in_size, out_size):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    data = np.random.default_rng(5).random((3, *in_size)).astype(np.float32)
    out = F.resize(chainrule.from_numpy(data), list(out_size))
    expected = torch.nn.functional.interpolate(torch.from_numpy(data)[None], size=out_size,
                                               mode="bilinear", align_corners=False,
                                               antialias=True)[0]
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
