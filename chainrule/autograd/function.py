"""Recording operations: ``Function`` (an op with its gradient) and ``Node`` (a ``grad_fn``).

Every differentiable op in chainrule is a ``Function`` subclass with two static
methods side by side: ``forward(ctx, *inputs)`` computes the result and saves
what the gradient needs; ``backward(ctx, *grad_outputs)`` applies the chain
rule, returning one gradient per input. ``Function.apply`` runs ``forward``
and, when an input requires grad, links a new ``Node`` into the graph; the
node is also the ``ctx`` that ``forward`` wrote to, and is what ``grad_fn``
shows (``<MulBackward0 object at ...>``). ``forward`` runs with NumPy's
floating-point warnings off (``log(0)`` is ``-inf`` silently, as in PyTorch)
without touching the user's own NumPy settings.

Built-in ops return NumPy arrays from ``forward`` (cheap) and write
``backward`` with chainrule ops (so it is itself differentiable, which is what
``create_graph=True`` needs). User-defined functions may use tensors in both,
as in PyTorch:

>>> import chainrule as torch
>>> class Cube(torch.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, grad):
...         (x,) = ctx.saved_tensors
...         return grad * 3 * x ** 2
>>> x = torch.tensor(2.0, requires_grad=True)
>>> Cube.apply(x).backward()
>>> x.grad
tensor(12.)
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._float_errors import ignore_float_errors, restore_float_errors
from chainrule._tensor import Tensor, make_tensor
from chainrule.autograd.grad_mode import state
from chainrule.utils.hooks import RemovableHandle

__all__ = ["Function", "Node", "AccumulateGrad", "FunctionCtx", "once_differentiable"]

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class _SavedOutput:
    """Marks a saved value that is one of the node's own outputs (rebuilt on unpack)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class Node:
    """A node of the backward graph: what ``tensor.grad_fn`` returns.

    ``next_functions`` holds, for each input of the op, the ``(node, output_nr)``
    its gradient flows on to (``None`` for inputs that need no gradient).
    """

    # Class-level defaults: a new node stores only what differs (fewer writes per op).
    next_functions: tuple = ()
    needs_input_grad: tuple = ()
    _input_meta: tuple = ()
    _num_outputs = 1
    _saved = None
    _saved_versions = None
    _output_data = None
    _output_meta = None
    _released = False
    _tensor_hooks = None
    _retain_hooks = None
    _pre_hooks = None
    _post_hooks = None
    _forward_trace = None
    _materialize_grads = True
    _non_differentiable = None
    metadata: dict

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at 0x{id(self):x}>"

    def register_hook(self, hook) -> RemovableHandle:
        """``hook(grad_inputs, grad_outputs)`` runs after this node computed its gradients."""
        if self._post_hooks is None:
            self._post_hooks = {}
        return RemovableHandle.add(self._post_hooks, hook)

    def register_prehook(self, hook) -> RemovableHandle:
        """``hook(grad_outputs)`` runs before this node; it may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        return RemovableHandle.add(self._pre_hooks, hook)


class BackwardNode(Node):
    """The node recorded by ``Function.apply``; it is also the op's ``ctx``."""
    _function: ClassVar[type[Function]]
    _forward_cls: ClassVar[type[Function]]  # PyTorch's name for the same class

    # ctx API used inside forward/backward
    def save_for_backward(self, *values) -> None:
        """Keep tensors (or the NumPy result of a built-in forward) for ``backward``."""
        self._saved = values

    def save_for_forward(self, *values) -> None:
        self._saved = values

    @property
    def saved_tensors(self) -> tuple[Tensor, ...]:
        """The values given to ``save_for_backward``; fails after the graph was freed
        or when one of them has since been modified in place."""
        if self._released:
            raise RuntimeError(_FREED_MESSAGE)
        saved = self._saved
        if saved is None:
            return ()
        versions = self._saved_versions
        unpacked = []
        for i, value in enumerate(saved):
            if isinstance(value, _SavedOutput):
                data = self._output_data[value.index]
                value = make_tensor(data, True, self, value.index)
            elif type(value) is np.ndarray:
                value = make_tensor(value)
            if versions is not None and versions[i] is not None:
                counter, expected = versions[i]
                if counter[0] != expected:
                    _raise_modified(value, counter[0], expected, self)
            unpacked.append(value)
        return tuple(unpacked)

    @property
    def saved_variables(self):
        return self.saved_tensors

    def mark_non_differentiable(self, *values) -> None:
        self._non_differentiable = values

    def mark_dirty(self, *tensors) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize_grads = value

    def _release(self) -> None:
        self._released = True
        self._saved = None
        self._output_data = None


