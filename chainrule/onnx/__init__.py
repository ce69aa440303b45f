"""``torch.onnx``: export a model to the ONNX format (needs ``pip install "chainrule[onnx]"``).

``export(model, args, "model.onnx")`` records one forward pass op by op and writes the ONNX
graph that computes it; ``errors`` holds the exporter's exceptions.
"""

from chainrule.onnx import errors
from chainrule.onnx._export import export
from chainrule.onnx._program import ONNXProgram
from chainrule.onnx.errors import OnnxExporterError

__all__ = ["export", "errors", "is_in_onnx_export", "ONNXProgram", "OnnxExporterError"]


def is_in_onnx_export() -> bool:
    """Whether an export is recording a forward pass right now."""
    from chainrule.autograd import function

    return function.trace_hook is not None
