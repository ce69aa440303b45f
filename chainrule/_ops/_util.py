"""What every op module shares: attaching ops to ``Tensor``, dtype promotion of
operands, and normalising ``dim`` arguments. Each of these lives here only."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from chainrule._dtype import _BY_NUMPY, get_default_dtype, is_floating_numpy, result_type
from chainrule._tensor import Tensor, make_tensor

__all__ = ["tensor_method", "broadcast_view", "broadcasting", "binary_arrays", "float_result_arrays", "normalize_dim",
           "normalize_dims", "shape_from_args", "Tensor", "make_tensor", "check_float_or_raise",
           "broadcast_error", "torch_namespaced", "type_label", "CPP_TYPE_NAMES", "float_array", "matmul_arrays",
           "matrix_product"]


def tensor_method(*names: str) -> Callable:
    """Attach the decorated function to ``Tensor`` as a method (by its own name, or ``names``)."""

    def attach(func: Callable) -> Callable:
        for name in names or (func.__name__,):
            setattr(Tensor, name, func)
        return func

    return attach


def torch_namespaced(function: type) -> None:
    """Give ``function``'s node PyTorch's namespaced ``name()`` (``torch::autograd::CopySlices``):
    PyTorch implements these few nodes in C++ outside the generated ones; reprs show the bare name."""
    full_name = f"torch::autograd::{function._backward_cls.__name__}"
    function._backward_cls.name = lambda self: full_name


def broadcast_view(data: np.ndarray, shape: tuple) -> np.ndarray:
    """``np.broadcast_to(data, shape)``: a read-only view, built without its Python overhead
    (ten times cheaper on small arrays; a backward pass makes one per reduction)."""
    if data.shape == shape:
        return data
    lead = len(shape) - data.ndim
    if lead < 0 or not data.flags.c_contiguous:
        return np.broadcast_to(data, shape)
    strides = [0] * lead
    for size, target, stride in zip(data.shape, shape[lead:], data.strides):
        if size == target:
            strides.append(stride)
        elif size == 1:
            strides.append(0)
        else:
            return np.broadcast_to(data, shape)  # raises NumPy's error
    view = np.ndarray(shape, data.dtype, data, 0, tuple(strides))
    view.flags.writeable = False
    return view


def _scalar_or_array(value):
    return value._data if isinstance(value, Tensor) else value


def binary_arrays(a, b) -> tuple:
    """The NumPy operands of a binary op, cast to PyTorch's result dtype.

    Python numbers stay Python numbers (NumPy treats them as weakly typed, as
    PyTorch does), except where PyTorch's result dtype differs from NumPy's.
    """
    x = _scalar_or_array(a)
    y = _scalar_or_array(b)
    x_is_array = type(x) is np.ndarray
    y_is_array = type(y) is np.ndarray
    if x_is_array and y_is_array:
        if x.dtype is y.dtype or x.dtype == y.dtype:
            return x, y
    elif x_is_array:
        if is_floating_numpy(x.dtype) and type(y) in (float, int):
            return x, y
    elif y_is_array:
        if is_floating_numpy(y.dtype) and type(x) in (float, int):
            return x, y
    return _cast_to(x, y, result_type(a, b).numpy)


def _cast_to(x, y, target) -> tuple:
    if type(x) is np.ndarray and x.dtype != target:
        x = x.astype(target)
    elif isinstance(x, np.generic):  # NumPy scalars count as numbers (weak) in PyTorch, not in NumPy
        x = target.type(x)
    if type(y) is np.ndarray and y.dtype != target:
        y = y.astype(target)
    elif isinstance(y, np.generic):
        y = target.type(y)
    return x, y


def broadcasting(ufunc, x, y):
    """``ufunc(x, y)``, NumPy's error for shapes that do not broadcast becoming PyTorch's."""
    try:
        return ufunc(x, y)
    except ValueError as error:
        raise broadcast_error(error, x, y) from None


def broadcast_error(error: ValueError, *operands) -> Exception:
    """PyTorch's RuntimeError for operands whose shapes do not broadcast.

    Ops let NumPy broadcast and only call this when NumPy raised ``error`` (a
    ``try`` costs nothing on the happy path); any other ValueError is returned as is.
    """
    shapes = [np.shape(_scalar_or_array(o)) for o in operands]
    ndim = max(len(s) for s in shapes)
    for offset in range(1, ndim + 1):
        first = None
        for shape in shapes:
            if offset <= len(shape) and shape[-offset] != 1:
                if first is None:
                    first = shape[-offset]
                elif shape[-offset] != first:
                    return RuntimeError(
                        f"The size of tensor a ({first}) must match the size of tensor b "
                        f"({shape[-offset]}) at non-singleton dimension {ndim - offset}")
    return error


def float_result_arrays(a, b) -> tuple:
    """Like ``binary_arrays``, but integer results become the default float (true division)."""
    target = result_type(a, b)
    if not target.is_floating_point:
        target = get_default_dtype()
    return _cast_to(_scalar_or_array(a), _scalar_or_array(b), target.numpy)


def matrix_product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x @ y``. Float32/64 matrices go through ``np.dot``: ``np.matmul`` skips BLAS for some
    strides (the outer product ``(128, 1) @ (1, 185)`` of a batch of one: 30 µs against 6 µs)."""
    if x.ndim == 2 and y.ndim == 2 and x.dtype == y.dtype and x.dtype in _BLAS_DTYPES:
        return np.dot(x, y)
    return np.matmul(x, y)


_BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def matmul_arrays(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x @ y`` in the operands' dtype: ml_dtypes multiplies bfloat16 matrices into
    float32 (accumulating in float32, as PyTorch's CPU kernels do); round once, as they do."""
    return matrix_product(x, y).astype(x.dtype, copy=False)


def check_float_or_raise(t: Tensor, op: str) -> None:
    if not is_floating_numpy(t._data.dtype):
        raise RuntimeError(f"\"{op}\" not implemented for '{type_label(t._data.dtype)}'")


def type_label(np_dtype) -> str:
    """PyTorch's name for a NumPy dtype in error messages: ``Float``, ``Long``, ``Bool``, ..."""
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16"}[
        _BY_NUMPY[np_dtype].name]



# PyTorch's C++ names of the dtypes, which some of its messages print ("expected dtype float").
CPP_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
                  "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
                  "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
                  "bool": "bool"}


def float_array(t: Tensor) -> np.ndarray:
    """The tensor's data, as the default float dtype if it is an integer or bool tensor."""
    data = t._data
    return data if is_floating_numpy(data.dtype) else data.astype(get_default_dtype().numpy)


def normalize_dim(dim: int, ndim: int) -> int:
    """A dimension index in ``[0, ndim)``; IndexError in PyTorch's words when out of range."""
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-bound}, {bound - 1}], but got {dim})")
    return dim % bound


def normalize_dims(dim, ndim: int) -> tuple[int, ...] | None:
    """``dim`` given as None, an int or a sequence, as a sorted tuple (None: all dims)."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        return (normalize_dim(int(dim), ndim),)
    dims = tuple(normalize_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return tuple(sorted(dims)) if dims else None


def shape_from_args(args: Sequence) -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size([2, 3]))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    elif len(args) == 1 and isinstance(args[0], Tensor):
        args = args[0].tolist()
    try:
        return tuple(int(s) for s in args)
    except TypeError:
        raise TypeError(f"expected a sequence of ints for a shape, got {args!r}") from None
