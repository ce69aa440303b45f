"""Making tensors: from data (``tensor``, ``from_numpy``), filled (``zeros``, ``full``, ``arange``,
...), random (``rand``, ``randn``, ...), and the in-place initialisers (``uniform_``, ``fill_``)."""

from __future__ import annotations

import numpy as np

from chainrule._device import check_device
from chainrule._dtype import (
    _BY_NUMPY,
    _scalar_dtype,
    from_numpy_dtype,
    get_default_dtype,
    is_floating_numpy,
    promote_types,
    to_dtype,
)
from chainrule._ops._util import shape_from_args as _shape_from_args
from chainrule._ops._util import tensor_method
from chainrule._random import Generator, rng_of
from chainrule._tensor import Tensor, make_tensor, to_array
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import state

__all__ = [
    "tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty", "zeros_like",
    "ones_like", "full_like", "empty_like", "arange", "linspace", "logspace", "eye", "rand",
    "randn", "randint", "randperm", "normal", "rand_like", "randn_like", "randint_like",
    "bernoulli", "multinomial", "scalar_tensor",
]


def _finish(array: np.ndarray, requires_grad: bool, device=None, out: Tensor | None = None) -> Tensor:
    check_device(device)
    t = make_tensor(array)
    if out is not None:
        from chainrule._ops.inplace import maybe_out

        return maybe_out(t, out)
    if requires_grad:
        if not is_floating_numpy(array.dtype):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t._requires_grad = True
    return t


def _dtype_for(dtype, out: Tensor | None):
    """A factory's dtype: ``dtype``, else ``out``'s when there is an ``out`` (PyTorch's rule)."""
    if out is None:
        return dtype
    if dtype is not None and to_dtype(dtype) is not out.dtype:
        raise RuntimeError(f"dtype {_scalar_type(to_dtype(dtype))} does not match dtype of out "
                           f"parameter ({_scalar_type(out.dtype)})")
    return out.dtype


def _floating(dt: np.dtype, kernel: str) -> np.dtype:
    """``dt`` if it is a float type; else PyTorch's error for its random ``kernel``."""
    if not is_floating_numpy(dt):
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{_scalar_type(to_dtype(dt))}'")
    return dt


def _scalar_type(dt) -> str:
    """PyTorch's C++ name of a dtype: ``Float`` for float32, ``Long`` for int64."""
    from chainrule._tensor_str import _TYPE_NAMES

    return _TYPE_NAMES[dt.name].removesuffix("Tensor")


def shape_from_args(args) -> tuple[int, ...]:
    """The shape of a new tensor, given as ``f(2, 3)``, ``f((2, 3))`` or a ``Size``."""
    shape = _shape_from_args(args)
    for size in shape:
        if size < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {size}: {list(shape)}")
    return shape


def _numpy_dtype(dtype, default=None) -> np.dtype:
    if dtype is None:
        return (default or get_default_dtype()).numpy
    return to_dtype(dtype).numpy


