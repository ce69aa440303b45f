"""``torch.autograd.functional``: Jacobians, Hessians and their products with vectors, for a
function of tensors, built from reverse-mode ``autograd.grad`` calls.

>>> import chainrule as torch
>>> from chainrule.autograd.functional import jacobian, hessian
>>> jacobian(lambda x: x ** 2, torch.tensor([1.0, 2.0]))
tensor([[2., 0.],
        [0., 4.]])
>>> hessian(lambda x: (x ** 3).sum(), torch.tensor([1.0, 2.0]))
tensor([[ 6.,  0.],
        [ 0., 12.]])
"""

from __future__ import annotations

from collections.abc import Callable

from chainrule._tensor import Tensor

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _as_tuple(value, what: str) -> tuple[bool, tuple]:
    """``(was_tuple, values)``, checking that each value is a tensor."""
    was_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if was_tuple else (value,)
    for v in values:
        if not isinstance(v, Tensor):
            raise TypeError(f"The {what} given to the function must be either a Tensor or a tuple "
                            f"of Tensors but the value got is {type(v).__name__}.")
    return was_tuple, values


def _prepared(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs that require grad: differentiable views of the originals with ``create_graph``,
    detached copies of their data otherwise."""
    if create_graph:
        return tuple(x if x.requires_grad else x.view_as(x).requires_grad_() for x in inputs)
    return tuple(x.detach().requires_grad_() for x in inputs)


def _grads(outputs: tuple, inputs: tuple, grad_outputs: tuple, create_graph: bool,
           strict: bool) -> tuple:
    """``autograd.grad`` with zeros (or, if ``strict``, an error) for unreachable inputs."""
    from chainrule import autograd, zeros_like

    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        found = (None,) * len(inputs)
    else:
        found = autograd.grad([o for o, _ in pairs], inputs, [g for _, g in pairs],
                              retain_graph=True, create_graph=create_graph, allow_unused=True)
    result = []
    for i, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode.")
            g = zeros_like(x)
        result.append(g if create_graph else g.detach())
    return tuple(result)


def _check_outputs(outputs: tuple, strict: bool) -> None:
    if strict:
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(
                    f"Output {i} of the user-provided function does not require gradients. The "
                    "outputs must be computed in a differentiable manner from the input when "
                    "running in strict mode.")


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output ``i`` and input ``j`` a tensor of shape
    ``outputs[i].shape + inputs[j].shape``, nested as the outputs and inputs are (a tensor for
    one of each). Computed one output element at a time."""
    from chainrule import stack, zeros

    if strategy != "reverse-mode":
        raise NotImplementedError("chainrule's jacobian computes in reverse mode only")
    inputs_tuple, inputs = _as_tuple(inputs, "inputs")
    inputs = _prepared(inputs, create_graph)
    outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function")
    _check_outputs(outputs, strict)
    table = []
    for out in outputs:
        flat = out.reshape(-1)
        rows = [_grads((flat,), inputs, (_basis(flat, k),), create_graph, strict)
                for k in range(flat.numel())]
        table.append(tuple(
            (stack([row[j] for row in rows]) if rows else zeros((0,) + tuple(x.shape)))
            .reshape(tuple(out.shape) + tuple(x.shape)) for j, x in enumerate(inputs)))
    if not outputs_tuple:
        return table[0] if inputs_tuple else table[0][0]
    return tuple(row if inputs_tuple else row[0] for row in table)


def _basis(flat: Tensor, k: int) -> Tensor:
    from chainrule import zeros_like

    unit = zeros_like(flat)
    unit[k] = 1
    return unit


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of the scalar function ``func`` at ``inputs``: the Jacobian of its gradient."""
    inputs_tuple, inputs_values = _as_tuple(inputs, "inputs")

    def gradient(*xs):
        out = func(*xs)
        _, outs = _as_tuple(out, "outputs of the user-provided function")
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "containing a single element")
        _check_outputs(outs, strict)
        return _grads(outs, xs, (None,), True, strict)

    result = jacobian(gradient, inputs_values, create_graph=create_graph, strict=strict)
    return result if inputs_tuple else result[0][0]


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: the output and the vector-Jacobian product."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs")
    inputs = _prepared(inputs, create_graph)
    raw = func(*inputs)
    outputs_tuple, outputs = _as_tuple(raw, "outputs of the user-provided function")
    _check_outputs(outputs, strict)
    vs = _vectors(v, outputs)
    products = _grads(outputs, inputs, vs, create_graph, strict)
    outputs = tuple(o if create_graph else o.detach() for o in outputs)
    return (outputs if outputs_tuple else outputs[0],
            products if inputs_tuple else products[0])


def _vectors(v, like: tuple) -> tuple:
    if v is None:
        if any(t.numel() != 1 for t in like):
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        from chainrule import ones_like

        return tuple(ones_like(t) for t in like)
    _, vs = _as_tuple(v, "v")
    for t, vec in zip(like, vs):
        if tuple(t.shape) != tuple(vec.shape):
            raise RuntimeError(f"The given v should have the same shape as the output: expected "
                               f"{list(t.shape)}, got {list(vec.shape)}")
    return vs


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``, by the double-backward trick: ``J v`` is the gradient of
    ``u^T J`` with respect to ``u``, applied to ``v``."""
    from chainrule import zeros_like

    inputs_tuple, inputs = _as_tuple(inputs, "inputs")
    vs = _vectors(v, inputs)
    inputs = _prepared(inputs, True)
    outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function")
    _check_outputs(outputs, strict)
    dummies = tuple(zeros_like(o).requires_grad_() for o in outputs)
    products = _grads(outputs, inputs, dummies, True, strict)
    jv = _grads(products, dummies, vs, create_graph, strict)
    outputs = tuple(o if create_graph else o.detach() for o in outputs)
    return (outputs if outputs_tuple else outputs[0], jv if outputs_tuple else jv[0])


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)`` for a scalar ``func``."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs")
    vs = _vectors(v, inputs)
    inputs = _prepared(inputs, True)
    _, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function")
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError("The function given to vhp should return a single Tensor with a "
                           "single element")
    _check_outputs(outputs, strict)
    gradient = _grads(outputs, inputs, (None,), True, strict)
    product = _grads(gradient, inputs, vs, create_graph, strict)
    out = outputs[0] if create_graph else outputs[0].detach()
    return out, product if inputs_tuple else product[0]


hvp = vhp  # the Hessian of a scalar function is symmetric: v^T H = (H v)^T