FunctionCtx = BackwardNode


def _raise_modified(value, version: int, expected: int, node: Node) -> None:
    """PyTorch's error for a saved tensor changed in place since the forward pass: it names
    the tensor, the op that produced it now (``Add`` for ``AddBackward0``) and the versions."""
    from chainrule._tensor_str import type_name

    producer = value.grad_fn
    made_by = ""
    if producer is not None:
        name = re.sub(r"Backward\d*$", "", producer.name().rsplit("::", 1)[-1])
        made_by = f", which is output {value._output_nr} of {name},"
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{type_name(value)} {list(value.shape)}]{made_by} is at version "
        f"{version}; expected version {expected} instead. Hint: enable anomaly detection to "
        "find the operation that failed to compute its gradient, with "
        "torch.autograd.set_detect_anomaly(True, check_nan=False).")


class _UntrackedCtx:
    """The ``ctx`` given to ``forward`` when nothing needs a gradient: saves nothing."""

    _materialize_grads = True

    def __init__(self, inputs: int = 0) -> None:
        self._inputs = inputs

    @property
    def needs_input_grad(self) -> tuple:
        return (False,) * self._inputs

    def save_for_backward(self, *values) -> None:
        pass

    save_for_forward = save_for_backward
    mark_non_differentiable = save_for_backward
    mark_dirty = save_for_backward

    def set_materialize_grads(self, value: bool) -> None:
        pass


class AccumulateGrad(Node):
    """The node at a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"


def _as_array(value):
    if isinstance(value, Tensor):
        return value._data
    if type(value) is np.ndarray:
        return value
    return np.asarray(value)


class Function:
    """Base class for ops with a hand-written gradient (PyTorch's ``autograd.Function``).

    Subclasses define ``forward(ctx, *args, **kwargs)`` and ``backward(ctx, *grads)``
    as static methods and are called through ``apply``. Built-in ops set
    ``node_name`` to PyTorch's node name (``"MulBackward0"``); otherwise the
    node is called ``<ClassName>Backward``.
    """

    node_name: ClassVar[str | None] = None
    _backward_cls: ClassVar[type[BackwardNode]]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("node_name") or f"{cls.__name__}Backward"
        # The node class names the module of its Function, so type(grad_fn) leads to the source.
        cls._backward_cls = type(name, (BackwardNode,), {
            "_function": cls, "_forward_cls": cls, "__module__": cls.__module__})

    # Optional: the same gradient as ``backward``, on NumPy arrays in and out (``None`` for
    # no gradient). The engine calls it instead of ``backward`` when no graph of the backward
    # is recorded (no ``create_graph``); ``backward`` stays the definition, written with
    # differentiable ops. tests/test_backward_arrays.py checks that the two agree.
    backward_arrays: ClassVar[Callable | None] = None

    # PyTorch's newer style: ``forward(*args)`` takes no ctx, and ``setup_context(ctx,
    # inputs, output)`` saves what backward needs. A subclass that defines it gets that style.
    setup_context = None

    @classmethod
    def _run_forward(cls, ctx, args, kwargs):
        """``forward`` (and ``setup_context``), with NumPy's floating-point warnings off."""
        token = ignore_float_errors()
        try:
            if cls.setup_context is None:
                return cls.forward(ctx, *args, **kwargs)
            result = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, result)
            return result
        finally:
            restore_float_errors(token)

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom autograd.Function to use it with backward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op; when an input requires grad (and grad mode is on), record a node."""
        if trace_hook is not None:  # chainrule.onnx is recording a forward: it runs the op
            return trace_hook(cls, args, kwargs)
        if state.enabled:
            for arg in args:
                if isinstance(arg, Tensor) and arg._requires_grad:
                    return cls._apply_tracked(args, kwargs)
        result = cls._run_forward(_UntrackedCtx(len(args)), args, kwargs)
        if type(result) is np.ndarray:
            return make_tensor(result)
        if isinstance(result, tuple):
            return tuple([make_tensor(_as_array(r)) if r is not None else None for r in result])
        return make_tensor(_as_array(result))

    @classmethod
    def _apply_tracked(cls, args, kwargs):
        """Link a new node to the inputs, run ``forward`` unrecorded into it, wrap the outputs."""
        node = cls._backward_cls()
        _link_inputs(node, args)
        if state.anomaly:
            node._forward_trace = traceback.format_stack()[:-2]
        state.enabled = False
        token = ignore_float_errors()
        try:
            if cls.setup_context is None:
                result = cls.forward(node, *args, **kwargs)
            else:
                result = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, result)
        finally:
            restore_float_errors(token)
            state.enabled = True
        if node._non_differentiable is None and (
                type(result) is np.ndarray or isinstance(result, np.generic)):
            return _wrap_array(node, result)
        return _wrap_outputs(node, result)


def _wrap_array(node: BackwardNode, raw) -> Tensor:
    """The common case, one array (or NumPy scalar: full reductions) out, without the general
    path's tuples: a floating result gets ``node`` as its ``grad_fn``."""
    data = raw if type(raw) is np.ndarray else np.asarray(raw)
    out = make_tensor(data, True, node) if is_floating_numpy(data.dtype) else make_tensor(data)
    if node._saved is not None:
        _record_saved(node, (raw,), (data,), (out,))
    return out


