"""``chainrule train --model gpt``: train nanoGPT's character-level model on a text file and
leave a run folder (config.json, model.pt, log.csv, loss.png, samples.txt, summary.json)."""

from __future__ import annotations

import math
import os
import sys
import time

from chainrule.cli.arguments import UsageError
from chainrule.cli.data import load_text, text_fingerprint
from chainrule.cli.outputs import pyplot_or_note
from chainrule.cli.run_folder import CONFIG, LOG, SAMPLES, SUMMARY, WEIGHTS
from chainrule.cli.train import EXIT_DIVERGED, EXIT_INTERRUPTED, Writer, prepare_folder

PLOT = "loss.png"
EVAL_BATCHES = 20  # random batches per validation estimate during training
SAMPLE_LENGTH = 500  # characters written into samples.txt
BETAS = (0.9, 0.99)


def gpt_config(args, text: str, chars: list[str]) -> dict:
    """Every setting the run uses, as config.json records it."""
    return {"model": "gpt", "data": os.path.abspath(args.data), "data_sha256": text_fingerprint(text),
            "vocab": "".join(chars), "vocab_size": len(chars), "block_size": args.block_size,
            "n_layer": args.n_layer, "n_head": args.n_head, "n_embd": args.n_embd,
            "dropout": args.dropout, "optimizer": "adamw", "lr": args.lr or 1e-3,
            "weight_decay": args.weight_decay, "betas": list(BETAS),
            "batch_size": args.batch_size, "max_steps": args.max_steps,
            "eval_interval": args.eval_interval, "eval_batches": EVAL_BATCHES, "seed": args.seed,
            "valid_fraction": args.valid_fraction, "sample_length": SAMPLE_LENGTH}


def text_splits(config: dict, text: str):
    """``(train, val)`` character codes of ``text`` in the run's alphabet, each checked to hold
    a window of ``block_size + 1`` characters."""
    from chainrule.train.gpt import char_splits

    try:
        train, val, _ = char_splits(text, config["valid_fraction"], chars=list(config["vocab"]))
    except ValueError as error:
        raise UsageError(f"--data {config['data']!r}: {error}") from error
    for name, codes in (("training", train), ("validation", val)):
        if len(codes) < config["block_size"] + 2:
            raise UsageError(f"--data {config['data']!r}: its {name} split has {len(codes)} "
                             f"characters (of {len(text)}, --valid-fraction "
                             f"{config['valid_fraction']}), fewer than --block-size "
                             f"{config['block_size']} + 2")
    return train, val


def build_gpt(config: dict):
    import chainrule
    from chainrule.train.gpt import gpt_model

    return gpt_model(chainrule, config["vocab_size"], block_size=config["block_size"],
                     n_layer=config["n_layer"], n_head=config["n_head"], n_embd=config["n_embd"],
                     dropout=config["dropout"])


