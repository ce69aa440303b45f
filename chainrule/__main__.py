"""The ``chainrule`` command: ``train`` a classifier, ``evaluate`` a saved run, ``run`` a script.

``chainrule train`` with no arguments trains the seed notes' 784-128-64-10 ReLU network on the
embedded Digits data with a validation split and early stopping, prints the test accuracy and
writes a run folder (weights, CSV log, plots, summary.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

SUMMARY = "summary.json"
WEIGHTS = "model.pt"
STATE = "train_state.pt"


class UsageError(Exception):
    """Bad arguments or unreadable data: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def _hidden_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden expects comma-separated integers, got {text!r}") from None
    if any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _number(text: str, kind: type, accept, expected: str):
    """An argparse type: ``kind(text)`` if ``accept`` holds, else a one-line error."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _fraction(text: str) -> float:
    return _number(text, float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


def _positive_int(text: str) -> int:
    return _number(text, int, lambda v: v > 0, "a positive integer")


def _positive_float(text: str) -> float:
    return _number(text, float, lambda v: v > 0, "a positive number")


def _non_negative_float(text: str) -> float:
    return _number(text, float, lambda v: v >= 0, "a number >= 0")


def build_parser() -> argparse.ArgumentParser:
    from chainrule.train.recipes import ACTIVATIONS

    parser = _Parser(prog="chainrule", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = commands.add_parser("train", help="train a digit classifier and write a run folder")
    train.add_argument("--dataset", default="digits",
                       help="digits (embedded), mnist, fashion-mnist, or a folder of IDX files")
    train.add_argument("--data-root", default=os.environ.get("CHAINRULE_DATA", "data"),
                       help="where mnist/fashion-mnist are stored or downloaded")
    train.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    train.add_argument("--hidden", type=_hidden_sizes, default=[128, 64])
    train.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    train.add_argument("--dropout", type=_fraction, default=0.0)
    train.add_argument("--optimizer", choices=("sgd", "adam", "adamw", "rmsprop"), default="adam")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="default: 0.1 for sgd, 1e-3 otherwise")
    train.add_argument("--weight-decay", type=_non_negative_float, default=0.0)
    train.add_argument("--batch-size", type=_positive_int, default=64)
    train.add_argument("--epochs", type=_positive_int, default=15)
    train.add_argument("--patience", type=_positive_int, default=3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--valid-fraction", type=_fraction, default=0.1)
    train.add_argument("--run-dir", default=None, help="default: runs/<dataset>-<time>")
    train.add_argument("--resume", default=None, metavar="CKPT",
                       help="continue from a run's train_state.pt")
    train.add_argument("--no-progress", action="store_true")
    train.add_argument("--diagnose", action="store_true",
                       help="watch the gradients while training; write grad_flow.png, the "
                            "autograd graph and diagnostics.txt into the run folder")

    evaluate = commands.add_parser("evaluate", help="re-score a saved run on its test set")
    evaluate.add_argument("run_dir")

    run = commands.add_parser("run", help="run a PyTorch script with chainrule standing in for torch")
    run.add_argument("script")
    run.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _make_optimizer(name: str, parameters, lr: float | None, weight_decay: float):
    from chainrule import optim

    if name == "sgd":
        return optim.SGD(parameters, lr=lr or 0.1, momentum=0.9, weight_decay=weight_decay)
    optimizer_class = {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop}[name]
    return optimizer_class(parameters, lr=lr or 1e-3, weight_decay=weight_decay)


def _model_inputs(images, config: dict):
    return images if config["model"] == "cnn" else images.reshape(len(images), -1)


def _save_plots(run_dir: str, history, model, test_images, config: dict) -> list[str]:
    try:
        from chainrule.plot import plot_loss, pyplot, view_classify
        pyplot()
    except ImportError:
        print("note: matplotlib is not installed, skipping plots (pip install matplotlib)",
              file=sys.stderr)
        return []
    import chainrule
    from chainrule.nn import functional

    written = [os.path.join(run_dir, "loss.png")]
    figures = [plot_loss(history.train_loss, history.valid_loss, path=written[0])]
    model.eval()
    with chainrule.no_grad():
        probabilities = functional.softmax(model(_model_inputs(test_images[:3], config)), dim=1)
    for index in range(min(3, len(test_images))):
        path = os.path.join(run_dir, f"classify_{index}.png")
        figures.append(view_classify(test_images[index], probabilities[index], path=path))
        written.append(path)
    import matplotlib.pyplot as plt

    for figure in figures:
        plt.close(figure)
    return written


def _save_diagnostics(run_dir: str, model, criterion, train_set, monitor, config: dict) -> list[str]:
    from chainrule.diagnostics import write_diagnostics
    from chainrule.utils.data import DataLoader

    inputs, targets = next(iter(DataLoader(train_set, batch_size=config["batch_size"])))
    written = write_diagnostics(model, criterion, inputs, targets, run_dir, monitor.findings,
                                title=f"{config['model']} on {config['dataset']}")
    print(f"diagnostics: {len(monitor.findings)} kind(s) of problem reported during training; "
          f"see {written[-1]}")
    return written


def _load_resume_checkpoint(path: str, model, optimizer) -> dict:
    """The checkpoint ``--resume`` names, checked against this run's model and optimizer."""
    import chainrule

    try:
        checkpoint = chainrule.load(path, weights_only=False)
        model.load_state_dict(checkpoint["model"])
        saved_groups = checkpoint["optimizer"]["param_groups"]
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"--resume: cannot continue from {path!r}: {error}") from error
    if [sorted(g) for g in saved_groups] != [sorted(g) for g in optimizer.param_groups]:
        raise UsageError(f"--resume: {path!r} was trained with another optimizer than "
                         f"{type(optimizer).__name__}")
    return checkpoint