def _infer_array(data, dtype_follows: bool = False) -> np.ndarray:
    """PyTorch's dtype inference: Python floats -> default float, ints -> int64, bools -> bool.

    With ``dtype_follows`` (the caller casts to a dtype it was given) Python floats stay float64:
    PyTorch converts each number straight to that dtype, never through the default float."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, np.ndarray):
        if data.dtype not in _BY_NUMPY:
            from_numpy_dtype(data.dtype)
        return data.copy()
    numbers = list(_flat(data)) if isinstance(data, (list, tuple)) else [data]
    # One walk over the data; each check below then looks at the few distinct element types.
    types = set(map(type, numbers))
    if any(issubclass(t, Tensor) for t in types):
        data = _tensors_to_lists(data)
    scalars_dtype = None if dtype_follows else _numpy_scalars_dtype(numbers, types)
    if scalars_dtype is not None:
        return np.array(data, dtype=scalars_dtype.numpy)
    try:
        array = np.array(data)
    except ValueError:
        raise _ragged_error(data) from None
    if array.dtype.kind == "f" and not dtype_follows and not any(
            issubclass(t, np.floating) for t in types):
        array = array.astype(get_default_dtype().numpy)
    elif array.dtype.kind == "i":
        array = array.astype(np.int64)
    elif array.dtype.kind == "O" or array.dtype.kind == "U":
        raise TypeError(f"Could not infer dtype of {type(data).__name__}")
    elif array.dtype not in _BY_NUMPY:
        array = array.astype(from_numpy_dtype(array.dtype).numpy)
    return array


def _ragged_error(data) -> Exception:
    """PyTorch's error for nested sequences of unequal lengths (the first one's lengths are the shape)."""
    shape = []
    item = data
    while isinstance(item, (list, tuple)):
        shape.append(len(item))
        item = item[0] if item else None
    pending = [(data, 0)]
    while pending:
        sequence, dim = pending.pop()
        if not isinstance(sequence, (list, tuple)):
            return TypeError("not a sequence")
        if len(sequence) != shape[dim]:
            return ValueError(f"expected sequence of length {shape[dim]} at dim {dim} (got {len(sequence)})")
        if dim + 1 < len(shape):
            pending.extend((x, dim + 1) for x in reversed(sequence))
    return ValueError("could not convert the nested sequence to a tensor")


def _flat(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _numpy_scalars_dtype(numbers: list, types: set[type]):
    """PyTorch's dtype for ``numbers`` (the data's elements, of ``types``) when NumPy scalars are
    among them, else None: each number keeps its own dtype and they promote by PyTorch's table
    (NumPy's would make int32 scalars int64 and widen int64 with float32 to float64)."""
    if not any(issubclass(t, (np.bool_, np.number)) for t in types):
        return None
    if not all(issubclass(t, (np.bool_, np.number, bool, int, float)) for t in types):
        return None
    result = _number_dtype(numbers[0])
    for number in numbers[1:]:
        result = promote_types(result, _number_dtype(number))
    return result


def _number_dtype(number):
    # np.float64 is a Python float too: its own dtype decides, not the default float.
    if isinstance(number, np.generic):
        return from_numpy_dtype(number.dtype)
    return _scalar_dtype(number)


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(x) for x in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, NumPy arrays).

    >>> import chainrule as torch
    >>> torch.tensor([[1., -1.], [1., -1.]])
    tensor([[ 1., -1.],
            [ 1., -1.]])
    >>> torch.tensor([1, 2]).dtype
    torch.int64
    """
    with np.errstate(over="ignore", invalid="ignore"):  # 1e40 becomes inf silently, as in PyTorch
        array = _infer_array(data, dtype_follows=dtype is not None)
        if dtype is not None:
            array = array.astype(to_dtype(dtype).numpy, copy=False)
    return _finish(array, requires_grad, device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """A tensor sharing ``data``'s memory when it is a tensor or NumPy array of that dtype."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None or to_dtype(dtype) == data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray):
        t = from_numpy(data)
        return t if dtype is None else t.to(dtype)
    return tensor(data, dtype=dtype)


asarray = as_tensor


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (changes to one show in the other).

    >>> import numpy as np, chainrule as torch
    >>> a = np.array([1, 2, 3])
    >>> t = torch.from_numpy(a)
    >>> t[0] = -1
    >>> a
    array([-1,  2,  3])
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    from_numpy_dtype(array.dtype)
    return make_tensor(array)


def scalar_tensor(value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.array(value, dtype=_numpy_dtype(dtype)), requires_grad, device)