def _link_inputs(node: BackwardNode, args: tuple) -> None:
    """Point ``node``'s edges at the inputs' producers (or leaf accumulators) and note the
    shape and dtype each gradient must have."""
    edges = []
    metas = []
    needs = []
    for arg in args:
        if isinstance(arg, Tensor) and arg._requires_grad:
            producer = arg.grad_fn
            edges.append((arg._accumulator or arg._accumulator_node(), 0) if producer is None
                         else (producer, arg._output_nr))
            data = arg._data
            metas.append((data.shape, data.dtype))
            needs.append(True)
        else:
            edges.append(_NO_EDGE)
            metas.append(None)
            needs.append(False)
    node.next_functions = tuple(edges)
    node.needs_input_grad = tuple(needs)
    node._input_meta = metas


def _wrap_outputs(node: BackwardNode, result):
    """Tensors for a forward's result (an array, a NumPy scalar, tensors or a tuple of them):
    floating outputs not marked non-differentiable get ``node`` as their ``grad_fn``."""
    single = not isinstance(result, tuple)
    raw = (result,) if single else result
    arrays = tuple([_as_array(r) for r in raw])
    node._num_outputs = len(arrays)
    if not single:
        node._output_meta = tuple([(a.shape, a.dtype) for a in arrays])
    excluded = node._non_differentiable
    outputs = []
    for i, data in enumerate(arrays):
        differentiable = is_floating_numpy(data.dtype) and not (
            excluded and any(_same(raw[i], data, e) for e in excluded))
        outputs.append(make_tensor(data, True, node, i) if differentiable else make_tensor(data))
    if node._saved is not None:
        _record_saved(node, raw, arrays, outputs)
    return outputs[0] if single else tuple(outputs)


_NO_EDGE = (None, 0)

# ``hook(function, args, kwargs)``, set by ``chainrule.onnx`` only while it records a forward.
trace_hook = None


def _same(raw, data, marked) -> bool:
    return marked is raw or marked is data or (isinstance(marked, Tensor) and marked._data is data)


def _record_saved(node: BackwardNode, raw_outputs: tuple, arrays: tuple, outputs) -> None:
    """Note each saved value's version, so backward can detect later in-place changes.

    A saved value that *is* one of the outputs is stored as its data and rebuilt
    on unpack with this node as its ``grad_fn`` (no reference cycle node -> output).
    """
    saved = []
    versions = []
    for value in node._saved:
        for j, raw in enumerate(raw_outputs):
            if value is raw:
                value = _SavedOutput(j)
                counter = outputs[j]._version_counter()
                node._output_data = arrays
                break
        else:
            counter = value._version_counter() if isinstance(value, Tensor) else None
        saved.append(value)
        versions.append(None if counter is None else (counter, counter[0]))
    node._saved = tuple(saved)
    node._saved_versions = versions


def once_differentiable(backward):
    """Mark a ``backward`` as not differentiable itself (kept for API compatibility)."""
    return backward
