"""Full backward hooks: calling ``hook(module, grad_input, grad_output)`` during backward.

A module's forward is a whole subgraph, not one node, so its gradients are
caught at its edges: the inputs and the outputs each pass through an identity
``Function``. Backward reaches the output identity first (there the module's
``grad_output`` is known and the backward pre-hooks run) and the input identity
last (there ``grad_input`` is known and the backward hooks run; what they
return replaces ``grad_input``).
"""

from __future__ import annotations

from chainrule._tensor import Tensor
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import state


class _ModuleEdgeIdentity(Function):
    """Passes its tensors through unchanged; its backward hands the gradients to ``on_backward``."""

    node_name = "BackwardHookFunctionBackward"

    @staticmethod
    def forward(ctx, *tensors, on_backward):
        ctx.on_backward = on_backward
        return tuple(t._data for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return ctx.on_backward(grads)


def _tensors_needing_grad(value) -> list[tuple[tuple, Tensor]]:
    """Positions (as index paths) of the tensors requiring grad inside ``value``."""
    found = []
    if isinstance(value, Tensor):
        if value._requires_grad:
            found.append(((), value))
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            found.extend(((i, *path), t) for path, t in _tensors_needing_grad(item))
    return found


def _replace(value, path: tuple, new):
    if not path:
        return new
    items = list(value)
    items[path[0]] = _replace(items[path[0]], path[1:], new)
    return type(value)(items) if isinstance(value, list) else tuple(items)


def _wrap(value, on_backward):
    """``value`` with every tensor requiring grad routed through one identity node."""
    found = _tensors_needing_grad(value)
    if not found or not state.enabled:
        return value, 0
    outputs = _ModuleEdgeIdentity.apply(*(t for _, t in found), on_backward=on_backward)
    for (path, _), new in zip(found, outputs):
        value = _replace(value, path, new)
    return value, len(found)


class BackwardHook:
    """The per-call state joining a module's output gradients to its input gradients."""

    def __init__(self, module, hooks: list, pre_hooks: list) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0

    def setup_input_hook(self, args: tuple) -> tuple:
        wrapped, self.n_inputs = _wrap(args, self._on_input_grads)
        return wrapped

    def setup_output_hook(self, result):
        wrapped, _ = _wrap(result, self._on_output_grads)
        return wrapped

    def _on_output_grads(self, grads: tuple) -> tuple:
        for hook in self.pre_hooks:
            new = hook(self.module, grads)
            if new is not None:
                grads = tuple(new)
        self.grad_outputs = grads
        if self.n_inputs == 0:
            # No input needs a gradient: the hooks still run, with grad_input all None.
            self._run_hooks((None,))
        return grads

    def _on_input_grads(self, grads: tuple) -> tuple:
        return self._run_hooks(grads)

    def _run_hooks(self, grad_input: tuple) -> tuple:
        for hook in self.hooks:
            new = hook(self.module, grad_input, self.grad_outputs)
            if new is not None:
                new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
                if len(new) != len(grad_input):
                    raise RuntimeError(
                        f"Backward hook returned an invalid number of grad_input, got {len(new)}, "
                        f"but expected {len(grad_input)}")
                grad_input = new
        return grad_input
