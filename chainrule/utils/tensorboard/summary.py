"""Summary protocol buffers for each kind of data ``SummaryWriter`` logs.

The messages come from the ``tensorboard`` package (its compiled protobufs); this module
only turns tensors and arrays into them, the way ``torch.utils.tensorboard.summary`` does:
scalars as ``simple_value``, histograms as ``HistogramProto``, images as PNG, text and
hyper-parameters through their plugins' data.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from chainrule._optional import import_optional
from chainrule.utils.tensorboard._png import encode_png

__all__ = ["scalar", "histogram", "make_histogram", "default_bins", "image", "convert_to_HWC",
           "make_grid", "text", "hparams"]


def protos(name: str) -> ModuleType:
    """``tensorboard.<name>``, or the one-line ImportError saying how to install it."""
    return import_optional(f"tensorboard.{name}", "tensorboard", "TensorBoard logging")


def make_np(x: Any) -> np.ndarray:
    """A tensor's values (detached), a NumPy array as is, a Python number as a 1-element array."""
    from chainrule._tensor import Tensor

    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.array([x])
    if isinstance(x, Tensor):
        return x.detach().numpy()
    raise NotImplementedError(f"Got {type(x)}, but numpy array or torch tensor are expected.")


# ------------------------------------------------------------------ scalars
def scalar(tag: str, value: Any, new_style: bool = False, double_precision: bool = False):
    """A one-value summary: ``simple_value``, or a scalars-plugin tensor with ``new_style``."""
    summary_pb2, tensor_pb2 = protos("compat.proto.summary_pb2"), protos("compat.proto.tensor_pb2")
    array = make_np(value).squeeze()
    if array.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). "
                             f"Was given size: {array.size} and {array.ndim} dimensions.")
    number = float(array)
    if not new_style:
        return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=number)])
    tensor = (tensor_pb2.TensorProto(double_val=[number], dtype="DT_DOUBLE") if double_precision
              else tensor_pb2.TensorProto(float_val=[number], dtype="DT_FLOAT"))
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, tensor=tensor,
                                                                metadata=metadata)])


# ------------------------------------------------------------------ histograms
def default_bins() -> list[float]:
    """TensorFlow's default bucket edges: ``±1e-12 * 1.1**k`` up to ``±1e20``, and 0."""
    edges = []
    edge = 1e-12
    while edge < 1e20:
        edges.append(edge)
        edge *= 1.1
    return [-e for e in reversed(edges)] + [0] + edges


def histogram(tag: str, values: Any, bins: Any, max_bins: int | None = None):
    """A histogram summary of all of ``values`` (``bins`` as for ``np.histogram``)."""
    summary_pb2 = protos("compat.proto.summary_pb2")
    histo = make_histogram(make_np(values).astype(float), bins, max_bins)
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, histo=histo)])


def make_histogram(values: np.ndarray, bins: Any, max_bins: int | None = None):
    """A ``HistogramProto`` keeping only the buckets between the first and last non-empty ones
    (plus the empty bucket just before, which TensorBoard reads as the lower edge)."""
    summary_pb2 = protos("compat.proto.summary_pb2")
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        group = len(counts) // max_bins  # merge runs of `group` neighbouring buckets
        counts = np.pad(counts, (0, -len(counts) % group)).reshape(-1, group).sum(axis=1)
        limits = np.append(limits[:-1:group], limits[-1])
    nonempty = np.flatnonzero(counts)
    if nonempty.size == 0:  # every value fell outside the bins
        raise ValueError("The histogram is empty, please file a bug report.")
    first, last = int(nonempty[0]), int(nonempty[-1])
    kept_counts = counts[first - 1:last + 1] if first > 0 else np.concatenate([[0], counts[:last + 1]])
    return summary_pb2.HistogramProto(
        min=values.min(), max=values.max(), num=len(values), sum=values.sum(),
        sum_squares=values.dot(values), bucket_limit=limits[first:last + 2].tolist(),
        bucket=kept_counts.tolist())


# ------------------------------------------------------------------ images
def image(tag: str, tensor: Any, dataformats: str = "NCHW"):
    """An image summary: float images in ``[0, 1]`` are scaled to 0..255, ``uint8`` kept;
    a batch (``N`` in ``dataformats``) is tiled into one grid, 8 images a row."""
    summary_pb2 = protos("compat.proto.summary_pb2")
    array = convert_to_HWC(make_np(tensor), dataformats)
    scale = 1 if array.dtype == np.uint8 else 255
    pixels = (array.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    height, width, channels = pixels.shape
    encoded = summary_pb2.Summary.Image(height=height, width=width, colorspace=channels,
                                        encoded_image_string=encode_png(pixels))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, image=encoded)])


def convert_to_HWC(array: np.ndarray, input_format: str) -> np.ndarray:  # noqa: N802 - torch's name
    """Rearrange an image (``HW``, ``CHW``/``HWC`` in any order) or batch (``NCHW``...) to
    height x width x channels, greyscale repeated to RGB."""
    if len(set(input_format)) != len(input_format):
        raise AssertionError(f"You can not use the same dimension shorthand twice. "
                             f"input_format: {input_format}")
    if array.ndim != len(input_format):
        raise AssertionError(f"size of input tensor and input format are different. "
                             f"tensor shape: {array.shape}, input_format: {input_format}")
    input_format = input_format.upper()
    if len(input_format) == 4:
        grid = make_grid(array.transpose([input_format.find(c) for c in "NCHW"]))
        return grid.transpose(1, 2, 0)
    if len(input_format) == 3:
        array = array.transpose([input_format.find(c) for c in "HWC"])
        return np.concatenate([array] * 3, axis=2) if array.shape[2] == 1 else array
    array = array.transpose([input_format.find(c) for c in "HW"])
    return np.stack([array] * 3, axis=2)


