"""Seed 002: fit ``t_c = w * t_u + b`` three ways and show they agree.

1. gradients written by hand (the chain rule spelled out),
2. the same loop with autograd computing the gradients,
3. ``chainrule.optim.SGD`` doing the update.

Run: ``python examples/seed002_linear_model.py [--quick]``
"""

from __future__ import annotations

import argparse

import chainrule as torch

# Celsius readings and the same temperatures on an unknown scale (Stevens et al., ch. 5).
t_c = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0])
t_u = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4])
t_un = 0.1 * t_u  # rescaled so one learning rate suits both parameters


def model(t_u, w, b):
    return w * t_u + b


def loss_fn(t_p, t_c):
    squared_diffs = (t_p - t_c) ** 2
    return squared_diffs.mean()


def dloss_fn(t_p, t_c):
    return 2 * (t_p - t_c) / t_p.size(0)


def dmodel_dw(t_u, w, b):
    return t_u


def dmodel_db(t_u, w, b):
    return 1.0


def grad_fn(t_u, t_c, t_p, w, b):
    dloss_dtp = dloss_fn(t_p, t_c)
    dloss_dw = dloss_dtp * dmodel_dw(t_u, w, b)
    dloss_db = dloss_dtp * dmodel_db(t_u, w, b)
    return torch.stack([dloss_dw.sum(), dloss_db.sum()])


def training_loop_by_hand(n_epochs, learning_rate, params, t_u, t_c):
    for _ in range(n_epochs):
        w, b = params
        t_p = model(t_u, w, b)
        grad = grad_fn(t_u, t_c, t_p, w, b)
        params = params - learning_rate * grad
    return params


def training_loop_autograd(n_epochs, learning_rate, params, t_u, t_c):
    for _ in range(n_epochs):
        if params.grad is not None:
            params.grad.zero_()
        loss = loss_fn(model(t_u, *params), t_c)
        loss.backward()
        with torch.no_grad():
            params -= learning_rate * params.grad
    return params


def training_loop_optimizer(n_epochs, optimizer, params, t_u, t_c):
    for _ in range(n_epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(t_u, *params), t_c)
        loss.backward()
        optimizer.step()
    return params


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs, for a smoke test")
    args = parser.parse_args(argv)
    n_epochs, learning_rate = (200 if args.quick else 5000), 1e-2

    by_hand = training_loop_by_hand(n_epochs, learning_rate, torch.tensor([1.0, 0.0]), t_un, t_c)
    autograd = training_loop_autograd(n_epochs, learning_rate,
                                      torch.tensor([1.0, 0.0], requires_grad=True), t_un, t_c)
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    optimized = training_loop_optimizer(n_epochs, torch.optim.SGD([params], lr=learning_rate),
                                        params, t_un, t_c)

    print(f"hand-written gradients: w={by_hand[0].item():.4f} b={by_hand[1].item():.4f}")
    print(f"autograd:               w={autograd[0].item():.4f} b={autograd[1].item():.4f}")
    print(f"optim.SGD:              w={optimized[0].item():.4f} b={optimized[1].item():.4f}")
    agree = (torch.allclose(by_hand, autograd.detach(), atol=1e-4)
             and torch.allclose(by_hand, optimized.detach(), atol=1e-4))
    print("all three agree" if agree else "MISMATCH between the three methods")
    print(f"final loss: {loss_fn(model(t_un, *by_hand), t_c).item():.4f}")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
