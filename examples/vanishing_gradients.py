"""Vanishing gradients: see them, name them, cure them.

Four 20-layer networks learn the same small synthetic task (is a point inside a sphere?):

1. a deep sigmoid MLP with default initialisation - its early layers get gradients many
   orders of magnitude smaller than the last layer's, and ``check_gradients`` says so;
2. the same with ReLU and Kaiming (He) initialisation;
3. the sigmoid MLP with batch normalisation before each sigmoid;
4. the sigmoid MLP with skip (residual) connections around each layer.

The diagnostics flag the first and none of the cures; ``grad_flow.png`` shows the gradient
flow of each at initialisation, and training shows which ones actually learn.
Run: ``python examples/vanishing_gradients.py [--quick] [--out DIR]`` (``--quick`` trains for
fewer epochs; ``grad_flow.png`` goes to ``runs/vanishing_gradients/`` or DIR).
"""

from __future__ import annotations

import argparse
import os

import chainrule as torch
from chainrule import nn
from chainrule.diagnostics import GradientMonitor, check_gradients, plot_grad_flow
from chainrule.train import fit
from chainrule.utils.data import DataLoader, TensorDataset

FEATURES, WIDTH = 10, 32


class Residual(nn.Module):
    """``x + layer(x)``: the identity path carries the gradient past the layer untouched."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return x + self.layer(x)


def sigmoid_mlp(depth: int) -> nn.Sequential:
    layers = [nn.Linear(FEATURES, WIDTH), nn.Sigmoid()]
    for _ in range(depth - 2):
        layers += [nn.Linear(WIDTH, WIDTH), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(WIDTH, 2))


def relu_kaiming_mlp(depth: int) -> nn.Sequential:
    layers = [nn.Linear(FEATURES, WIDTH), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Linear(WIDTH, WIDTH), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(WIDTH, 2))
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return model


def batchnorm_sigmoid_mlp(depth: int) -> nn.Sequential:
    layers = [nn.Linear(FEATURES, WIDTH), nn.BatchNorm1d(WIDTH), nn.Sigmoid()]
    for _ in range(depth - 2):
        layers += [nn.Linear(WIDTH, WIDTH), nn.BatchNorm1d(WIDTH), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(WIDTH, 2))


def residual_sigmoid_mlp(depth: int) -> nn.Sequential:
    # Sigmoid before Linear keeps each block's output zero-mean, so x does not drift upwards.
    blocks = [Residual(nn.Sequential(nn.Sigmoid(), nn.Linear(WIDTH, WIDTH)))
              for _ in range(depth - 2)]
    return nn.Sequential(nn.Linear(FEATURES, WIDTH), *blocks, nn.Linear(WIDTH, 2))


MODELS = {
    "deep sigmoid": sigmoid_mlp,
    "ReLU + Kaiming init": relu_kaiming_mlp,
    "sigmoid + batch norm": batchnorm_sigmoid_mlp,
    "sigmoid + skip connections": residual_sigmoid_mlp,
}


def sphere_task(samples: int):
    """Gaussian points in 10-D; label 1 inside the sphere that holds half of them."""
    x = torch.randn(samples, FEATURES)
    median_squared_radius = 9.342  # median of the chi-squared distribution with 10 degrees
    return x, (x.pow(2).sum(dim=1) < median_squared_radius).long()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds' smoke run")
    parser.add_argument("--out", default=os.path.join("runs", "vanishing_gradients"),
                        help="folder for the figures (default: %(default)s)")
    args = parser.parse_args()
    torch.manual_seed(0)
    depth, samples = 20, 2048
    epochs = 8 if args.quick else 30  # 8 already separates the cured networks from the sick one
    x, y = sphere_task(samples)
    train = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    valid = DataLoader(TensorDataset(*sphere_task(samples // 4)), batch_size=256)
    criterion = nn.CrossEntropyLoss()

    from chainrule.plot.figures import pyplot, save_figure

    figure, axes = pyplot().subplots(1, len(MODELS), figsize=(4 * len(MODELS), 4), sharey=True)
    for ax, (title, build) in zip(axes, MODELS.items()):
        model = build(depth)
        criterion(model(x[:256]), y[:256]).backward()  # gradients at initialisation
        findings = check_gradients(model)
        plot_grad_flow(model, ax=ax, title=title)
        if ax is not axes[0]:
            ax.get_legend().remove()  # one legend is enough, and full bars would hide behind it
        model.zero_grad()
        print(f"\n== {title}: {len(findings)} finding(s) at initialisation")
        for finding in findings:
            print(f"  {finding}")
        monitor = GradientMonitor(verbose=False)
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        history = fit(model, criterion, optimizer, train, valid, epochs=epochs, callbacks=[monitor],
                      progress=False)
        kinds = sorted({finding.kind for finding in monitor.findings}) or ["none"]
        print(f"  after {epochs} epochs: validation accuracy {history['val_accuracy'][-1]:.1%}; "
              f"monitor findings during training: {', '.join(kinds)}")
    figure.suptitle(f"Gradient flow at initialisation, {depth}-layer networks (log scale)")
    figure.tight_layout()
    path = os.path.join(args.out, "grad_flow.png")
    save_figure(figure, path)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