def train_gpt(args) -> int:
    import numpy as np

    import chainrule
    from chainrule.train.gpt import SHAKESPEARE, validation_loss

    started = time.perf_counter()
    args.data = args.data or SHAKESPEARE
    text = load_text(args.data)
    config = gpt_config(args, text, sorted(set(text)))
    train_codes, val_codes = text_splits(config, text)
    chainrule.manual_seed(config["seed"])
    rng = np.random.default_rng(config["seed"])
    model = build_gpt(config)
    optimizer = chainrule.optim.AdamW(model.parameters(), lr=config["lr"],
                                      weight_decay=config["weight_decay"], betas=BETAS)
    stem = os.path.splitext(os.path.basename(config["data"]))[0]
    write = Writer(prepare_folder(args, f"gpt-{stem}"))
    write.json(CONFIG, config)
    print(f"gpt: {sum(p.numel() for p in model.parameters()):,} parameters, {len(config['vocab'])} "
          f"characters, {len(train_codes):,} training and {len(val_codes):,} validation "
          f"characters, {config['max_steps']} steps", flush=True)
    history: dict = {"step": [], "train_loss": [], "val_loss": []}
    try:
        _train_steps(model, optimizer, config, (train_codes, val_codes), rng, history, write)
    except FloatingPointError as error:
        write.json(SUMMARY, _summary(config, history, "diverged", started, diverged=str(error)))
        print(f"chainrule: error: {error}; no weights were saved", file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt:
        write.weights(model)
        write.json(SUMMARY, _summary(config, history, "interrupted", started))
        print(f"chainrule: interrupted after {history['step'][-1] if history['step'] else 0} "
              f"steps; gpt runs cannot be resumed, the weights so far are in "
              f"{os.path.join(write.folder, WEIGHTS)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    write.weights(model)
    val_loss = validation_loss(chainrule, model, val_codes, config["block_size"])
    write.text(SAMPLES, _sample(model, config) + "\n")
    plots = write.files(lambda: _save_plot(write.folder, history, config))
    write.json(SUMMARY, _summary(config, history, "finished", started, val_loss, plots))
    print(f"validation loss: {val_loss:.4f} after {config['max_steps']} steps")
    print(f"run saved to {write.folder}: {', '.join(sorted(os.listdir(write.folder)))}")
    return 0


def _train_steps(model, optimizer, config: dict, splits, rng, history: dict, write) -> None:
    """The training loop; a validation estimate, a log.csv row and a progress line every
    ``eval_interval`` steps and after the last. A NaN or infinite loss raises FloatingPointError."""
    import chainrule
    from chainrule.train.gpt import estimate_loss, random_batch

    train_codes, val_codes = splits
    batch_size, block_size, steps = config["batch_size"], config["block_size"], config["max_steps"]
    started = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = map(chainrule.from_numpy, random_batch(train_codes, batch_size, block_size, rng))
        _, loss = model(x, y)
        train_loss = loss.item()
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"training diverged: the loss is {train_loss} at step {step}; "
                                     f"lower the learning rate (lr={config['lr']:g})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % config["eval_interval"] and step != steps:
            continue
        val_loss = estimate_loss(chainrule, model, val_codes, config["eval_batches"], batch_size,
                                 block_size, rng)
        for key, value in (("step", step), ("train_loss", train_loss), ("val_loss", val_loss)):
            history[key].append(value)
        rows = zip(history["step"], history["train_loss"], history["val_loss"])
        write.text(LOG, "step,train_loss,val_loss\n" +
                    "".join(f"{s},{t!r},{v!r}\n" for s, t, v in rows))
        print(f"step {step}/{steps}: train loss {train_loss:.4f}, val loss {val_loss:.4f} "
              f"({time.perf_counter() - started:.1f}s)", flush=True)


def _sample(model, config: dict) -> str:
    import chainrule

    start = chainrule.zeros((1, 1), dtype=chainrule.long)
    codes = model.eval().generate(start, config["sample_length"])[0].tolist()
    return "".join(config["vocab"][code] for code in codes)


def _save_plot(folder: str, history: dict, config: dict) -> list[str]:
    """loss.png; none (with a note saying what to install) without matplotlib."""
    plt = pyplot_or_note()
    if plt is None:
        return []
    from chainrule.plot import plot_loss
    from chainrule.plot.figures import save_figure

    figure = plot_loss(history["train_loss"], history["val_loss"])
    figure.axes[0].set_xlabel(f"Evaluation (every {config['eval_interval']} steps)")
    path = os.path.join(folder, PLOT)
    save_figure(figure, path)
    plt.close(figure)
    return [path]


def _summary(config: dict, history: dict, status: str, started: float, val_loss=None,
             plots=(), diverged: str | None = None) -> dict:
    return {"status": status, "config": config, "val_loss": val_loss,
            "steps_run": history["step"][-1] if history["step"] else 0,
            "history": history, "samples": SAMPLES if status == "finished" else None,
            "plots": [os.path.basename(path) for path in plots], "diverged": diverged,
            "seconds": time.perf_counter() - started}
