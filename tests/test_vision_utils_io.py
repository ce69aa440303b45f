"""chainrule.vision.utils against stored torchvision 0.28 outputs (vision_reference/utils.json,
written by make_utils_reference.py), and chainrule.vision.io against Pillow's own decoding."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from vision_fixtures import BOX_CASES, GRID_CASES, box_image, grid_input

import chainrule
from chainrule.vision import io as vio
from chainrule.vision import utils

Image = pytest.importorskip("PIL.Image", reason="Pillow (the 'images' extra) is not installed")
REFERENCE = json.loads((Path(__file__).parent / "vision_reference" / "utils.json").read_text())


def _as_chainrule(images):
    if isinstance(images, list):
        return [chainrule.from_numpy(t) for t in images]
    return chainrule.from_numpy(images)


@pytest.mark.parametrize("index", range(len(GRID_CASES)))
def test_make_grid_and_save_image_match_torchvision(index, tmp_path):
    case, expected = GRID_CASES[index], REFERENCE["grids"][index]
    images = _as_chainrule(grid_input(case["input"]))
    grid = utils.make_grid(images, **case["kwargs"])
    assert str(grid.dtype) == expected["dtype"]
    np.testing.assert_allclose(grid.numpy(), np.array(expected["grid"], dtype=np.float32),
                               rtol=1e-6, atol=1e-7)
    path = tmp_path / "grid.png"
    utils.save_image(images, path, **case["kwargs"])
    np.testing.assert_array_equal(np.asarray(Image.open(path)), np.array(expected["saved"]))


def test_make_grid_errors():
    with pytest.raises(TypeError, match="tensor or list of tensors expected"):
        utils.make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        utils.make_grid(chainrule.zeros(2, 3, 4, 4), normalize=True, value_range=[0, 1])


@pytest.mark.parametrize("index", range(len(BOX_CASES)))
def test_draw_bounding_boxes_matches_torchvision(index):
    case = BOX_CASES[index]
    image, corners = box_image(case["dtype"])
    out = utils.draw_bounding_boxes(chainrule.from_numpy(image), chainrule.from_numpy(corners),
                                    **case["kwargs"])
    assert str(out.dtype) == f"torch.{case['dtype']}"
    np.testing.assert_allclose(out.numpy(), np.array(REFERENCE["boxes"][index]), rtol=1e-6)


def test_draw_bounding_boxes_errors():
    image = chainrule.zeros(3, 8, 8, dtype=chainrule.uint8)
    with pytest.raises(ValueError, match="Boxes need to be in"):
        utils.draw_bounding_boxes(image, chainrule.tensor([[5.0, 0, 1, 4]]))
    with pytest.raises(ValueError, match="Pass individual images"):
        utils.draw_bounding_boxes(image[None], chainrule.tensor([[0.0, 0, 1, 4]]))
    with pytest.raises(ValueError, match=r"Number of boxes \(1\) and labels \(2\) mismatch"):
        utils.draw_bounding_boxes(image, chainrule.tensor([[0.0, 0, 1, 4]]), labels=["a", "b"])


def _png_bytes(array: np.ndarray, **info) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **info)
    return buffer.getvalue()


@pytest.mark.parametrize("mode, channels, pil_mode", [
    (vio.ImageReadMode.UNCHANGED, 4, "RGBA"), (vio.ImageReadMode.GRAY, 1, "L"),
    ("GRAY_ALPHA", 2, "LA"), (vio.ImageReadMode.RGB, 3, "RGB"), ("RGBA", 4, "RGBA")])
def test_read_image_modes(tmp_path, mode, channels, pil_mode):
    rgba = np.random.default_rng(0).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    path = tmp_path / "image.png"
    path.write_bytes(_png_bytes(rgba))
    image = vio.read_image(str(path), mode)
    assert image.dtype == chainrule.uint8 and tuple(image.shape) == (channels, 5, 7)
    expected = np.asarray(Image.fromarray(rgba).convert(pil_mode)).reshape(5, 7, channels)
    np.testing.assert_array_equal(image.numpy(), expected.transpose(2, 0, 1))
    np.testing.assert_array_equal(vio.decode_image(vio.read_file(path), mode).numpy(),
                                  image.numpy())


def test_palette_png_decodes_to_rgb(tmp_path):
    palette = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4) * 20).convert("P")
    path = tmp_path / "p.png"
    palette.save(path)
    image = vio.read_image(path)
    assert tuple(image.shape) == (3, 3, 4)


@pytest.mark.parametrize("channels", [1, 3])
def test_write_png_round_trip(tmp_path, channels):
    image = chainrule.from_numpy(np.random.default_rng(1).integers(
        0, 256, (channels, 6, 9), dtype=np.uint8))
    vio.write_png(image, tmp_path / "out.png", compression_level=9)
    np.testing.assert_array_equal(vio.read_image(tmp_path / "out.png").numpy(), image.numpy())
    assert not [p for p in tmp_path.iterdir() if p.name != "out.png"]  # no temporary left


def test_io_errors(tmp_path):
    with pytest.raises(RuntimeError, match="Input tensor dtype should be uint8"):
        vio.encode_png(chainrule.zeros(3, 2, 2))
    with pytest.raises(RuntimeError, match="Compression level should be between 0 and 9"):
        vio.encode_png(chainrule.zeros(3, 2, 2, dtype=chainrule.uint8), compression_level=10)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(RuntimeError, match="Unsupported image file"):
        vio.read_image(tmp_path / "bad.png")


def test_save_image_to_a_path_is_atomic_and_names_an_unknown_extension(tmp_path, monkeypatch):
    path = tmp_path / "grid.png"
    path.write_bytes(b"old picture")

    def write_half_then_fail(image, fp, filename):
        fp.write(b"half a picture")
        raise OSError("disk full")

    Image.init()  # registers Pillow's own PNG writer first, so it does not replace this one
    monkeypatch.setitem(Image.SAVE, "PNG", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        utils.save_image(chainrule.zeros(3, 2, 2), path)
    assert path.read_bytes() == b"old picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]
    with pytest.raises(ValueError, match="unknown file extension: .xyz"):
        utils.save_image(chainrule.zeros(3, 2, 2), tmp_path / "grid.xyz")
    assert not (tmp_path / "grid.xyz").exists()