def zeros(*size, out=None, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    """A tensor of zeros of the given shape (float32 unless ``dtype`` says otherwise)."""
    dtype = _dtype_for(dtype, out)
    return _finish(np.zeros(shape_from_args(size), _numpy_dtype(dtype)), requires_grad, device, out)


def ones(*size, out=None, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    """A tensor of ones of the given shape."""
    dtype = _dtype_for(dtype, out)
    return _finish(np.ones(shape_from_args(size), _numpy_dtype(dtype)), requires_grad, device, out)


def empty(*size, out=None, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    """An uninitialised tensor of the given shape."""
    dtype = _dtype_for(dtype, out)
    return _finish(np.empty(shape_from_args(size), _numpy_dtype(dtype)), requires_grad, device, out)


def _fill_dtype(fill_value, dtype):
    if dtype is not None:
        return to_dtype(dtype).numpy
    if isinstance(fill_value, bool):
        return np.bool_
    if isinstance(fill_value, int):
        return np.int64
    if isinstance(fill_value, Tensor):
        return fill_value._data.dtype
    return get_default_dtype().numpy


def full(size, fill_value, *, out=None, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype inferred from it)."""
    dtype = _dtype_for(dtype, out)
    array = np.full(shape_from_args((size,)), to_array(fill_value) if isinstance(fill_value, Tensor)
                    else fill_value, _fill_dtype(fill_value, dtype))
    return _finish(array, requires_grad, device, out)


def _like(input: Tensor, dtype):
    return input._data.shape, _numpy_dtype(dtype, input.dtype)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    shape, dt = _like(input, dtype)
    return _finish(np.zeros(shape, dt), requires_grad, device)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    shape, dt = _like(input, dtype)
    return _finish(np.ones(shape, dt), requires_grad, device)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    shape, dt = _like(input, dtype)
    return _finish(np.empty(shape, dt), requires_grad, device)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    shape, dt = _like(input, dtype)
    return _finish(np.full(shape, fill_value, dt), requires_grad, device)


def arange(start=0, end=None, step=1, *, out=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` in steps of ``step``.

    >>> import chainrule as torch
    >>> torch.arange(5)
    tensor([0, 1, 2, 3, 4])
    """
    if end is None:
        start, end = 0, start
    dtype = _dtype_for(dtype, out)
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)
        dt = np.int64 if is_int else get_default_dtype().numpy
    else:
        dt = to_dtype(dtype).numpy
    count = max(int(np.ceil((values[1] - values[0]) / values[2])), 0)
    array = (values[0] + np.arange(count, dtype=np.float64) * values[2]).astype(dt) \
        if is_floating_numpy(np.dtype(dt)) or not all(isinstance(v, int) for v in values) \
        else np.arange(values[0], values[1], values[2], dtype=dt)
    return _finish(array, requires_grad, device, out)


def _spaced(start, end, steps, dt: np.dtype) -> np.ndarray:
    """PyTorch's linspace values: ``start + step * i`` for the first half and
    ``end - step * (steps - 1 - i)`` for the rest, each a fused multiply-add, emulated in a
    wider type. float32 matches PyTorch bit for bit, float64 too where ``np.longdouble`` is
    wider (x86). float16 (rounded after each operation) and integers (float32 values from
    integer ends, truncated) match it mostly, off by one unit in some places."""
    steps = int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))
    if not is_floating_numpy(dt):
        start, end = int(start), int(end)
    if steps <= 1:
        return np.full(steps, start, np.float64).astype(dt)
    index = np.arange(steps)
    half = steps // 2
    if dt == np.float16:
        first, last = np.float16(start), np.float16(end)
        step = np.float16((np.float32(last) - np.float32(first)) / np.float32(steps - 1))
        values = np.empty(steps, np.float32)
        values[:half] = np.float32(first) + (step * index[:half].astype(np.float32)).astype(np.float16)
        values[half:] = np.float32(last) - (step * (steps - 1 - index[half:]).astype(np.float32)).astype(np.float16)
        return values.astype(dt)
    step_type = np.dtype(np.float64 if dt == np.float64 else np.float32)
    wide = np.longdouble if step_type == np.float64 else np.float64
    first, last = step_type.type(start), step_type.type(end)
    step = wide((last - first) / step_type.type(steps - 1))
    values = np.empty(steps, wide)
    values[:half] = wide(first) + step * index[:half]
    values[half:] = wide(last) - step * (steps - 1 - index[half:])
    values = values.astype(step_type)
    return values.astype(dt) if is_floating_numpy(dt) else np.trunc(values).astype(dt)


