"""Printing tensors exactly as PyTorch does (``tensor([[1.0000, 2.5000], ...])``).

One formatter looks at all the values that will be shown and picks a single
style for them (integer-valued ``1.``, fixed ``1.2500`` or scientific
``1.2500e+03``) and a width, so columns line up; large tensors show only
their ``edgeitems`` first and last entries per dimension, with ``...``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from chainrule._dtype import is_floating_numpy

__all__ = ["set_printoptions", "get_printoptions", "printoptions"]

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def type_name(t) -> str:
    """``'torch.FloatTensor'`` and friends, as ``Tensor.type()`` returns."""
    return "torch." + _TYPE_NAMES[np.dtype(t._data.dtype).name]


@dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print (``profile`` is ``"default"``, ``"short"`` or ``"full"``).

    >>> import chainrule as torch
    >>> torch.set_printoptions(precision=2)
    >>> torch.tensor([1.2345])
    tensor([1.23])
    >>> torch.set_printoptions(profile="default")
    """
    if profile is not None:
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems,
         PRINT_OPTS.linewidth) = _PROFILES[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    return dict(vars(PRINT_OPTS))


class printoptions:
    """Context manager that sets print options and restores the old ones on exit."""

    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs

    def __enter__(self) -> None:
        self.saved = get_printoptions()
        set_printoptions(**self.kwargs)

    def __exit__(self, *exc) -> None:
        set_printoptions(**self.saved)


class _Formatter:
    """One style and width for every shown value of a tensor."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = is_floating_numpy(values.dtype)
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        precision = PRINT_OPTS.precision
        if not self.floating:
            if values.size:
                self.max_width = max(len(str(v)) for v in values.ravel().tolist())
        else:
            flat = values.ravel().astype(np.float64)
            finite = flat[np.isfinite(flat) & (flat != 0)]
            if finite.size:
                magnitudes = np.abs(finite)
                smallest, largest = magnitudes.min(), magnitudes.max()
                self.int_mode = bool(np.all(finite == np.ceil(finite)))
                self.sci_mode = (largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
                                 if PRINT_OPTS.sci_mode is None else PRINT_OPTS.sci_mode)
                shown = finite.tolist()
                if self.sci_mode:
                    self.max_width = max(len(f"{v:.{precision}e}") for v in shown)
                elif self.int_mode:
                    self.max_width = max(len(f"{v:.0f}") for v in shown) + 1
                else:
                    self.max_width = max(len(f"{v:.{precision}f}") for v in shown)

    def format(self, value) -> str:
        if self.floating:
            precision = PRINT_OPTS.precision
            if self.sci_mode:
                text = f"{value:{self.max_width}.{precision}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{precision}f}"
        else:
            text = str(value)
        return " " * (self.max_width - len(text)) + text


def _summarized(data: np.ndarray) -> np.ndarray:
    """The entries that will be shown: ``edgeitems`` from each end of every long dimension."""
    edge = PRINT_OPTS.edgeitems
    for axis, size in enumerate(data.shape):
        if size > 2 * edge:
            keep = np.r_[0:edge, size - edge:size]
            data = np.take(data, keep, axis=axis)
    return data


def _vector_str(data: np.ndarray, indent: int, summarize: bool, formatter: _Formatter) -> str:
    element_length = formatter.max_width + 2
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        items = ["..."]
    elif summarize and data.shape[0] > 2 * edge:
        items = ([formatter.format(v) for v in data[:edge].tolist()] + [" ..."]
                 + [formatter.format(v) for v in data[-edge:].tolist()])
    else:
        items = [formatter.format(v) for v in data.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(data: np.ndarray, indent: int, summarize: bool, formatter: _Formatter) -> str:
    if data.ndim == 0:
        return formatter.format(data.item())
    if data.ndim == 1:
        return _vector_str(data, indent, summarize, formatter)
    edge = PRINT_OPTS.edgeitems
    size = data.shape[0]
    if summarize and size > 2 * edge:
        rows = ([_nested_str(data[i], indent + 1, summarize, formatter) for i in range(edge)]
                + ["..."]
                + [_nested_str(data[i], indent + 1, summarize, formatter) for i in range(size - edge, size)])
    else:
        rows = [_nested_str(data[i], indent + 1, summarize, formatter) for i in range(size)]
    return "[" + ("," + "\n" * (data.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _values_str(data: np.ndarray, indent: int) -> str:
    summarize = data.size > PRINT_OPTS.threshold
    if data.dtype.itemsize == 2 and is_floating_numpy(data.dtype):  # float16, bfloat16
        data = data.astype(np.float32)
    if summarize and not PRINT_OPTS.edgeitems:
        shown = data.reshape(-1)[:0]
    else:
        shown = _summarized(data) if summarize else data
    return _nested_str(data, indent, summarize, _Formatter(shown))


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t) -> str:
    """``repr(t)`` in PyTorch's format, with ``dtype=``, ``grad_fn=`` or ``requires_grad=`` suffixes."""
    from chainrule._dtype import get_default_dtype

    cls_name = type(t).__name__
    prefix = "tensor(" if cls_name in ("Tensor", "Parameter") else cls_name + "("
    indent = len(prefix)
    data = t._data
    dtype = t.dtype
    default = get_default_dtype()
    suffixes = []
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if dtype != default:
            suffixes.append(f"dtype={dtype}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(data.shape)}")
        if dtype != default and dtype.name not in ("int64", "bool"):
            suffixes.append(f"dtype={dtype}")
        body = _values_str(data, indent)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
