"""Write tests/vision_reference/models.json from torchvision (run once; the file is checked in).

    python tests/vision_reference/make_reference.py

torchvision 0.28's only wheel for this platform is built for CUDA and does not import next to the
CPU build of torch 2.13 (its native library wants libc10_cuda). Its models are plain Python, so
with TORCHVISION_SRC=<unpacked wheel> the script imports them with the native-op registrations
stubbed out; nothing else of torchvision is used.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vision_fixtures import (  # noqa: E402
    MODEL_INPUT_SIZES,
    MODELS_RUN,
    filled_state_dict,
    import_torchvision,
    model_input,
)

torchvision = import_torchvision()
models = torchvision.models


def describe(name: str) -> dict:
    torch.manual_seed(0)
    model = getattr(models, name)()
    state = model.state_dict()
    entry = {
        "keys": [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in state.items()],
        # torchvision's initialisation, summarised: mean and std of every floating-point entry.
        "init": {k: [float(v.float().mean()), float(v.float().std()) if v.numel() > 1 else 0.0]
                 for k, v in state.items() if v.is_floating_point()},
        "repr": repr(model),
    }
    if name in MODELS_RUN:
        shapes = {k: (tuple(v.shape), str(v.dtype).replace("torch.", ""))
                  for k, v in model.state_dict().items()}
        model.load_state_dict({k: torch.from_numpy(v) for k, v in filled_state_dict(shapes).items()})
        x = torch.from_numpy(model_input(MODEL_INPUT_SIZES[name]))
        with torch.no_grad():
            entry["eval"] = model.eval()(x).tolist()
            entry["train"] = model.train()(x).tolist() if "resnet18" == name else None
            if name == "resnet18":
                entry["bn1.running_mean"] = model.bn1.running_mean.tolist()
    return entry


if __name__ == "__main__":
    reference = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                 "models": {name: describe(name) for name in MODEL_INPUT_SIZES}}
    out = Path(__file__).with_name("models.json")
    out.write_text(json.dumps(reference, indent=0) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes)")
