"""Draws the figures that docs/figures.md shows into docs/img/ (about half a minute).

Run: ``python docs/draw_figures.py``. ``grad_flow.png`` comes from
``python examples/vanishing_gradients.py --out docs/img``.
"""

from __future__ import annotations

import os

import chainrule as torch
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.plot import plot_loss, view_classify
from chainrule.train import fit
from chainrule.train.recipes import build_mlp, load_images
from chainrule.utils.data import DataLoader, TensorDataset, random_split

IMG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "img")


def digits_figures() -> None:
    """What ``chainrule train`` draws: the loss curves of the demo network on Digits, and one
    test image it gets wrong, with its true label."""
    torch.manual_seed(0)
    images, labels = load_images("digits", train=True)
    train_set, valid_set = random_split(TensorDataset(images.flatten(1), labels), [5400, 600])
    model = build_mlp()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                  DataLoader(train_set, batch_size=64, shuffle=True),
                  DataLoader(valid_set, batch_size=256), epochs=8, progress=False)
    plot_loss(history.train_loss, history.valid_loss, path=os.path.join(IMG, "loss.png"))

    test_images, test_labels = load_images("digits", train=False)
    model.eval()
    with torch.no_grad():
        probabilities = F.softmax(model(test_images.flatten(1)), dim=1)
    wrong = (probabilities.argmax(1) != test_labels).nonzero()[0].item()
    view_classify(test_images[wrong], probabilities[wrong], label=test_labels[wrong],
                  path=os.path.join(IMG, "classify.png"))


def diverged_loss_figure() -> None:
    """Seed 002's linear model on the raw readings with learning rate 1e-2: each step
    overshoots further until the loss overflows to inf and then becomes NaN."""
    t_c = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0])
    t_u = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4])
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    optimizer = optim.SGD([params], lr=1e-2)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = ((params[0] * t_u + params[1] - t_c) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    plot_loss(losses, path=os.path.join(IMG, "loss_nonfinite.png"))


if __name__ == "__main__":
    digits_figures()
    diverged_loss_figure()
    print(f"wrote loss.png, classify.png and loss_nonfinite.png in {IMG}")
