"""chainrule.transforms: outputs on NumPy images and tensors, checked against torch ops."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule import transforms as T
from chainrule.transforms import functional as F

torch = pytest.importorskip("torch")


def _image(h=6, w=5, channels=None, seed=0):
    shape = (h, w) if channels is None else (h, w, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("channels", [None, 1, 3])
def test_to_tensor(channels):
    image = _image(channels=channels)
    out = T.ToTensor()(image)
    expected = (image[None] if channels is None else image.transpose(2, 0, 1)) / 255
    assert out.dtype == chainrule.float32 and tuple(out.shape) == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    floats = np.ones((2, 3), np.float64) * 7
    assert T.ToTensor()(floats).dtype == chainrule.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels, mean, std", [(3, (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)),
                                                 (1, (0.5,), (0.5,)),
                                                 (1, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
                                                 (3, 0.5, 0.25)])
def test_normalize(dtype, channels, mean, std):
    data = np.random.default_rng(1).random((channels, 4, 4)).astype(dtype)
    out = T.Normalize(mean, std)(chainrule.tensor(data))
    m = torch.tensor(np.atleast_1d(mean)[:channels], dtype=torch.float64).view(-1, 1, 1)
    s = torch.tensor(np.atleast_1d(std)[:channels], dtype=torch.float64).view(-1, 1, 1)
    expected = ((torch.tensor(data, dtype=torch.float64) - m) / s).numpy()
    assert out.numpy().dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


def test_normalize_inplace_and_errors():
    x = chainrule.ones(3, 2, 2)
    assert T.Normalize((1, 1, 1), (2, 2, 2), inplace=True)(x) is x
    assert float(x.numpy().max()) == 0.0
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.5,), (0.5,))(chainrule.ones(1, 2, 2, dtype=chainrule.int64))
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize((0.5,), (0.0,))(chainrule.ones(1, 2, 2))
    with pytest.raises(RuntimeError, match="number of channels"):
        T.Normalize((0.5, 0.5), (0.5, 0.5))(chainrule.ones(3, 2, 2))


def test_compose_and_lambda():
    pipeline = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2), T.Normalize((1.0,), (1.0,))])
    out = pipeline(np.full((2, 2), 255, np.uint8))
    np.testing.assert_allclose(out.numpy(), np.ones((1, 2, 2)))
    assert "ToTensor()" in repr(pipeline)
    with pytest.raises(TypeError):
        T.Lambda(3)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_flips(as_tensor):
    image = _image()
    img = chainrule.tensor(image[None]) if as_tensor else image
    flipped = T.RandomHorizontalFlip(p=1.0)(img)
    kept = T.RandomHorizontalFlip(p=0.0)(img)
    arr = flipped.numpy() if as_tensor else flipped
    np.testing.assert_array_equal(arr.reshape(image.shape), image[:, ::-1])
    assert kept is img
    vflipped = T.RandomVerticalFlip(p=1.0)(img)
    arr = vflipped.numpy() if as_tensor else vflipped
    np.testing.assert_array_equal(arr.reshape(image.shape), image[::-1])


def test_random_flip_is_random_and_reproducible():
    image = _image()

    def run():
        chainrule.manual_seed(3)
        return [bool((T.RandomHorizontalFlip()(image) != image).any()) for _ in range(40)]

    flags = run()
    assert 5 < sum(flags) < 35 and flags == run()


@pytest.mark.parametrize("mode, torch_mode", [("constant", "constant"), ("edge", "replicate"),
                                              ("reflect", "reflect")])
@pytest.mark.parametrize("padding", [1, (1, 2), (0, 1, 2, 3)])
def test_pad_matches_torch(mode, torch_mode, padding):
    data = np.random.default_rng(0).random((2, 5, 6)).astype(np.float32)
    ltrb = F._padding_ltrb(padding)
    expected = torch.nn.functional.pad(torch.tensor(data)[None], (ltrb[0], ltrb[2], ltrb[1],
                                                                  ltrb[3]), mode=torch_mode)[0]
    out = T.Pad(padding, padding_mode=mode)(chainrule.tensor(data))
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    hwc = T.Pad(padding, padding_mode=mode)(data.transpose(1, 2, 0))
    np.testing.assert_array_equal(hwc.transpose(2, 0, 1), expected.numpy())


@pytest.mark.parametrize("size", [2, (3, 4), (8, 9)])
def test_center_crop(size):
    image = _image(6, 7)
    out = T.CenterCrop(size)(image)
    th, tw = (size, size) if isinstance(size, int) else size
    assert out.shape == (th, tw)
    if th <= 6 and tw <= 7:
        top, left = int(round((6 - th) / 2)), int(round((7 - tw) / 2))
        np.testing.assert_array_equal(out, image[top:top + th, left:left + tw])
    else:
        assert out.sum() == image.sum()


def test_random_crop_with_padding_covers_positions():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4) + 1
    crop = T.RandomCrop(4, padding=2)
    offsets = set()
    for _ in range(200):
        out = crop(image)
        assert out.shape == (4, 4)
        rows, cols = np.nonzero(out)
        offsets.add((int(out[rows[0], cols[0]]),))
        assert set(out[out > 0].tolist()) <= set(image.ravel().tolist())
    assert len(offsets) > 5
    assert T.RandomCrop(6, pad_if_needed=True)(image).shape == (6, 6)
    with pytest.raises(ValueError, match="larger than input"):
        T.RandomCrop(6)(image)
    tensor_crop = T.RandomCrop((2, 3))(chainrule.tensor(image[None].astype(np.float32)))
    assert tuple(tensor_crop.shape) == (1, 2, 3)


@pytest.mark.parametrize("interpolation", [T.InterpolationMode.NEAREST,
                                           T.InterpolationMode.BILINEAR])
@pytest.mark.parametrize("angle, turns", [(90, 1), (180, 2), (-90, 3), (0, 0)])
def test_rotation_by_right_angles_is_rot90(interpolation, angle, turns):
    image = _image(5, 5)
    out = T.RandomRotation((angle, angle), interpolation=interpolation)(image)
    np.testing.assert_array_equal(out, np.rot90(image, turns))
    tensor_out = F.rotate(chainrule.tensor(image[None]), angle, interpolation)
    np.testing.assert_array_equal(tensor_out.numpy()[0], np.rot90(image, turns))


def test_rotation_fill_expand_and_range():
    image = np.full((9, 9), 200, np.uint8)
    out = F.rotate(image, 45, fill=7)
    assert out[0, 0] == 7 and out[4, 4] == 200 and out.dtype == np.uint8
    assert F.rotate(np.ones((4, 6)), 90, expand=True).shape == (6, 4)
    blurred = F.rotate(image.astype(np.float32), 30, T.InterpolationMode.BILINEAR)
    assert 0 <= blurred.min() and blurred.max() <= 200 + 1e-3
    with pytest.raises(ValueError):
        T.RandomRotation(-5)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("size", [(4, 3), (12, 15), (6, 10)])
def test_resize_matches_torch_interpolate(mode, size):
    data = np.random.default_rng(2).random((2, 6, 5)).astype(np.float32)
    for antialias in (False, True):
        out = T.Resize(size, interpolation=T.InterpolationMode(mode),
                       antialias=antialias)(chainrule.tensor(data))
        kwargs = {} if mode == "nearest" else {"align_corners": False, "antialias": antialias}
        expected = torch.nn.functional.interpolate(torch.tensor(data)[None], size=size,
                                                   mode=mode, **kwargs)[0]
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert T.Resize(3)(data.transpose(1, 2, 0)).shape[:2] == (3, 3)
    assert tuple(T.Resize(10)(chainrule.tensor(data)).shape) == (2, 12, 10)


def _torch_rotate(data: np.ndarray, angle: float, mode: str) -> np.ndarray:
    """torchvision's tensor rotation (no fill): an affine grid about the image centre, sampled
    with grid_sample(align_corners=False, zeros outside)."""
    h, w = data.shape[-2:]
    theta = np.radians(angle)
    cos, sin = np.cos(theta), np.sin(theta)
    matrix = torch.tensor([[[cos, -sin * h / w, 0.0], [sin * w / h, cos, 0.0]]], dtype=torch.float64)
    image = torch.tensor(data, dtype=torch.float64)[None]
    grid = torch.nn.functional.affine_grid(matrix, list(image.shape), align_corners=False)
    return torch.nn.functional.grid_sample(image, grid, mode=mode, padding_mode="zeros",
                                           align_corners=False)[0].numpy()


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("angle", [17.3, -41.0, 123.4])
@pytest.mark.parametrize("shape", [(2, 9, 9), (1, 7, 12)])
def test_rotation_matches_torch_grid_sample(interpolation, angle, shape):
    data = np.random.default_rng(3).random(shape)
    expected = _torch_rotate(data, angle, interpolation)
    out = F.rotate(chainrule.tensor(data), angle, T.InterpolationMode(interpolation))
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-9)
    hwc = F.rotate(data.transpose(1, 2, 0), angle, T.InterpolationMode(interpolation))
    np.testing.assert_allclose(hwc.transpose(2, 0, 1), expected, atol=1e-9)


def test_random_rotation_draws_angles_in_range():
    image = np.zeros((9, 9), np.float64)
    image[4, 6:] = 1.0  # a ray pointing right from the centre
    chainrule.manual_seed(0)
    rotation = T.RandomRotation((10, 80))
    for _ in range(20):
        out = rotation(image)
        rows, cols = np.nonzero(out)
        assert (rows <= 4).all() and (cols >= 4).all()  # turned counter-clockwise, by < 90 degrees
    assert T.RandomRotation(30).degrees == [-30.0, 30.0]


def test_random_crop_with_padding_reaches_every_window_of_the_padded_image():
    image = np.arange(1, 17, dtype=np.uint8).reshape(4, 4)
    padded = np.pad(image, 2)
    windows = {padded[t:t + 4, l:l + 4].tobytes(): (t, l) for t in range(5) for l in range(5)}
    chainrule.manual_seed(0)
    seen = {windows[T.RandomCrop(4, padding=2)(image).tobytes()] for _ in range(400)}
    assert seen == set(windows.values())
    ltrb = T.RandomCrop((4, 5), padding=(1, 0, 0, 0))(image)  # left padding only: one window
    np.testing.assert_array_equal(ltrb, np.pad(image, ((0, 0), (1, 0))))
    edge = T.RandomCrop(6, padding=1, padding_mode="edge")(image)
    np.testing.assert_array_equal(edge, np.pad(image, 1, mode="edge"))
