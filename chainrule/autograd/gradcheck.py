"""``gradcheck``/``gradgradcheck``: compare backpropagated gradients with finite differences."""

from __future__ import annotations

import warnings

import numpy as np

from chainrule._tensor import Tensor, make_tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical Jacobians disagree."""


def _outputs_tuple(outputs) -> tuple:
    return (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)


def _differentiable_inputs(inputs: tuple) -> list[int]:
    return [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._requires_grad]


def _numerical_jacobian(func, inputs: tuple, index: int, output_sizes, eps: float) -> list:
    from chainrule.autograd.grad_mode import no_grad

    target = inputs[index]
    flat = target._data.reshape(-1)
    columns = [np.zeros((flat.size, size)) for size in output_sizes]
    with no_grad():
        for k in range(flat.size):
            original = flat[k].item()
            flat[k] = original + eps
            plus = [o._data.astype(np.float64).reshape(-1) for o in _outputs_tuple(func(*inputs))]
            flat[k] = original - eps
            minus = [o._data.astype(np.float64).reshape(-1) for o in _outputs_tuple(func(*inputs))]
            flat[k] = original
            for j, (p, m) in enumerate(zip(plus, minus)):
                columns[j][k] = (p - m) / (2 * eps)
    return columns


def _analytical_jacobian(outputs: tuple, inputs: tuple, index: int) -> list:
    from chainrule.autograd import grad

    target = inputs[index]
    jacobians = []
    for out in outputs:
        jac = np.zeros((target._data.size, out._data.size))
        if out._requires_grad:
            for k in range(out._data.size):
                seed = np.zeros(out._data.size, dtype=out._data.dtype)
                seed[k] = 1
                (g,) = grad(out, target, make_tensor(seed.reshape(out._data.shape)),
                            retain_graph=True, allow_unused=True)
                if g is not None:
                    jac[:, k] = g._data.astype(np.float64).reshape(-1)
        jacobians.append(jac)
    return jacobians


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **_ignored) -> bool:
    """Check ``func``'s gradients at ``inputs`` against central finite differences.

    Use float64 inputs with ``requires_grad=True``.

    >>> import chainrule as torch
    >>> x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    >>> torch.autograd.gradcheck(torch.tanh, (x,))
    True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    differentiable = _differentiable_inputs(inputs)
    if not differentiable:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    for index in differentiable:
        if inputs[index]._data.dtype != np.float64:
            warnings.warn(
                f"Input #{index} requires gradient and is not a double precision floating point. "
                "This check will likely fail if all the inputs are not of double precision "
                "floating point. ", UserWarning, stacklevel=2)
    outputs = _outputs_tuple(func(*inputs))
    sizes = [o._data.size for o in outputs]
    for index in differentiable:
        analytical = _analytical_jacobian(outputs, inputs, index)
        numerical = _numerical_jacobian(func, inputs, index, sizes, eps)
        for j, (a, n) in enumerate(zip(analytical, numerical)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {j} with respect to input {index},\n"
                    f"numerical:{n}\nanalytical:{a}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, **_ignored) -> bool:
    """Check second derivatives: gradcheck of the function ``inputs -> grad(func(inputs))``."""
    from chainrule.autograd import grad

    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    outputs = _outputs_tuple(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            make_tensor(rng.standard_normal(o._data.shape).astype(o._data.dtype), True)
            for o in outputs)
    grad_outputs = _outputs_tuple(grad_outputs)
    diff_indices = _differentiable_inputs(inputs)
    count = len(inputs)

    def first_derivatives(*args):
        from chainrule.autograd.grad_mode import enable_grad

        values, cotangents = args[:count], args[count:]
        with enable_grad():  # the numerical Jacobian calls this under no_grad
            outs = _outputs_tuple(func(*values))
            wanted = [values[i] for i in diff_indices]
            grads = grad(outs, wanted, cotangents, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)
