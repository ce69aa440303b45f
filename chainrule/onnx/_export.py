"""``torch.onnx.export``: record the forward, translate each op, write the model."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from chainrule import __version__
from chainrule._optional import import_optional
from chainrule._tensor import Tensor
from chainrule.onnx import _translate_nn, _translate_tensor  # noqa: F401 - fill the table
from chainrule.onnx._graph import GraphBuilder
from chainrule.onnx._program import ONNXProgram
from chainrule.onnx._registry import TRANSLATIONS, aten_name
from chainrule.onnx._trace import record
from chainrule.onnx._two_recordings import (
    dynamic_dims_of_ops,
    normalize_dynamic_axes,
    other_inputs,
)
from chainrule.onnx.errors import UnsupportedOperatorError
from chainrule.serialization import atomic_writer

__all__ = ["export", "DEFAULT_OPSET", "SUPPORTED_OPSETS"]

DEFAULT_OPSET = 20  # torch 2.13's default
SUPPORTED_OPSETS = range(13, 21)
# torch's other options: they tune its own exporters and change nothing in chainrule's graph
_ACCEPTED_OPTIONS = frozenset({
    "custom_translation_table", "report", "optimize", "verify", "profile",
    "dump_exported_program", "artifacts_dir", "training", "operator_export_type",
    "custom_opsets", "export_modules_as_functions", "autograd_inlining"})


def export(model, args: Any = (), f: str | os.PathLike | Any | None = None, *,
           kwargs: dict | None = None, verbose: bool | None = None,
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           opset_version: int | None = None, dynamo: bool = True, external_data: bool = True,
           dynamic_shapes: Any = None, export_params: bool = True,
           keep_initializers_as_inputs: bool = False,
           dynamic_axes: Mapping[str, Mapping[int, str]] | Mapping[str, Sequence[int]] | None = None,
           do_constant_folding: bool = True, **options: Any):
    """Export ``model`` (an ``nn.Module`` or a function of tensors) run on ``args`` as an ONNX
    model written to ``f`` (a path or a binary file object); returns the ``onnx.ModelProto``.

    The forward is recorded op by op; each op becomes its ONNX nodes, parameters and buffers
    become initializers named by their ``state_dict`` keys (graph inputs when
    ``export_params=False``). ``dynamic_axes`` (``{"input": {0: "batch"}}`` or
    ``{"input": [0]}``) lets those dims vary. Needs the ``onnx`` package.

    >>> import io, chainrule as torch
    >>> program = torch.onnx.export(torch.nn.Linear(3, 2), torch.randn(1, 3))
    >>> program
    ONNXProgram(inputs=['input'], outputs=['output'], nodes=2, opset=20)
    >>> [node.op_type for node in program.model_proto.graph.node]
    ['Gemm', 'Identity']
    """
    for option in options:
        if option not in _ACCEPTED_OPTIONS:
            raise TypeError(f"export() got an unexpected keyword argument '{option}'")
    onnx = import_optional("onnx", "onnx", "ONNX export")
    if dynamic_shapes is not None:
        raise NotImplementedError("chainrule's torch.onnx.export takes dynamic_axes, not dynamic_shapes")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset not in SUPPORTED_OPSETS:
        raise RuntimeError(f"Unsupported onnx_opset_version: {opset} (chainrule exports opset "
                           f"versions {SUPPORTED_OPSETS.start} to {SUPPORTED_OPSETS.stop - 1})")
    inputs = _as_tuple(args)
    kwargs = dict(kwargs or {})
    if inputs and isinstance(inputs[-1], dict) and not kwargs:  # torch's trailing-dict form
        inputs, kwargs = inputs[:-1], dict(inputs[-1])
    for i, value in enumerate(inputs):
        if not isinstance(value, Tensor):
            raise TypeError(f"torch.onnx.export: argument {i} is a {type(value).__name__}, "
                            "chainrule exports only tensor inputs")
    forward = model.forward if hasattr(model, "forward") else model
    names = _input_names(forward, inputs, input_names)
    with _eval_mode(model):
        proto = _build(onnx, model, inputs, kwargs, names, output_names, opset, dynamic_axes,
                       export_params, keep_initializers_as_inputs)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    _write(proto.SerializeToString(), f)
    return ONNXProgram(proto) if dynamo else None


def _as_tuple(args) -> tuple:
    if isinstance(args, Tensor):
        return (args,)
    return tuple(args)


def _input_names(forward, inputs: tuple, given: Sequence[str] | None) -> list[str]:
    """The names given, then the forward's own parameter names, as torch's exporter does."""
    names = list(given or [])
    if len(names) > len(inputs):
        raise ValueError(f"input_names has {len(names)} names for {len(inputs)} inputs")
    try:
        parameters = [p.name for p in inspect.signature(forward).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        parameters = []
    for i in range(len(names), len(inputs)):
        names.append(parameters[i] if i < len(parameters) else f"input_{i}")
    return names


@contextmanager
def _eval_mode(model):
    """The model in eval mode while exported (torch's default ``training=EVAL``), then each
    submodule back in the mode it was in."""
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    if modes:
        model.train(False)
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _outputs(result) -> list[Tensor]:
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in _outputs(item)]
    raise TypeError(f"torch.onnx.export: the model returned a {type(result).__name__}; "
                    "chainrule exports tensors and tuples or lists of tensors")


def _build(onnx, model, inputs, kwargs, names, output_names, opset, dynamic_axes,
           export_params, keep_initializers_as_inputs):
    def call(*tensors):
        return model(*tensors, **kwargs)

    ops, result = record(call, inputs)
    outputs = _outputs(result)
    out_names = list(output_names or [])
    out_names += ["output" if len(outputs) == 1 else f"output_{i}"
                  for i in range(len(out_names), len(outputs))]
    axes = normalize_dynamic_axes(dynamic_axes, names + out_names)
    parameters = _named_parameters(model)
    dynamic, filled = _dynamic_dims(call, ops, inputs, [sorted(axes.get(n, {})) for n in names],
                                    parameters)

    g = GraphBuilder(onnx, opset, dynamic, parameters, filled)
    for tensor, name in zip(inputs, names):
        g.bind(tensor, name)
    for op in ops:
        rule = TRANSLATIONS.get(op.function)
        if rule is None:
            raise UnsupportedOperatorError(aten_name(op.function), opset, None)
        produced = rule(g, op)
        g.bind_outputs(op, [produced] if isinstance(produced, str) else produced)
    for tensor, name in zip(outputs, out_names):
        g.one_named("Identity", [g.name(tensor)], name)

    dim_names = _dim_names(inputs, names, axes, outputs, out_names, dynamic)
    graph_inputs = [g.value_info(name, t, _shape(t, dim_names)) for t, name in zip(inputs, names)]
    graph_inputs += g.parameter_inputs(export_params, keep_initializers_as_inputs)
    graph_outputs = [g.value_info(name, t, _shape(t, dim_names)) for t, name in zip(outputs, out_names)]
    return _model(onnx, onnx.helper.make_graph(g.nodes, "main_graph", graph_inputs, graph_outputs,
                                               g.initializers), opset)


def _dynamic_dims(call, ops, inputs, input_dims, parameters) -> dict[int, tuple]:
    """Record ``call`` a second time (see ``_two_recordings``): ``{id(tensor): dynamic dims}``
    for the inputs and every recorded op output, and the filled tensors that follow them."""
    known = {id(t) for t in parameters.values()} | {
        id(x) for t in (*inputs, *(o for op in ops for o in op.outputs)) for x in (t, t._data)}
    others = other_inputs(inputs, input_dims)
    second, _ = record(call, others)
    dim_sources = {(tensor.shape[d], other.shape[d]): (tensor, d)
                   for tensor, other, dims in zip(inputs, others, input_dims) for d in dims}
    dynamic, filled = dynamic_dims_of_ops(ops, second, known, dim_sources)
    for tensor, dims in zip(inputs, input_dims):
        dynamic[id(tensor)] = tuple(dims)
    return dynamic, filled


def _model(onnx, graph, opset: int):
    """The checked model of ``graph`` at ``opset``, with the oldest IR version that has it."""
    opset_id = onnx.helper.make_opsetid("", opset)
    proto = onnx.helper.make_model(graph, opset_imports=[opset_id], producer_name="chainrule",
                                   producer_version=__version__)
    proto.ir_version = onnx.helper.find_min_ir_version_for([opset_id])
    onnx.checker.check_model(proto)
    return proto


def _named_parameters(model) -> dict[str, Tensor]:
    if not hasattr(model, "state_dict"):
        return {}
    named = dict(model.named_parameters())
    named.update(model.named_buffers())
    return named


def _dim_names(inputs, names, axes, outputs, out_names, dynamic) -> dict[tuple, str]:
    """``{(id(tensor), dim): name}`` for the dynamic dims of the graph's inputs and outputs;
    an output dim that follows an input's dynamic dim takes that dim's name."""
    dim_names = {}
    sizes = {}
    for tensor, name in zip(inputs, names):
        for dim, dim_name in axes.get(name, {}).items():
            dim_names[id(tensor), dim] = dim_name
            sizes.setdefault(tensor.shape[dim], dim_name)
    for tensor, name in zip(outputs, out_names):
        given = axes.get(name, {})
        for dim in set(dynamic.get(id(tensor), ())) | set(given):
            dim_names[id(tensor), dim] = given.get(dim) or sizes.get(
                tensor.shape[dim], f"{name}_dim_{dim}")
    return dim_names


def _shape(tensor: Tensor, dim_names: dict) -> list:
    """``tensor``'s shape with each dynamic dim's name in place of its size."""
    return [dim_names.get((id(tensor), d), size) for d, size in enumerate(tensor.shape)]


def _write(data: bytes, f) -> None:
    if f is None:
        return
    if isinstance(f, (str, os.PathLike)):
        with atomic_writer(f) as out:
            out.write(data)
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"torch.onnx.export: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")
