"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function`` and grad modes.

>>> import chainrule as torch
>>> x = torch.tensor(3.0, requires_grad=True)
>>> (dy_dx,) = torch.autograd.grad(x ** 2, x, create_graph=True)
>>> dy_dx
tensor(6., grad_fn=<MulBackward0>)
>>> torch.autograd.grad(dy_dx, x)
(tensor(2.),)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainrule._tensor import Tensor, make_tensor
from chainrule.autograd.anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from chainrule.autograd.engine import run_backward
from chainrule.autograd.function import Function, FunctionCtx, Node, once_differentiable
from chainrule.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.autograd.gradcheck import gradcheck, gradgradcheck
from chainrule.autograd.variable import Variable

__all__ = [
    "backward", "grad", "Function", "FunctionCtx", "Node", "once_differentiable", "no_grad",
    "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled", "detect_anomaly",
    "set_detect_anomaly", "is_anomaly_enabled", "gradcheck", "gradgradcheck", "Variable",
]


def _as_tuple(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, Tensor):
        return (value,)
    return tuple(value)


def _roots(outputs: tuple, grad_outputs: tuple, create_graph: bool) -> list:
    """``(node, output_nr, grad)`` for each output: where the backward pass starts."""
    for grad in grad_outputs:
        if grad is not None and not isinstance(grad, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got {type(grad).__name__}")
    if grad_outputs and len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad can be implicitly created only for scalar outputs; got {len(grad_outputs)} "
            f"gradients for {len(outputs)} outputs")
    roots = []
    for i, out in enumerate(outputs):
        grad = _root_grad(i, out, grad_outputs[i] if grad_outputs else None, create_graph)
        roots.append((*_place(out), grad))
    return roots


def _root_grad(i: int, out, grad: Tensor | None, create_graph: bool) -> Tensor:
    """The gradient that starts from output ``i``: ``grad``, or ones for a scalar output."""
    if not isinstance(out, Tensor):
        raise TypeError(f"expected a Tensor as output {i}, got {type(out).__name__}")
    if not out._requires_grad:
        raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    if grad is None:
        if out._data.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return make_tensor(np.array(1, out._data.dtype).reshape(out._data.shape))  # faster than ones_like
    if grad._data.shape != out._data.shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[{i}] has a shape of {grad.shape} and "
            f"output[{i}] has a shape of {out.shape}.")
    return grad if create_graph or not grad._requires_grad else grad.detach()


def _place(t: Tensor) -> tuple:
    """Where ``t``'s gradient arrives: its leaf accumulator or its producer's output slot."""
    return (t._accumulator_node(), 0) if t.grad_fn is None else (t.grad_fn, t._output_nr)


def _capture_map(inputs: tuple) -> dict:
    capture = {}
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected a Tensor as input {i}, got {type(t).__name__}")
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        capture.setdefault(_place(t), i)
    return capture


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves (or of ``inputs``)."""
    outputs = _as_tuple(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _roots(outputs, _as_tuple(grad_tensors), create_graph)
    if inputs is None:
        run_backward(roots, retain_graph, create_graph)
        return
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    capture = _capture_map(inputs)
    captured = run_backward(roots, retain_graph, create_graph, capture=capture)
    for t in inputs:
        g = captured.get(capture[_place(t)])
        if g is None or (t.grad_fn is not None and t._retains_grad):
            continue  # nothing reached it, or its retain_grad hook already stored it
        if not create_graph:
            g = make_tensor(g._data.copy())
        t._grad = g if t._grad is None else t._grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``."""
    outputs = _as_tuple(outputs)
    inputs_tuple = _as_tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    if not inputs_tuple:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    roots = _roots(outputs, _as_tuple(grad_outputs), create_graph)
    capture = _capture_map(inputs_tuple)
    captured = run_backward(roots, retain_graph, create_graph, capture=capture)
    results = []
    for index, t in enumerate(inputs_tuple):
        g = captured.get(capture[_place(t)])
        if g is None:
            if materialize_grads:
                g = make_tensor(np.zeros_like(t._data))
            elif not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {index} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.")
        elif not create_graph and g._requires_grad:
            g = g.detach()
        results.append(g)
    return tuple(results)


def __getattr__(name: str):
    if name == "functional":  # loaded on first use, like torch.autograd.functional
        import importlib

        return importlib.import_module("chainrule.autograd.functional")
    raise AttributeError(f"module 'chainrule.autograd' has no attribute '{name}'")
