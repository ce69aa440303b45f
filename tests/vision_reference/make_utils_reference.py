"""Write tests/vision_reference/utils.json from torchvision 0.28's make_grid, save_image and
draw_bounding_boxes (run once; the file is checked in). See make_reference.py for
TORCHVISION_SRC, needed where the torchvision wheel cannot import its native library.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vision_fixtures import BOX_CASES, GRID_CASES, box_image, grid_input, import_torchvision  # noqa: E402

utils = import_torchvision().utils


def grid(case: dict) -> dict:
    x = grid_input(case["input"])
    x = [torch.from_numpy(t) for t in x] if isinstance(x, list) else torch.from_numpy(x)
    out = utils.make_grid(x, **case["kwargs"])
    buffer = io.BytesIO()
    utils.save_image(x, buffer, format="png", **case["kwargs"])
    saved = np.asarray(Image.open(buffer))
    return {"grid": out.tolist(), "dtype": str(out.dtype), "saved": saved.tolist()}


def boxes(case: dict) -> list:
    image, corners = box_image(case["dtype"])
    out = utils.draw_bounding_boxes(torch.from_numpy(image), torch.from_numpy(corners),
                                    **case["kwargs"])
    return out.tolist()


if __name__ == "__main__":
    reference = {"grids": [grid(case) for case in GRID_CASES],
                 "boxes": [boxes(case) for case in BOX_CASES]}
    out = Path(__file__).with_name("utils.json")
    out.write_text(json.dumps(reference) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes)")
