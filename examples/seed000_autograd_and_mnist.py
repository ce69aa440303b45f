"""Seed 000: a tour of autograd, then training the seed's MLP on handwritten digits.

Part 1 follows ``x ** 2`` (``PowBackward0``) through ``mean`` and ``backward`` and checks
``x.grad == x / 2``. Part 2 builds ``nn.Sequential(OrderedDict(fc1, relu1, fc2, relu2, logits))``,
trains it with SGD on the embedded Digits images (28x28, like MNIST) and draws one prediction
with ``view_classify`` (``classify.png``, titled with the true label).
Run: ``python examples/seed000_autograd_and_mnist.py [--quick] [--out runs/seed000_autograd_and_mnist]``
"""

from __future__ import annotations

import argparse
import os
from collections import OrderedDict

import chainrule as torch
import chainrule.nn.functional as F
from chainrule import datasets, nn, optim, transforms


def autograd_tour() -> None:
    x = torch.randn(2, 2, requires_grad=True)
    print(x)
    y = x**2
    print(y)
    print(y.grad_fn)  # the operation that created y: PowBackward0
    z = y.mean()
    print(z)
    print(x.grad)  # None: nothing has been differentiated yet
    z.backward()
    print(x.grad)
    print(x / 2)
    assert torch.allclose(x.grad, x.detach() / 2)


def train_digits(epochs: int, max_batches: int | None, out: str) -> None:
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    trainset = datasets.Digits(train=True, transform=transform)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=64, shuffle=True)

    input_size, hidden_sizes, output_size = 784, [128, 64], 10
    model = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(input_size, hidden_sizes[0])),
        ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(hidden_sizes[0], hidden_sizes[1])),
        ("relu2", nn.ReLU()),
        ("logits", nn.Linear(hidden_sizes[1], output_size))]))
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.03)

    print_every, steps = 40, 0
    for e in range(epochs):
        running_loss = 0
        for batch, (images, labels) in enumerate(trainloader):
            if max_batches is not None and batch >= max_batches:
                break
            steps += 1
            images = images.view(images.size()[0], 784)  # flatten 1x28x28 images
            optimizer.zero_grad()
            loss = criterion(model.forward(images), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if steps % print_every == 0:
                print(f"Epoch: {e + 1}/{epochs}...  Loss: {running_loss / print_every:.4f}")
                running_loss = 0

    images, labels = next(iter(trainloader))
    img = images[0].view(1, 784)
    with torch.no_grad():
        logits = model.forward(img)
    ps = F.softmax(logits, dim=1)
    print(f"label {labels[0].item()}, predicted {ps.argmax().item()}")
    from chainrule.plot import view_classify

    path = os.path.join(out, "classify.png")
    try:  # matplotlib is optional
        view_classify(img.view(1, 28, 28), ps, path=path, label=labels[0])
        print(f"wrote {path}")
    except ImportError as error:
        print(f"skipping the plot: {error}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few batches, for a smoke test")
    parser.add_argument("--out", default=os.path.join("runs", "seed000_autograd_and_mnist"),
                        help="folder for the figures (default: %(default)s)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    autograd_tour()
    train_digits(epochs=1 if args.quick else 3, max_batches=5 if args.quick else None,
                 out=args.out)


if __name__ == "__main__":
    main()
