"""Seed 003: a feed-forward network with Tanh learns the 2-D sinc surface.

Adam, MSE loss, a DataLoader with batch size 200; writes ``loss.png`` (loss per epoch) and
``sinc_panel.png`` (training data, the true function, the network's fit) into
``runs/seed003_sinc_regression/`` (or ``--out DIR``).
Run: ``python examples/seed003_sinc_regression.py [--quick] [--out DIR]``
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.utils.data import DataLoader, Dataset


class FeedForwardNN(nn.Module):
    """A standard feed-forward neural network with a single hidden layer."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_layer = nn.Linear(input_size, hidden_size)
        self.hidden_activation = nn.Tanh()
        self.output_layer = nn.Linear(hidden_size, output_size)
        self.output_activation = nn.Tanh()

    def forward(self, x):
        return self.output_activation(self.output_layer(self.hidden_activation(self.hidden_layer(x))))


def sinc_function(x1, x2):
    r = np.sqrt(x1**2 + x2**2)
    return np.sin(r) / r


class NumpyDataset(Dataset):
    def __init__(self, data_x, data_y):
        self.data_x = torch.tensor(data_x, dtype=torch.float32)
        self.data_y = torch.tensor(data_y, dtype=torch.float32)

    def __len__(self):
        return len(self.data_x)

    def __getitem__(self, idx):
        return self.data_x[idx], self.data_y[idx]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs, for a smoke test")
    parser.add_argument("--out", default=os.path.join("runs", "seed003_sinc_regression"),
                        help="folder for the figures (default: %(default)s)")
    args = parser.parse_args(argv)
    n_epochs = 3 if args.quick else 400

    torch.manual_seed(0)
    grid_pts = np.linspace(-10, 10, 50)
    X1, X2 = np.meshgrid(grid_pts, grid_pts)
    data_x = np.array([X1.flatten(), X2.flatten()]).T
    data_y = sinc_function(data_x[:, 0], data_x[:, 1]).reshape(-1, 1)
    mean, std = data_x.mean(axis=0), data_x.std(axis=0)  # what sklearn's StandardScaler does
    data_z = (data_x - mean) / std

    data_loader = DataLoader(NumpyDataset(data_z, data_y), batch_size=200, shuffle=True)
    model = FeedForwardNN(2, 80, 1)
    loss_function = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    loss_history = []
    for _ in range(n_epochs):
        epoch_losses = []
        for z_batch, y_batch in data_loader:
            optimizer.zero_grad()
            loss = loss_function(model(z_batch), y_batch)
            epoch_losses.append(loss.item())
            loss.backward()
            optimizer.step()
        loss_history.append(np.mean(epoch_losses))
    print(f"{n_epochs} epochs, final loss {loss_history[-1]:.5f}")

    eval_pts = np.linspace(-10, 10, 100)
    eval_X1, eval_X2 = np.meshgrid(eval_pts, eval_pts)
    eval_z = (np.array([eval_X1.flatten(), eval_X2.flatten()]).T - mean) / std
    with torch.no_grad():
        model_yhat = model(torch.tensor(eval_z, dtype=torch.float32)).numpy().reshape(eval_X1.shape)

    from chainrule.plot import plot_loss, plot_regression_panel

    try:  # matplotlib is optional; the plots say how to install it
        plot_loss(loss_history, path=os.path.join(args.out, "loss.png"))
        plot_regression_panel(data_x, data_y, sinc_function, model_yhat, eval_X1, eval_X2,
                              path=os.path.join(args.out, "sinc_panel.png"))
        print(f"wrote loss.png and sinc_panel.png in {args.out}")
    except ImportError as error:
        print(f"skipping the plots: {error}")


if __name__ == "__main__":
    main()
