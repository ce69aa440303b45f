"""Write tests/vision_reference/transforms.json from torchvision 0.28's transforms.functional
(run once; the file is checked in). See make_reference.py for TORCHVISION_SRC."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vision_fixtures import (  # noqa: E402
    TRANSFORM_CASES,
    import_torchvision,
    resolve_transform_kwargs,
    transform_input,
)

F = import_torchvision().transforms.functional


def run(name: str, kind: str, kwargs: dict):
    kwargs = resolve_transform_kwargs(kwargs, F.InterpolationMode, torch)
    image = transform_input(kind)
    if kind != "pil":
        image = torch.from_numpy(image)
    out = getattr(F, name)(image, **kwargs)
    if isinstance(out, torch.Tensor):
        return {"kind": "tensor", "dtype": str(out.dtype), "value": out.tolist()}
    return {"kind": "pil", "mode": out.mode, "value": np.asarray(out).tolist()}


if __name__ == "__main__":
    from torchvision.transforms._presets import ImageClassification

    preset = ImageClassification(crop_size=8, resize_size=10)(transform_input("pil"))
    reference = {"cases": [run(*case) for case in TRANSFORM_CASES],
                 "preset": {"crop_size": 8, "resize_size": 10, "value": preset.tolist()}}
    out = Path(__file__).with_name("transforms.json")
    out.write_text(json.dumps(reference) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes)")
