"""``Tensor``: a NumPy array that remembers the operation that made it.

A tensor holds its values in ``_data`` (a NumPy array) and, when it requires
grad, the ``grad_fn`` node that produced it. The ops themselves live in
``chainrule/_ops/`` (each with its gradient beside it) and are attached here
as methods and operators; this file holds only what every tensor is.
"""

from __future__ import annotations

import copy
import warnings
import weakref

import numpy as np

from chainrule._device import CPU, check_device
from chainrule._dtype import (
    _BY_NUMPY,
    dtype,
    from_numpy_dtype,
    get_default_dtype,
    is_floating_numpy,
    to_dtype,
)
from chainrule._size import Size

_new_object = object.__new__


def make_tensor(data: np.ndarray, requires_grad: bool = False, grad_fn=None,
                output_nr: int = 0) -> Tensor:
    """Wrap a NumPy array without copying (the fast path every op uses)."""
    t = _new_object(Tensor)
    t._data = data
    t._requires_grad = requires_grad
    t.grad_fn = grad_fn
    t._output_nr = output_nr
    t._grad = None
    t._vc = None
    t._base = None
    t._accumulator = None
    t._retains_grad = False
    return t


def make_view(base: Tensor, data: np.ndarray, requires_grad: bool = False, grad_fn=None) -> Tensor:
    """A tensor sharing ``base``'s memory and version counter (views see in-place changes)."""
    t = make_tensor(data, requires_grad, grad_fn)
    t._vc = base._version_counter()
    t._base = base if base._base is None else base._base
    return t


