"""chainrule.vision.models against torchvision 0.28: state-dict keys and shapes, reprs,
initialisation statistics, and outputs for identical weights (eval, and train-mode batch norm).

torchvision cannot be imported next to the CPU build of torch here, so the torchvision side is
stored in vision_reference/models.json, written by vision_reference/make_reference.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from vision_fixtures import (
    MODEL_INPUT_SIZES,
    MODELS_RUN,
    filled_state_dict,
    model_input,
)

import chainrule
from chainrule.vision import models
from chainrule.vision.models import vgg

REFERENCE = json.loads((Path(__file__).parent / "vision_reference" / "models.json").read_text())
MODELS = REFERENCE["models"]


def _state_shapes(model) -> dict:
    return {k: (tuple(v.shape), str(v.dtype).replace("torch.", ""))
            for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "alexnet", "mobilenet_v2",
                                  "squeezenet1_0", "vgg16_bn"])
def test_model_matches_torchvision(name):
    """State-dict keys, shapes and dtypes, repr and initialisation statistics; then, for the
    models in MODELS_RUN, outputs for the same weights."""
    reference = MODELS[name]
    chainrule.manual_seed(0)
    model = getattr(models, name)()
    state = model.state_dict()
    assert [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in state.items()] \
        == reference["keys"]
    assert repr(model) == reference["repr"]
    for key, (mean, std) in reference["init"].items():
        values = state[key].numpy().ravel()[:100_000].astype(np.float64)  # enough for statistics
        # Same distributions, different random streams: compare the statistics loosely.
        scale = max(std, 1e-3)
        assert abs(values.mean() - mean) < 0.1 * scale + 5 * std / np.sqrt(values.size), key
        assert abs(values.std(ddof=1 if values.size > 1 else 0) - std) < 0.1 * scale, key
    if name in MODELS_RUN:
        _check_outputs(model, name)


def _check_outputs(model, name):
    weights = filled_state_dict(_state_shapes(model))
    model.load_state_dict({k: chainrule.from_numpy(v) for k, v in weights.items()})
    x = chainrule.from_numpy(model_input(MODEL_INPUT_SIZES[name]))
    expected = np.array(MODELS[name]["eval"], dtype=np.float32)
    with chainrule.no_grad():
        out = model.eval()(x).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    if MODELS[name]["train"] is not None:
        with chainrule.no_grad():
            out = model.train()(x).numpy()
        expected = np.array(MODELS[name]["train"], dtype=np.float32)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
        np.testing.assert_allclose(model.bn1.running_mean.numpy(),
                                   MODELS[name]["bn1.running_mean"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, cfg, batch_norm", [("vgg11", "A", False), ("vgg11_bn", "A", True),
                                                   ("vgg16", "D", False), ("vgg16_bn", "D", True)])
def test_vgg_feature_layers_match_torchvision(name, cfg, batch_norm):
    """The convolutional part of every VGG, without building its 120M-parameter classifier."""
    features = vgg.make_layers(vgg.cfgs[cfg], batch_norm=batch_norm)
    keys = [[f"features.{k}", list(v.shape), str(v.dtype).replace("torch.", "")]
            for k, v in features.state_dict().items()]
    assert keys == [entry for entry in MODELS[name]["keys"] if entry[0].startswith("features.")]
    shown = "\n".join("  " + line for line in repr(features).splitlines())
    assert f"(features): {shown.strip()}" in MODELS[name]["repr"]


@pytest.mark.parametrize("builder, enum, default", [
    (models.resnet18, models.ResNet18_Weights, "IMAGENET1K_V1"),
    (models.resnet50, models.ResNet50_Weights, "IMAGENET1K_V2"),
    (models.mobilenet_v2, models.MobileNet_V2_Weights, "IMAGENET1K_V2"),
    (models.vgg16, models.VGG16_Weights, "IMAGENET1K_V1"),
])
def test_pretrained_weights_refuse_with_instructions(builder, enum, default):
    assert enum.DEFAULT is enum[default]
    assert repr(enum.DEFAULT) == f"{enum.__name__}.{default}"
    assert enum.verify("DEFAULT") is enum.DEFAULT
    with pytest.raises(RuntimeError, match=r"cannot download.*load_state_dict\(chainrule.load"):
        builder(weights=enum.DEFAULT)
    with pytest.raises(RuntimeError, match="cannot download"):
        builder(weights="DEFAULT")
    with pytest.raises(TypeError, match="Invalid Weight class provided; expected"):
        builder(weights=models.AlexNet_Weights.DEFAULT)


def test_weights_metadata_and_num_classes():
    assert models.ResNet18_Weights.IMAGENET1K_V1.meta["num_params"] == 11689512
    assert models.ResNet18_Weights.DEFAULT.url.endswith("resnet18-f37072fd.pth")
    assert models.resnet18(num_classes=7).fc.out_features == 7
    assert models.squeezenet1_0(num_classes=7).classifier[1].out_channels == 7


def test_model_registry_and_categories():
    assert models.list_models() == ["alexnet", "mobilenet_v2", "resnet18", "resnet34", "resnet50",
                                    "squeezenet1_0", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]
    assert models.list_models(include="vgg*", exclude="*_bn") == ["vgg11", "vgg16"]
    assert models.get_model("ResNet18", num_classes=4).fc.out_features == 4
    assert models.get_model_weights("mobilenet_v2") is models.MobileNet_V2_Weights
    assert models.get_model_weights(models.vgg11) is models.VGG11_Weights
    assert models.get_weight("ResNet50_Weights.IMAGENET1K_V1") is \
        models.ResNet50_Weights.IMAGENET1K_V1
    with pytest.raises(ValueError, match="Unknown model resnet1000"):
        models.get_model("resnet1000")
    with pytest.raises(ValueError, match="Invalid weight name provided: 'resnet'"):
        models.get_weight("resnet")
    categories = models.ResNet18_Weights.DEFAULT.meta["categories"]
    assert len(categories) == 1000 and categories[:2] == ["tench", "goldfish"]
    assert categories[-1] == "toilet tissue"
    assert models.VGG16_Weights.IMAGENET1K_FEATURES.meta["categories"] is None
