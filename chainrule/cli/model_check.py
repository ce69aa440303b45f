"""Check a run's config against the tensor shapes in its weights before building anything, so
an edited config cannot allocate a model the weights could never fill."""

from __future__ import annotations

from chainrule.cli.arguments import UsageError


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def sizes_in_weights(weights: dict, model: str) -> dict:
    """The config sizes a state_dict implies: input_size, hidden and num_classes for the mlp
    (its layers are fc1..fcN then logits), num_classes for the cnn (its last linear layer)."""
    shapes = {key: tuple(value.shape) for key, value in weights.items() if key.endswith(".weight")}
    if not shapes:
        raise ValueError("they hold no weight tensors")
    if model == "cnn":
        return {"num_classes": list(shapes.values())[-1][0]}
    hidden = []
    while f"fc{len(hidden) + 1}.weight" in shapes:
        hidden.append(shapes[f"fc{len(hidden) + 1}.weight"][0])
    if "logits.weight" not in shapes:
        raise ValueError("they have no logits.weight, so they are not an mlp's")
    first = shapes["fc1.weight"] if hidden else shapes["logits.weight"]
    return {"input_size": first[1], "hidden": hidden, "num_classes": shapes["logits.weight"][0]}


def check_config_against_weights(config: dict, weights: dict, config_name: str,
                                 weights_name: str) -> None:
    """UsageError naming both files when ``config`` describes another model than ``weights``."""
    model = config.get("model")
    if model not in ("mlp", "cnn"):
        raise UsageError(f"{config_name}: model must be 'mlp' or 'cnn', got {model!r}")
    try:
        implied = sizes_in_weights(weights, model)
    except (ValueError, IndexError, AttributeError) as error:
        raise UsageError(f"{weights_name} cannot be a {model}'s weights: {error}") from error
    for key, value in implied.items():
        stated = config.get(key)
        valid = (all(_positive_int(v) for v in stated) if isinstance(stated, list)
                 else _positive_int(stated))
        if not valid or stated != value:
            raise UsageError(f"{config_name} does not match {weights_name}: {key} is {stated!r} "
                             f"in the config but {value!r} in the weights")
