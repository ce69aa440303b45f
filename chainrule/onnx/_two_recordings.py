"""Recording the forward twice: which dims follow ``dynamic_axes``, and which tensors the
recording missed.

The second recording runs on other input values, each dynamic input dim one larger. A dim of
a recorded value whose size differs between the two follows a dynamic axis: this is how a
reshape to ``(x.size(0), -1)`` is told apart from a reshape to ``(2, -1)`` without symbolic
shapes. A tensor that no recorded op made (a constant of the graph) must be the same in both,
or it was computed from the inputs outside the ops and the graph would be silently wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from chainrule._tensor import Tensor, make_tensor
from chainrule.onnx._registry import aten_name
from chainrule.onnx._trace import Op
from chainrule.onnx.errors import OnnxExporterError

__all__ = ["normalize_dynamic_axes", "other_inputs", "dynamic_dims_of_ops"]


def normalize_dynamic_axes(dynamic_axes: Mapping | None, names: Sequence[str]) -> dict[str, dict[int, str]]:
    """``{value name: {dim: dim name}}``; a list of dims gets PyTorch's names
    (``input_dynamic_axes_1``, ...)."""
    axes: dict[str, dict[int, str]] = {}
    for name, dims in (dynamic_axes or {}).items():
        if name not in names:
            raise ValueError(f"dynamic_axes names {name!r}, which is neither an input nor an "
                             f"output name (the names are {list(names)})")
        if isinstance(dims, Mapping):
            axes[name] = {int(d): str(n) for d, n in dims.items()}
        else:
            axes[name] = {int(d): f"{name}_dynamic_axes_{i + 1}" for i, d in enumerate(dims)}
    return axes


def other_inputs(inputs: Sequence[Tensor], dims: Sequence[Sequence[int]]) -> list[Tensor]:
    """Each input with its values moved along (integer inputs stay valid indices) and its
    dynamic dims one larger (the first slice repeated at the end)."""
    others = []
    for tensor, tensor_dims in zip(inputs, dims):
        data = np.roll(tensor._data.reshape(-1), 1).reshape(tensor.shape)
        if data.dtype.kind == "f":
            data = data * 0.5 + 0.25
        for dim in tensor_dims:
            data = np.take(data, np.arange(data.shape[dim] + 1) % data.shape[dim], axis=dim)
        others.append(make_tensor(np.ascontiguousarray(data)))
    return others


def dynamic_dims_of_ops(first: list[Op], second: list[Op], recorded: set[int],
                        dim_sources: dict[tuple, tuple]) -> tuple[dict, dict]:
    """``{id(output of first): dims whose size differs in second}``, after checking that both
    recordings applied the same ops and that the tensors made inside forward are constants.

    A tensor made inside forward that is filled with one value (``torch.zeros(x.size(0), h)``,
    an RNN's initial state) may follow dynamic axes: the second dict maps it to its shape
    recipe, each dim a size or the ``(input, dim)`` from ``dim_sources`` (``{(size in first,
    size in second): (input tensor, dim)}``) whose size it takes.
    """
    if [op.function for op in first] != [op.function for op in second]:
        raise OnnxExporterError(
            "the forward pass applied different ops when a dynamic axis changed size, so one "
            "ONNX graph cannot serve every size; export without dynamic_axes")
    dynamic: dict[int, tuple] = {}
    filled: dict[int, tuple] = {}
    for op_a, op_b in zip(first, second):
        for arg_a, arg_b in zip(op_a.args, op_b.args):
            if isinstance(arg_a, (Tensor, np.ndarray)) and id(arg_a) not in recorded:
                recipe = _constant_recipe(op_a, arg_a, arg_b, dim_sources)
                if recipe is not None:
                    filled[id(arg_a)] = (arg_a, recipe)
        for out_a, out_b in zip(op_a.outputs, op_b.outputs):
            changed = tuple(d for d, (a, b) in enumerate(zip(out_a.shape, out_b.shape)) if a != b)
            if changed:
                dynamic[id(out_a)] = changed
    return dynamic, filled


def _constant_recipe(op: Op, first, second, dim_sources: dict) -> list | None:
    """None for a true constant; the shape recipe of a filled tensor that follows dynamic
    axes; an error for a tensor computed from the inputs outside the recorded ops."""
    data_a = first._data if isinstance(first, Tensor) else first
    data_b = second._data if isinstance(second, Tensor) else second
    if data_a.shape != data_b.shape:
        recipe = [a if a == b else dim_sources.get((a, b))
                  for a, b in zip(data_a.shape, data_b.shape)]
        fill = data_a.flat[0] if data_a.size else None
        if (data_a.ndim != data_b.ndim or fill is None or None in recipe
                or not (np.all(data_a == fill) and np.all(data_b == fill))):
            raise OnnxExporterError(
                f"{aten_name(op.function)} uses a tensor of shape {data_a.shape} made inside "
                "forward whose size follows a dynamic axis; pass it as an input or export "
                "without dynamic_axes")
        return recipe
    if not np.array_equal(data_a, data_b, equal_nan=data_a.dtype.kind == "f"):
        raise OnnxExporterError(
            f"{aten_name(op.function)} uses a tensor of shape {data_a.shape} that forward "
            "computed from its inputs outside the recorded ops (or drew at random); an ONNX "
            "graph cannot recompute it")
    return None
