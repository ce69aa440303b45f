"""Building the ONNX graph: naming values, adding nodes, constants and initializers.

Every tensor the recorded forward touches gets one ONNX value name: graph inputs and
parameters by their names, op outputs as they are translated, and anything else
(a tensor made inside ``forward``, a Python number) as a constant initializer.
"""

from __future__ import annotations

import itertools

import numpy as np

from chainrule._tensor import Tensor
from chainrule.onnx._registry import aten_name
from chainrule.onnx.errors import OnnxExporterError, UnsupportedOperatorError

__all__ = ["GraphBuilder"]


class GraphBuilder:
    """The nodes and initializers of one exported graph, for ``opset``.

    ``dynamic`` maps ``id(tensor)`` to the dims of that traced tensor whose size follows a
    dynamic axis of the inputs (found by tracing twice, see ``_two_recordings``);
    ``parameters`` are the model's parameters and buffers by ``state_dict`` key; ``filled``
    the one-value tensors made in forward whose shape follows dynamic axes, with their shape
    recipes.
    """

    def __init__(self, onnx, opset: int, dynamic: dict[int, tuple[int, ...]],
                 parameters: dict[str, Tensor], filled: dict[int, tuple] | None = None) -> None:
        self.onnx = onnx
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._names: dict[int, str] = {}
        self._keep_alive: list = []  # ids stay unique only while their objects live
        self._dynamic = dynamic
        self._counter = itertools.count()
        self._unexported: dict[int, str] = {}  # op outputs no rule gave an ONNX value
        # ``{id(parameter or buffer): (state_dict key, tensor)}``: an initializer on first use
        self.parameters = {id(tensor): (name, tensor) for name, tensor in parameters.items()}
        self._used_parameters: list[tuple[str, Tensor]] = []
        self._filled = filled or {}

    # ---------------------------------------------------------------- values
    def bind(self, value, name: str) -> None:
        """Give ``value`` (a tensor; its NumPy data too, which some ops receive) ``name``."""
        self._names[id(value)] = name
        self._keep_alive.append(value)
        if isinstance(value, Tensor):
            self._names.setdefault(id(value._data), name)
            self._keep_alive.append(value._data)

    def bind_outputs(self, op, names: list) -> None:
        """Bind each output of ``op`` to the name its rule returned (None: no ONNX value)."""
        for i, (tensor, name) in enumerate(zip(op.outputs, names)):
            if name is None:
                self._unexported[id(tensor)] = f"output {i} of {aten_name(op.function)}"
                self._keep_alive.append(tensor)
            else:
                self.bind(tensor, name)

    def unsupported(self, op, reason: str) -> UnsupportedOperatorError:
        return UnsupportedOperatorError(f"{aten_name(op.function)} ({reason})", self.opset, None)

    def name(self, value, like: Tensor | None = None) -> str:
        """The ONNX name of ``value``; a constant when the forward made it. Python numbers take
        ``like``'s dtype (PyTorch treats them as weakly typed)."""
        if id(value) in self._names:
            return self._names[id(value)]
        if id(value) in self._unexported:
            raise OnnxExporterError(f"the model uses {self._unexported[id(value)]}, which "
                                    "chainrule's ONNX exporter does not produce")
        if id(value) in self.parameters:
            return self._parameter(value)
        if id(value) in self._filled:
            return self._filled_tensor(value)
        if isinstance(value, Tensor):
            data = value._data
        elif isinstance(value, np.ndarray):
            data = value
        else:
            dtype = like._data.dtype if like is not None else np.asarray(value).dtype
            return self.constant(np.asarray(value, dtype))
        name = self.constant(data)
        self.bind(value, name)
        return name

    def _parameter(self, value: Tensor) -> str:
        name, tensor = self.parameters[id(value)]
        self._used_parameters.append((name, tensor))
        self.bind(value, name)
        return name

    def _filled_tensor(self, value) -> str:
        """``value``'s one value expanded to its shape, the dynamic dims read off the inputs."""
        data = value._data if isinstance(value, Tensor) else value
        parts = [self.ints([size]) if isinstance(size, int) else
                 self.one("Gather", self.one("Shape", self.name(size[0])), self.ints([size[1]]))
                 for size in self._filled[id(value)][1]]
        shape = self.one("Concat", *parts, axis=0) if parts else self.ints([])
        name = self.one("Expand", self.constant(data.reshape(-1)[:1].reshape(())), shape)
        self.bind(value, name)
        return name

    def parameter_inputs(self, export_params: bool, as_inputs: bool) -> list:
        """Store the parameters the graph uses as initializers (``export_params``); returns
        the graph inputs they also are (all of them when not stored, or ``as_inputs``)."""
        if export_params:
            self.initializers.extend(self.onnx.numpy_helper.from_array(t._data, name)
                                     for name, t in self._used_parameters)
        if export_params and not as_inputs:
            return []
        return [self.value_info(name, t, list(t.shape)) for name, t in self._used_parameters]

    def value_info(self, name: str, tensor: Tensor, shape: list):
        """The declaration of a graph input or output: name, ``tensor``'s dtype, ``shape``
        (ints, or names for dynamic dims)."""
        helper = self.onnx.helper
        return helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(tensor._data.dtype), shape)

    def constant(self, array: np.ndarray, name: str | None = None) -> str:
        """A new initializer holding ``array``."""
        name = name or self.fresh("_constant")
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, values) -> str:
        """An int64 1-d constant (shapes, axes, pads), as the ops taking them as inputs want."""
        return self.constant(np.asarray(list(values), np.int64))

    def fresh(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter)}"

    def dynamic_dims(self, tensor: Tensor) -> tuple[int, ...]:
        return self._dynamic.get(id(tensor), ())

    # ---------------------------------------------------------------- nodes
    def node(self, op_type: str, inputs, outputs: int = 1, **attributes) -> list[str]:
        """Add one node; returns its output names. ``""`` inputs are ONNX's omitted ones."""
        names = [self.fresh(op_type) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(
            op_type, list(inputs), names, name=self.fresh(f"/{op_type}"), **attributes))
        return names

    def one_named(self, op_type: str, inputs, name: str) -> None:
        """Add a node whose one output is called ``name`` (a graph output)."""
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [name],
                                                     name=self.fresh(f"/{op_type}")))

    def one(self, op_type: str, *inputs, **attributes) -> str:
        """Add a node with one output and return that output's name."""
        return self.node(op_type, inputs, 1, **attributes)[0]

    def reduce(self, op_type: str, x: str, axes, keepdims: bool = True) -> str:
        """``Reduce*`` over ``axes``: they are an input from opset 18 on (13 on for ReduceSum)."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.one(op_type, x, self.ints(axes), keepdims=int(keepdims))
        return self.one(op_type, x, axes=list(axes), keepdims=int(keepdims))

    def static_shape(self, tensor: Tensor, op_name: str) -> list[int]:
        """``tensor``'s shape as a Reshape target: a dynamic dim becomes -1 (ONNX infers it),
        which works as long as only one dim is dynamic."""
        shape = list(tensor.shape)
        dynamic = self.dynamic_dims(tensor)
        if len(dynamic) > 1:
            raise OnnxExporterError(
                f"{op_name} produces shape {tuple(shape)} whose dims {list(dynamic)} all follow "
                "dynamic axes; chainrule's exporter can make only one dim of a reshape dynamic")
        for dim in dynamic:
            shape[dim] = -1
        return shape
