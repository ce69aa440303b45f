"""Recording a forward pass: every ``Function.apply`` it makes, with its inputs and outputs.

Ops that call other ops inside their own forward are recorded once, as the outer op (a
``Convolution``, not the NumPy work inside it), so each record maps to one exporter rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chainrule._tensor import Tensor
from chainrule.autograd import function as autograd_function
from chainrule.autograd.grad_mode import no_grad

__all__ = ["Op", "record"]


@dataclass
class Op:
    """One recorded call ``function.apply(*args, **kwargs)`` and the tensors it returned."""

    function: type
    args: tuple
    kwargs: dict
    outputs: tuple = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.function.__name__


def record(forward: Callable[..., Any], args: tuple) -> tuple[list[Op], Any]:
    """Run ``forward(*args)`` without autograd, returning the ops it applied and its result."""
    ops: list[Op] = []

    def hook(function, op_args, op_kwargs):
        autograd_function.trace_hook = None
        try:
            result = function.apply(*op_args, **op_kwargs)
        finally:
            autograd_function.trace_hook = hook
        outputs = result if isinstance(result, tuple) else (result,)
        ops.append(Op(function, op_args, op_kwargs, tuple(o for o in outputs if isinstance(o, Tensor))))
        return result

    if autograd_function.trace_hook is not None:
        raise RuntimeError("torch.onnx.export cannot be called while another export is recording")
    autograd_function.trace_hook = hook
    try:
        with no_grad():
            result = forward(*args)
    finally:
        autograd_function.trace_hook = None
    return ops, result