class Tensor:
    """A multi-dimensional array that records operations for automatic differentiation.

    Create tensors with ``chainrule.tensor``, ``zeros``, ``randn`` and friends:

    >>> import chainrule as torch
    >>> x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x ** 2).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
    """

    __slots__ = ("_data", "_requires_grad", "grad_fn", "_output_nr", "_grad", "_vc", "_base",
                 "_accumulator", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # NumPy defers `ndarray + tensor` to Tensor.__radd__
    __array_ufunc__ = None
    is_cuda = False
    is_xpu = False
    is_mps = False
    is_sparse = False
    is_quantized = False
    is_meta = False
    layout = "torch.strided"

    def __new__(cls, *args, **kwargs):
        """Legacy constructor: ``Tensor(2, 3)`` is uninitialised float32, ``Tensor([1, 2])`` copies."""
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            data = args[0]
            if isinstance(data, Tensor):
                array = data._data.astype(get_default_dtype().numpy)
            else:
                array = np.array(data, dtype=get_default_dtype().numpy)
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
            array = np.empty(tuple(int(s) for s in shape) if args else (0,),
                             dtype=get_default_dtype().numpy)
        return _blank_tensor(cls, array)

    # ----------------------------------------------------------------- basic facts
    @property
    def data(self) -> Tensor:
        """The same values, detached from the graph; in-place changes through it are not even
        counted (a version counter of its own), as in PyTorch."""
        return make_tensor(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape, or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._wrap_dim(dim)]

    @property
    def dtype(self) -> dtype:
        return _BY_NUMPY[self._data.dtype]

    @property
    def device(self):
        return CPU

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    def is_floating_point(self) -> bool:
        return is_floating_numpy(self._data.dtype)

    def is_complex(self) -> bool:
        return False

    def is_contiguous(self, memory_format=None) -> bool:
        return self._data.flags.c_contiguous

    def stride(self, dim: int | None = None):
        itemsize = self._data.itemsize
        strides = tuple(s // itemsize for s in self._data.strides)
        return strides if dim is None else strides[self._wrap_dim(dim)]

    def data_ptr(self) -> int:
        return self._data.__array_interface__["data"][0]

    def get_device(self) -> int:
        return -1

    def _wrap_dim(self, dim: int) -> int:
        ndim = max(self._data.ndim, 1)
        if not -ndim <= dim < ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
        return dim % ndim

    # ------------------------------------------------------------------ autograd
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use "
                    "a computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach().")
            return
        if value and not is_floating_numpy(self._data.dtype):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return the tensor."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (leaves, and non-leaves after ``retain_grad()``)."""
        if self.grad_fn is not None and not self._retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during autograd.backward(). If you indeed want "
                "the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on the "
                "non-leaf Tensor.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of "
                    f"size '{list(self.shape)}'. Please ensure that the gradient and the tensor are "
                    "the same size")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{value.dtype}' to a tensor with "
                    f"dtype '{self.dtype}'. The gradient must match the tensor's dtype")
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    @property
    def _version(self) -> int:
        return 0 if self._vc is None else self._vc[0]

    def _version_counter(self) -> list[int]:
        """The version counter (made on first use), to share with a view or a saved value."""
        counter = self._vc
        if counter is None:
            counter = self._vc = [0]
        return counter

    def _bump_version(self) -> None:
        counter = self._vc
        if counter is None:
            self._vc = [1]
        else:
            counter[0] += 1

    def _accumulator_node(self):
        accumulator = self._accumulator
        if accumulator is None:
            from chainrule.autograd.function import AccumulateGrad

            accumulator = self._accumulator = AccumulateGrad(self)
        return accumulator

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad."""
        from chainrule.autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a return value replaces it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from chainrule.utils.hooks import RemovableHandle

        if self.grad_fn is None:
            node, slot = self._accumulator_node(), 0
        else:
            node, slot = self.grad_fn, self._output_nr
        if node._tensor_hooks is None:
            node._tensor_hooks = {}
        return RemovableHandle.add(node._tensor_hooks.setdefault(slot, {}), hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after the gradient was accumulated into this leaf's ``.grad``."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        from chainrule.utils.hooks import RemovableHandle

        node = self._accumulator_node()
        if node._post_hooks is None:
            node._post_hooks = {}
        return RemovableHandle.add(node._post_hooks, lambda *_: hook(self))

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` during backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        node = self.grad_fn
        if node._retain_hooks is None:
            node._retain_hooks = {}
        node._retain_hooks[self._output_nr] = weakref.ref(self)

    def detach(self) -> Tensor:
        """A tensor with the same values (shared memory and version counter) cut off from the
        graph: not a differentiable view, so in-place ops on it leave this tensor's history alone."""
        t = make_tensor(self._data)
        t._vc = self._version_counter()
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    # --------------------------------------------------------------- conversions
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        """The values as a NumPy array sharing this tensor's memory."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        from chainrule._tensor_str import tensor_repr

        return tensor_repr(self)

    __str__ = __repr__

    # ------------------------------------------------------------ copy / pickle
    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment. If you were attempting to deepcopy a module, this may be "
                "because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001")
        if id(self) in memo:
            return memo[id(self)]
        result = _blank_tensor(type(self), self._data.copy())
        result._requires_grad = self._requires_grad
        if self._grad is not None:
            result._grad = copy.deepcopy(self._grad, memo)
        if hasattr(self, "__dict__"):
            result.__dict__.update(copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        # Pickling exists for DataLoader worker processes; chainrule.save never pickles.
        return (_rebuild_tensor, (type(self), self._data, self._requires_grad))

    # ----------------------------------------------------------------- device
    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args, **kwargs) -> Tensor:
        check_device("cuda")
        return self

    def pin_memory(self) -> Tensor:
        return self

    def share_memory_(self) -> Tensor:
        return self

    def is_shared(self) -> bool:
        return False


def _blank_tensor(cls: type, data: np.ndarray) -> Tensor:
    """A leaf of class ``cls`` (Tensor or a subclass such as Parameter) around ``data``."""
    t = _new_object(cls)
    for name, value in (("_data", data), ("_requires_grad", False), ("grad_fn", None),
                        ("_output_nr", 0), ("_grad", None), ("_vc", None), ("_base", None),
                        ("_accumulator", None), ("_retains_grad", False)):
        object.__setattr__(t, name, value)
    return t


def _rebuild_tensor(cls, data, requires_grad):
    t = _blank_tensor(cls, data)
    t._requires_grad = requires_grad
    return t


def to_array(value, dtype_=None) -> np.ndarray:
    """The NumPy array behind a tensor, or a new one for Python data."""
    if isinstance(value, Tensor):
        return value._data
    array = np.asarray(value)
    if dtype_ is not None:
        array = array.astype(to_dtype(dtype_).numpy, copy=False)
    elif array.dtype.kind == "f" and not isinstance(value, np.ndarray):
        array = array.astype(get_default_dtype().numpy, copy=False)
    elif array.dtype not in _BY_NUMPY:
        array = array.astype(from_numpy_dtype(array.dtype).numpy)
    return array
