"""``ONNXProgram``: what ``torch.onnx.export`` returns (its default, ``dynamo=True``, form).

It holds the exported ``onnx.ModelProto``; ``save`` writes it, and calling it runs the model
in onnxruntime (the optional ``onnx`` extra) on chainrule tensors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from chainrule._optional import import_optional
from chainrule._tensor import Tensor, make_tensor
from chainrule.serialization import atomic_writer

__all__ = ["ONNXProgram"]


class ONNXProgram:
    """An exported model: ``model_proto`` (an ``onnx.ModelProto``), ``save(path)``, and
    ``program(*inputs)`` to run it in onnxruntime."""

    def __init__(self, model_proto) -> None:
        self.model_proto = model_proto
        self._session = None

    def save(self, destination: str | os.PathLike, **options) -> None:
        """Write the model to ``destination`` (atomically: a reader never sees half a file)."""
        with atomic_writer(destination) as out:
            out.write(self.model_proto.SerializeToString())

    def initialize_inference_session(self) -> None:
        ort = import_optional("onnxruntime", "onnx", "running an exported ONNX model")
        self._session = ort.InferenceSession(self.model_proto.SerializeToString(),
                                             providers=["CPUExecutionProvider"])

    def release(self) -> None:
        """Drop the onnxruntime session (it is made again on the next call)."""
        self._session = None

    def optimize(self) -> None:
        """Nothing to do: chainrule's graphs are written already simple."""

    def __call__(self, *args: Tensor) -> Sequence[Tensor]:
        """Run the model in onnxruntime on ``args``; returns its outputs as tensors."""
        if self._session is None:
            self.initialize_inference_session()
        names = [i.name for i in self._session.get_inputs()]
        if len(args) != len(names):
            raise ValueError(f"the exported model takes {len(names)} inputs {names}, "
                             f"got {len(args)}")
        feed = {name: arg._data for name, arg in zip(names, args)}
        return tuple(make_tensor(out) for out in self._session.run(None, feed))

    def __repr__(self) -> str:
        graph = self.model_proto.graph
        return (f"ONNXProgram(inputs={[i.name for i in graph.input]}, "
                f"outputs={[o.name for o in graph.output]}, nodes={len(graph.node)}, "
                f"opset={self.model_proto.opset_import[0].version})")