def linspace(start, end, steps, *, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    >>> import chainrule as torch
    >>> torch.linspace(0, 1, 5)
    tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    dt = _numpy_dtype(_dtype_for(dtype, out))
    return _finish(_spaced(start, end, steps, dt), requires_grad, device, out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    dt = _numpy_dtype(_dtype_for(dtype, out))
    exponents = _spaced(start, end, steps, np.dtype(np.float64))
    return _finish(np.power(float(base), exponents).astype(dt), requires_grad, device, out)


def eye(n, m=None, *, out=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The identity matrix (``n`` x ``m``)."""
    dtype = _dtype_for(dtype, out)
    return _finish(np.eye(int(n), None if m is None else int(m), dtype=_numpy_dtype(dtype)),
                   requires_grad, device, out)


def rand(*size, generator: Generator | None = None, out=None, dtype=None, device=None,
         requires_grad=False, **_) -> Tensor:
    """Uniform random numbers in [0, 1)."""
    dt = _floating(_numpy_dtype(_dtype_for(dtype, out)), "check_uniform_bounds")
    array = rng_of(generator).random(shape_from_args(size), dtype=np.float64 if dt == np.float16 else dt)
    return _finish(array.astype(dt, copy=False), requires_grad, device, out)


def randn(*size, generator: Generator | None = None, out=None, dtype=None, device=None,
          requires_grad=False, **_) -> Tensor:
    """Standard normal random numbers.

    >>> import chainrule as torch
    >>> torch.randn(2, 3).shape
    torch.Size([2, 3])
    """
    dt = _floating(_numpy_dtype(_dtype_for(dtype, out)), "normal_kernel_cpu")
    array = rng_of(generator).standard_normal(shape_from_args(size),
                                              dtype=np.float64 if dt == np.float16 else dt)
    return _finish(array.astype(dt, copy=False), requires_grad, device, out)


def randint(low=0, high=None, size=None, *, generator: Generator | None = None, out=None,
            dtype=None, device=None, requires_grad=False) -> Tensor:
    """Random integers in ``[low, high)``: ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    array = rng_of(generator).integers(low, high, size=shape_from_args((size,)))
    dtype = _dtype_for(dtype, out)
    return _finish(array.astype(_numpy_dtype(dtype, to_dtype("int64"))), requires_grad, device, out)


def randperm(n, *, generator: Generator | None = None, out=None, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    array = rng_of(generator).permutation(int(n))
    dtype = _dtype_for(dtype, out)
    return _finish(array.astype(_numpy_dtype(dtype, to_dtype("int64"))), requires_grad, device, out)


def normal(mean=0.0, std=1.0, size=None, *, generator: Generator | None = None, out=None,
           dtype=None, device=None, requires_grad=False) -> Tensor:
    """Normal random numbers; ``mean``/``std`` may be tensors (broadcast) or numbers with ``size``."""
    rng = rng_of(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        m = to_array(mean)
        s = to_array(std)
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        dt = (m if isinstance(mean, Tensor) else s).dtype
        array = (m + s * rng.standard_normal(shape)).astype(dt)
    else:
        if size is None:
            raise TypeError("normal() missing required argument 'size'")
        array = (mean + std * rng.standard_normal(tuple(size))).astype(
            _floating(_numpy_dtype(_dtype_for(dtype, out)), "normal_kernel_cpu"))
    return _finish(array, requires_grad, device, out)


def rand_like(input, *, dtype=None, generator=None, **kwargs) -> Tensor:
    return rand(input._data.shape, dtype=dtype or input.dtype, generator=generator, **kwargs)


def randn_like(input, *, dtype=None, generator=None, **kwargs) -> Tensor:
    return randn(input._data.shape, dtype=dtype or input.dtype, generator=generator, **kwargs)


def randint_like(input, low=0, high=None, *, dtype=None, **kwargs) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, dtype=dtype or input.dtype, **kwargs)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (or ``p``), else 0."""
    probs = input._data if p is None else np.full(input._data.shape, p)
    draws = rng_of(generator).random(input._data.shape) < probs
    return make_tensor(draws.astype(input._data.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Indices drawn with probabilities proportional to the rows of ``input``."""
    rng = rng_of(generator)
    weights = np.atleast_2d(input._data.astype(np.float64))
    rows = []
    for w in weights:
        rows.append(rng.choice(len(w), size=num_samples, replace=replacement, p=w / w.sum()))
    result = np.array(rows, dtype=np.int64)
    return make_tensor(result if input._data.ndim == 2 else result[0])


# ------------------------------------------------------- in-place initialisers
class Overwrite(Function):
    """An initialiser run where autograd records: the old values are gone, so is their gradient."""

    node_name = "FillBackward2"

    @staticmethod
    def forward(ctx, a, values):
        values = values._data if isinstance(values, Tensor) else values
        return np.broadcast_to(np.asarray(values, a._data.dtype), a._data.shape).copy()

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, None


class FillWithTensor(Overwrite):
    """``fill_(value)`` with a 0-d tensor, which receives the gradient of every element."""

    node_name = "FillBackward3"

    @staticmethod
    def backward(ctx, grad):
        need_a, need_value = ctx.needs_input_grad
        return (grad * 0 if need_a else None), (grad.sum() if need_value else None)


_RECORDED = {name: type(f"Overwrite_{name}", (Overwrite,), {"node_name": node})
             for name, node in (("zero_", "ZeroBackward0"), ("uniform_", "UniformBackward0"),
                                ("normal_", "NormalBackward0"), ("random_", "RandomBackward0"),
                                ("bernoulli_", "BernoulliBackward2"),
                                ("exponential_", "ExponentialBackward0"), ("fill_", "FillBackward2"))}


def _write_values(self: Tensor, values, name: str) -> Tensor:
    """Overwrite every element; recorded (gradient zero for the old values) only where autograd
    watches this tensor, which initialisers under ``no_grad`` never pay for."""
    if state.enabled and (self._requires_grad or (isinstance(values, Tensor) and values._requires_grad)):
        from chainrule._ops.inplace import apply_inplace

        node = FillWithTensor if isinstance(values, Tensor) else _RECORDED[name]
        return apply_inplace(self, node.apply, (values,), None, name)
    if not self._data.flags.writeable:
        raise RuntimeError(f"{name}: the tensor's memory is read-only (an expanded view?)")
    self._data[...] = values._data if isinstance(values, Tensor) else values
    self._bump_version()
    return self


@tensor_method()
def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill with uniform random numbers in ``[a, b)``."""
    return _write_values(self, rng_of(generator).uniform(a, b, self._data.shape), "uniform_")


@tensor_method()
def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with normal random numbers."""
    return _write_values(self, rng_of(generator).normal(mean, std, self._data.shape), "normal_")


@tensor_method()
def fill_(self, value) -> Tensor:
    """Set every element to ``value``."""
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value._data.ndim} dimensions.")
    return _write_values(self, value, "fill_")


@tensor_method()
def zero_(self) -> Tensor:
    """Set every element to zero."""
    return _write_values(self, 0, "zero_")


@tensor_method()
def random_(self, low=0, high=None, *, generator=None) -> Tensor:
    if high is None:
        low, high = 0, low if low else 2**24
    return _write_values(self, rng_of(generator).integers(low, high, self._data.shape), "random_")


@tensor_method()
def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
    probs = p._data if isinstance(p, Tensor) else p
    return _write_values(self, rng_of(generator).random(self._data.shape) < probs, "bernoulli_")


@tensor_method()
def exponential_(self, lambd: float = 1.0, *, generator=None) -> Tensor:
    return _write_values(self, rng_of(generator).exponential(1 / lambd, self._data.shape), "exponential_")


@tensor_method()
def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


@tensor_method()
def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


@tensor_method()
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)


@tensor_method()
def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return empty(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


@tensor_method()
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)