def _train(args) -> int:
    import chainrule
    from chainrule import nn
    from chainrule.train import CSVLogger, ModelCheckpoint, evaluate, fit
    from chainrule.train.recipes import build_model, load_images
    from chainrule.utils.data import DataLoader, TensorDataset, random_split

    started = time.perf_counter()
    if args.resume is not None and not os.path.exists(args.resume):
        raise UsageError(f"--resume: no such checkpoint {args.resume!r}")
    chainrule.manual_seed(args.seed)
    try:
        train_images, train_labels = load_images(args.dataset, True, args.data_root)
        test_images, test_labels = load_images(args.dataset, False, args.data_root)
    except (OSError, ValueError, RuntimeError) as error:
        raise UsageError(f"cannot read dataset {args.dataset!r}: {error}") from error
    config = {"dataset": args.dataset, "data_root": args.data_root, "model": args.model,
              "input_size": int(train_images[0].numel()), "hidden": args.hidden,
              "num_classes": int(train_labels.max().item()) + 1, "activation": args.activation,
              "dropout": args.dropout, "optimizer": args.optimizer, "lr": args.lr,
              "weight_decay": args.weight_decay, "batch_size": args.batch_size,
              "epochs": args.epochs, "patience": args.patience, "seed": args.seed,
              "valid_fraction": args.valid_fraction}
    run_dir = args.run_dir or os.path.join("runs", f"{os.path.basename(args.dataset.rstrip('/'))}-"
                                                   f"{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create run folder {run_dir!r}: {error}") from error

    dataset = TensorDataset(_model_inputs(train_images, config), train_labels)
    valid_size = int(round(len(dataset) * args.valid_fraction))
    generator = chainrule.Generator().manual_seed(args.seed)
    train_set, valid_set = random_split(dataset, [len(dataset) - valid_size, valid_size],
                                        generator=generator)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    valid_loader = DataLoader(valid_set, batch_size=256) if valid_size else None
    test_loader = DataLoader(TensorDataset(_model_inputs(test_images, config), test_labels),
                             batch_size=256)

    model = build_model(config)
    optimizer = _make_optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    criterion = nn.CrossEntropyLoss()
    resume = _load_resume_checkpoint(args.resume, model, optimizer) if args.resume else None
    callbacks = [CSVLogger(os.path.join(run_dir, "log.csv"), append=bool(args.resume)),
                 ModelCheckpoint(os.path.join(run_dir, WEIGHTS))]
    monitor = None
    if args.diagnose:
        from chainrule.diagnostics import GradientMonitor

        monitor = GradientMonitor()
        callbacks.append(monitor)
    history = fit(model, criterion, optimizer, train_loader, valid_loader, epochs=args.epochs,
                  patience=args.patience, callbacks=callbacks,
                  progress=not args.no_progress, resume=resume,
                  checkpoint_path=os.path.join(run_dir, STATE))
    # EarlyStopping restored the best weights; save them whatever the checkpoint callback chose.
    chainrule.save(model.state_dict(), os.path.join(run_dir, WEIGHTS))
    scores = evaluate(model, criterion, test_loader)
    plots = _save_plots(run_dir, history, model, test_images, config)
    diagnostics = (_save_diagnostics(run_dir, model, criterion, train_set, monitor, config)
                   if monitor is not None else [])
    summary = {"config": config, "test_loss": scores["loss"], "test_accuracy": scores["accuracy"],
               "epochs_run": len(history), "best_epoch": history.best_epoch,
               "history": history.to_dict(), "plots": [os.path.basename(p) for p in plots],
               "diagnostics": [os.path.basename(p) for p in diagnostics],
               "seconds": time.perf_counter() - started}
    with open(os.path.join(run_dir, SUMMARY), "w") as handle:
        json.dump(summary, handle, indent=2)
    print(f"test accuracy: {scores['accuracy']:.4f} (loss {scores['loss']:.4f}) after "
          f"{len(history)} epochs; run saved to {run_dir}")
    return 0


def _evaluate(args) -> int:
    import chainrule
    from chainrule import nn
    from chainrule.train import evaluate
    from chainrule.train.recipes import build_model, load_images
    from chainrule.utils.data import DataLoader, TensorDataset

    try:
        with open(os.path.join(args.run_dir, SUMMARY)) as handle:
            config = json.load(handle)["config"]
        model = build_model(config)
        model.load_state_dict(chainrule.load(os.path.join(args.run_dir, WEIGHTS)))
        test_images, test_labels = load_images(config["dataset"], False, config["data_root"])
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise UsageError(f"cannot evaluate run {args.run_dir!r}: {error}") from error
    loader = DataLoader(TensorDataset(_model_inputs(test_images, config), test_labels),
                        batch_size=256)
    scores = evaluate(model, nn.CrossEntropyLoss(), loader)
    print(f"test accuracy: {scores['accuracy']:.4f} (loss {scores['loss']:.4f})")
    return 0


def _run(args) -> int:
    if not os.path.isfile(args.script):
        raise UsageError(f"run: no such script {args.script!r}")
    from chainrule._torch_shim import main_run

    result = main_run([args.script, *args.args])
    return result if isinstance(result, int) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code (2 for bad arguments or data)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
            argv = ["train", *argv]  # bare options configure the default command
        args = build_parser().parse_args(argv)
        handler = {"train": _train, "evaluate": _evaluate, "run": _run}[args.command]
        return handler(args)
    except UsageError as error:
        message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        print(f"chainrule: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