def make_grid(images: np.ndarray, ncols: int = 8) -> np.ndarray:
    """Tile an ``(N, 1 or 3, H, W)`` batch into one ``(3, rows * H, ncols * W)`` image."""
    if images.shape[1] == 1:
        images = np.concatenate([images] * 3, axis=1)
    if images.ndim != 4 or images.shape[1] != 3:
        raise AssertionError("Input should be a 4D numpy array with 3 channels")
    count, _, height, width = images.shape
    ncols = min(count, ncols)
    nrows = -(-count // ncols)
    canvas = np.zeros((3, height * nrows, width * ncols), dtype=images.dtype)
    for i, picture in enumerate(images):
        row, col = divmod(i, ncols)
        canvas[:, row * height:(row + 1) * height, col * width:(col + 1) * width] = picture
    return canvas


# ------------------------------------------------------------------ text
def text(tag: str, text: str):
    """A text-plugin summary; TensorBoard shows it under ``<tag>/text_summary``."""
    summary_pb2, tensor_pb2 = protos("compat.proto.summary_pb2"), protos("compat.proto.tensor_pb2")
    shape_pb2 = protos("compat.proto.tensor_shape_pb2")
    text_data = protos("plugins.text.plugin_data_pb2").TextPluginData(version=0)
    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
        plugin_name="text", content=text_data.SerializeToString()))
    tensor = tensor_pb2.TensorProto(
        dtype="DT_STRING", string_val=[text.encode("utf_8")],
        tensor_shape=shape_pb2.TensorShapeProto(dim=[shape_pb2.TensorShapeProto.Dim(size=1)]))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
        tag=tag + "/text_summary", metadata=metadata, tensor=tensor)])


# ------------------------------------------------------------------ hyper-parameters
def hparams(hparam_dict: dict, metric_dict: dict, hparam_domain_discrete: dict | None = None):
    """The hparams plugin's three summaries: the experiment (which hyper-parameters and
    metrics exist), this session's hyper-parameter values, and the session's end."""
    api_pb2 = protos("plugins.hparams.api_pb2")
    if not isinstance(hparam_dict, dict):
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing logged.")
    for key, domain in domains.items():
        if (key not in hparam_dict or not isinstance(domain, list)
                or not all(isinstance(d, type(hparam_dict[key])) for d in domain)):
            raise TypeError(f"parameter: hparam_domain_discrete[{key}] should be a list of same "
                            f"type as hparam_dict[{key}].")
    start = protos("plugins.hparams.plugin_data_pb2").SessionStartInfo()
    infos = []
    for key, value in hparam_dict.items():
        if value is None:
            continue
        kind, field, value = _hparam_kind(value)
        setattr(start.hparams[key], field, value)
        info = api_pb2.HParamInfo(name=key, type=api_pb2.DataType.Value(kind))
        if key in domains:
            info.domain_discrete.values.extend(_struct_value(field, d) for d in domains[key])
        infos.append(info)
    experiment = api_pb2.Experiment(
        hparam_infos=infos,
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict])
    end = protos("plugins.hparams.plugin_data_pb2").SessionEndInfo(
        status=api_pb2.Status.Value("STATUS_SUCCESS"))
    metadata = protos("plugins.hparams.metadata")
    return (_hparams_summary(metadata.EXPERIMENT_TAG, experiment=experiment),
            _hparams_summary(metadata.SESSION_START_INFO_TAG, session_start_info=start),
            _hparams_summary(metadata.SESSION_END_INFO_TAG, session_end_info=end))


def _hparam_kind(value: Any) -> tuple[str, str, Any]:
    """(DataType name, ``google.protobuf.Value`` field, value) for one hyper-parameter."""
    from chainrule._tensor import Tensor

    if isinstance(value, (int, float)):  # bools too, as in PyTorch
        return "DATA_TYPE_FLOAT64", "number_value", value
    if isinstance(value, str):
        return "DATA_TYPE_STRING", "string_value", value
    if isinstance(value, Tensor):
        return "DATA_TYPE_FLOAT64", "number_value", float(make_np(value).reshape(-1)[0])
    raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")


def _struct_value(field: str, value: Any):
    struct_pb2 = import_optional("google.protobuf.struct_pb2", "tensorboard", "TensorBoard logging")
    return struct_pb2.Value(**{field: value})


def _hparams_summary(tag: str, **content):
    summary_pb2 = protos("compat.proto.summary_pb2")
    metadata = protos("plugins.hparams.metadata")
    data = protos("plugins.hparams.plugin_data_pb2").HParamsPluginData(
        version=metadata.PLUGIN_DATA_VERSION, **content)
    plugin = summary_pb2.SummaryMetadata.PluginData(plugin_name=metadata.PLUGIN_NAME,
                                                    content=data.SerializeToString())
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
        tag=tag, metadata=summary_pb2.SummaryMetadata(plugin_data=plugin))])
