"""What a finished run adds to its folder besides weights and logs: plots and diagnostics."""

from __future__ import annotations

import os
import sys


def model_inputs(images, config: dict):
    """Images as the configured model takes them: (N, 1, H, W) for the cnn, flat for the mlp."""
    return images if config["model"] == "cnn" else images.reshape(len(images), -1)


def pyplot_or_note():
    """matplotlib.pyplot, or None after a note saying what to install to get plots."""
    from chainrule._optional import install_command

    try:
        from chainrule.plot import pyplot
        return pyplot()
    except ImportError:
        print(f"note: matplotlib is not installed, skipping plots (run {install_command('plot')})",
              file=sys.stderr)
        return None


def save_plots(run_dir: str, history, model, test_images, test_labels, config: dict) -> list[str]:
    """loss.png and three classify_<i>.png; none (with a note saying what to install) without
    matplotlib."""
    plt = pyplot_or_note()
    if plt is None:
        return []
    import chainrule
    from chainrule.nn import functional
    from chainrule.plot import plot_loss, view_classify

    written = [os.path.join(run_dir, "loss.png")]
    figures = [plot_loss(history.train_loss, history.valid_loss, path=written[0])]
    model.eval()
    with chainrule.no_grad():
        probabilities = functional.softmax(model(model_inputs(test_images[:3], config)), dim=1)
    for index in range(min(3, len(test_images))):
        path = os.path.join(run_dir, f"classify_{index}.png")
        figures.append(view_classify(test_images[index], probabilities[index], path=path,
                                     label=int(test_labels[index])))
        written.append(path)
    for figure in figures:
        plt.close(figure)
    return written


def save_diagnostics(run_dir: str, model, criterion, train_set, monitor, config: dict) -> list[str]:
    from chainrule.diagnostics import write_diagnostics
    from chainrule.utils.data import DataLoader

    inputs, targets = next(iter(DataLoader(train_set, batch_size=config["batch_size"])))
    written = write_diagnostics(model, criterion, inputs, targets, run_dir, monitor.findings,
                                title=f"{config['model']} on {config['dataset']}")
    print(f"diagnostics: {len(monitor.findings)} kind(s) of problem reported during training; "
          f"see {written[-1]}")
    return written
