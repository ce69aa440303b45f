"""Seed 001: the lecture's ``trainer`` with early stopping, then the same with ``chainrule.train.fit``.

A small network (Linear, ReLU, Dropout, Linear) fits a noisy 1-D curve with MSE loss and Adam.
Run: ``python examples/seed001_trainer_early_stopping.py [--quick] [--out DIR]`` (writes loss.png into
``runs/seed001_trainer_early_stopping/`` or DIR).
"""

from __future__ import annotations

import argparse
import os

import chainrule as torch
from chainrule.train import fit
from chainrule.utils.data import DataLoader, TensorDataset


class network(torch.nn.Module):  # noqa: N801 - the lecture's name
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.layer1 = torch.nn.Linear(input_size, hidden_size)
        self.relu = torch.nn.ReLU()
        self.dropout = torch.nn.Dropout(0.2)
        self.layer2 = torch.nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.layer2(self.dropout(self.relu(self.layer1(x))))


def trainer(model, criterion, optimizer, trainloader, validloader, epochs=5, patience=5):
    """Simple training wrapper for a network (the lecture's code)."""
    train_loss, valid_loss = [], []
    consec_increases = 0
    for epoch in range(epochs):
        train_batch_loss = 0
        valid_batch_loss = 0
        for X, y in trainloader:
            optimizer.zero_grad()
            y_hat = model(X).flatten()
            loss = criterion(y_hat, y)
            loss.backward()
            optimizer.step()
            train_batch_loss += loss.item()
        train_loss.append(train_batch_loss / len(trainloader))
        with torch.no_grad():
            for X_valid, y_valid in validloader:
                y_hat = model(X_valid).flatten()
                valid_batch_loss += criterion(y_hat, y_valid).item()
        valid_loss.append(valid_batch_loss / len(validloader))
        if epoch > 0 and valid_loss[-1] > valid_loss[-2]:
            consec_increases += 1
        else:
            consec_increases = 0
        if consec_increases == patience:
            print(f"Stopped early at epoch {epoch + 1} - val loss increased for "
                  f"{consec_increases} consecutive epochs!")
            break
    return train_loss, valid_loss


def make_loaders(n: int = 200):
    x = torch.linspace(-3, 3, n).reshape(-1, 1)
    y = torch.sin(x).flatten() + 0.1 * torch.randn(n)
    order = torch.randperm(n)
    train, valid = order[: int(0.8 * n)], order[int(0.8 * n):]
    trainloader = DataLoader(TensorDataset(x[train], y[train]), batch_size=16, shuffle=True)
    validloader = DataLoader(TensorDataset(x[valid], y[valid]), batch_size=64)
    return trainloader, validloader


class Flat(torch.nn.Module):
    """Wraps a model so its (N, 1) output meets (N,) targets, like the trainer's ``.flatten()``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x).flatten()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs, for a smoke test")
    parser.add_argument("--out", default=os.path.join("runs", "seed001_trainer_early_stopping"),
                        help="folder for the figures (default: %(default)s)")
    args = parser.parse_args(argv)
    epochs = 5 if args.quick else 201

    torch.manual_seed(1)
    trainloader, validloader = make_loaders()
    model = network(1, 6, 1)
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    train_loss, valid_loss = trainer(model, criterion, optimizer, trainloader, validloader,
                                     epochs=epochs, patience=3)
    print(f"trainer: {len(train_loss)} epochs, final valid loss {valid_loss[-1]:.4f}")

    torch.manual_seed(1)
    model = network(1, 6, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    history = fit(Flat(model), criterion, optimizer, trainloader, validloader, epochs=epochs,
                  patience=3, metrics=None, progress=False)
    train_loss, valid_loss = history
    print(f"fit: {len(train_loss)} epochs, best epoch {history.best_epoch}, "
          f"best valid loss {min(valid_loss):.4f} (weights restored)")
    try:
        from chainrule.plot import plot_loss

        path = os.path.join(args.out, "loss.png")
        plot_loss(train_loss, valid_loss, path=path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"skipping the plot: {error}")


if __name__ == "__main__":
    main()
