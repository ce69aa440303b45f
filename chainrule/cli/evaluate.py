"""``chainrule evaluate RUN_DIR``: re-score a saved run on its test set (a gpt run: on its
validation split)."""

from __future__ import annotations

import os

from chainrule.cli.arguments import UsageError
from chainrule.cli.model_check import check_config_against_weights
from chainrule.cli.outputs import model_inputs
from chainrule.cli.run_folder import SUMMARY, WEIGHTS, read_json


def evaluate(args) -> int:
    import chainrule
    from chainrule import nn
    from chainrule.train import evaluate as score
    from chainrule.train.recipes import build_model, load_images
    from chainrule.utils.data import DataLoader, TensorDataset

    summary_path = os.path.join(args.run_dir, SUMMARY)
    weights_path = os.path.join(args.run_dir, WEIGHTS)
    try:
        config = read_json(summary_path)["config"]
        weights = chainrule.load(weights_path)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise UsageError(f"cannot evaluate run {args.run_dir!r}: {error}") from error
    if not isinstance(config, dict) or not isinstance(weights, dict):
        raise UsageError(f"cannot evaluate run {args.run_dir!r}: {summary_path} has no config "
                         f"or {weights_path} is not a state_dict")
    # Sizes first: building the model an edited config describes could exhaust memory.
    check_config_against_weights(config, weights, summary_path, weights_path)
    if config["model"] == "gpt":
        return _evaluate_gpt(args.run_dir, config, weights)
    try:
        model = build_model(config)
        model.load_state_dict(weights)
        test_images, test_labels = load_images(config["dataset"], False, config["data_root"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise UsageError(f"cannot evaluate run {args.run_dir!r}: {error}") from error
    loader = DataLoader(TensorDataset(model_inputs(test_images, config), test_labels),
                        batch_size=256)
    scores = score(model, nn.CrossEntropyLoss(), loader)
    print(f"test accuracy: {scores['accuracy']:.4f} (loss {scores['loss']:.4f})")
    return 0


def _evaluate_gpt(run_dir: str, config: dict, weights: dict) -> int:
    """Print the exact validation loss of a gpt run, on the text it was trained on."""
    import chainrule
    from chainrule.cli.data import load_text, text_fingerprint
    from chainrule.cli.train_gpt import build_gpt, text_splits
    from chainrule.train.gpt import validation_loss

    try:
        text = load_text(config["data"])
        if text_fingerprint(text) != config.get("data_sha256"):
            raise ValueError(f"{config['data']} changed since the run was trained (its SHA-256 "
                             f"differs)")
        _, val_codes = text_splits(config, text)
        model = build_gpt(config)
        model.load_state_dict(weights)
    except (UsageError, OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise UsageError(f"cannot evaluate run {run_dir!r}: {error}") from error
    loss = validation_loss(chainrule, model, val_codes, config["block_size"])
    print(f"validation loss: {loss:.4f}")
    return 0
