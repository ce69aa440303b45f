"""The exporter's exceptions, as ``torch.onnx.errors`` names them.

>>> from chainrule.onnx.errors import UnsupportedOperatorError
>>> str(UnsupportedOperatorError("aten::cumsum", 20, None))
"Exporting the operator 'aten::cumsum' to ONNX opset version 20 is not supported"
"""

from __future__ import annotations

__all__ = ["OnnxExporterError", "OnnxExporterWarning", "UnsupportedOperatorError"]


class OnnxExporterWarning(UserWarning):
    """Warnings in the ONNX exporter."""


class OnnxExporterError(RuntimeError):
    """Errors raised by the ONNX exporter; the base class of the others."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op of the recorded forward that has no ONNX translation (at this opset)."""

    def __init__(self, name: str, version: int, supported_version: int | None) -> None:
        message = f"Exporting the operator '{name}' to ONNX opset version {version} is not supported"
        if supported_version is not None:
            message += (f". Support for this operator was added in version {supported_version}, "
                        "try exporting with this version")
        super().__init__(message)
