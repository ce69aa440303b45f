"""Check a run's config against the tensor shapes in its weights before building anything, so
an edited config cannot allocate a model the weights could never fill."""

from __future__ import annotations

from chainrule.cli.arguments import UsageError


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


MODELS = ("mlp", "cnn", "gpt")


def _gpt_sizes(shapes: dict) -> dict:
    """vocab_size, n_embd and block_size from the embeddings, n_layer from the blocks h.0..h.N."""
    if "wte.weight" not in shapes or "wpe.weight" not in shapes:
        raise ValueError("they have no wte.weight or wpe.weight, so they are not a gpt's")
    n_layer = 0
    while f"h.{n_layer}.ln_1.weight" in shapes:
        n_layer += 1
    (vocab_size, n_embd), block_size = shapes["wte.weight"], shapes["wpe.weight"][0]
    return {"vocab_size": vocab_size, "n_embd": n_embd, "block_size": block_size,
            "n_layer": n_layer}


def sizes_in_weights(weights: dict, model: str) -> dict:
    """The config sizes a state_dict implies: input_size, hidden and num_classes for the mlp
    (its layers are fc1..fcN then logits), num_classes for the cnn (its last linear layer),
    vocab_size, n_embd, block_size and n_layer for the gpt."""
    shapes = {key: tuple(value.shape) for key, value in weights.items() if key.endswith(".weight")}
    if not shapes:
        raise ValueError("they hold no weight tensors")
    if model == "gpt":
        return _gpt_sizes(shapes)
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
    if model not in MODELS:
        raise UsageError(f"{config_name}: model must be one of {', '.join(map(repr, MODELS))}, "
                         f"got {model!r}")
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
    if model == "gpt":
        _check_gpt_config(config, config_name)


def _check_gpt_config(config: dict, config_name: str) -> None:
    """What the weights cannot say: the heads divide the width, the alphabet fits the embedding."""
    n_head, vocab = config.get("n_head"), config.get("vocab")
    if not _positive_int(n_head) or config["n_embd"] % n_head:
        raise UsageError(f"{config_name}: n_head {n_head!r} does not divide n_embd "
                         f"{config['n_embd']}")
    if not isinstance(vocab, str) or len(vocab) != config["vocab_size"]:
        raise UsageError(f"{config_name}: vocab must be a string of vocab_size "
                         f"({config['vocab_size']}) characters")
