"""Loss functions (``torch.nn.functional``'s losses), each one op with its gradient beside it.

Every loss computes its per-element values with NumPy, then reduces them
(``reduction='mean' | 'sum' | 'none'``). Backward formulas are written with
chainrule ops, so second derivatives work. ``cross_entropy`` with class indices
is a single fused op whose backward is the closed form
``(softmax - one_hot) * scale``; its ``backward_arrays`` computes the same on
NumPy arrays, which the engine runs when no graph of the backward is recorded.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> logits = torch.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
>>> loss = F.cross_entropy(logits, torch.tensor([0]))
>>> loss.grad_fn.name()
'NllLossBackward0'
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._ops._util import broadcast_error
from chainrule._tensor import Tensor, make_tensor
from chainrule.amp.autocast_mode import autocast_inputs
from chainrule.autograd.function import Function
from chainrule.backends.cpu import softmax as cpu_softmax

__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
]

_REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------ shared helpers
def _check_reduction(reduction: str, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.asarray(loss.mean(), dtype=loss.dtype) if loss.size else np.asarray(np.nan, loss.dtype)
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=loss.dtype)
    return np.asarray(loss)


def _per_element_grad(grad: Tensor, reduction: str, shape: tuple) -> Tensor:
    """The gradient reaching each element before the reduction."""
    if reduction == "none":
        return grad
    count = math.prod(shape)
    grad = grad.expand(shape)
    return grad / count if reduction == "mean" and count else grad


def _warn_if_shapes_differ(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.", stacklevel=3)


def _difference(input: Tensor, target: Tensor) -> np.ndarray:
    """``input - target`` (broadcast, as PyTorch's regression losses do after their warning)."""
    try:
        return input._data - target._data
    except ValueError as error:
        raise broadcast_error(error, input, target) from None


# ---------------------------------------------------------------- regression losses
class MseLoss(Function):
    node_name = "MseLossBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction="mean"):
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction
        return _reduce(np.square(_difference(input, target)), reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        diff = input - target
        g = _per_element_grad(grad, ctx.reduction, diff.shape) * 2 * diff
        return g, (-g if ctx.needs_input_grad[1] else None)


class L1Loss(Function):
    node_name = "L1LossBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction="mean"):
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction
        return _reduce(np.abs(_difference(input, target)), reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        diff = input - target
        g = _per_element_grad(grad, ctx.reduction, diff.shape) * diff.sign()
        return g, (-g if ctx.needs_input_grad[1] else None)


class SmoothL1Loss(Function):
    """Quadratic within ``beta`` of the target, linear outside (``huber=True``: Huber's scaling)."""

    node_name = "SmoothL1LossBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction="mean", beta=1.0, huber=False):
        ctx.save_for_backward(input, target)
        ctx.reduction, ctx.beta, ctx.huber = reduction, beta, huber
        diff = _difference(input, target)
        a = np.abs(diff)
        if huber:
            loss = np.where(a < beta, 0.5 * diff * diff, beta * (a - 0.5 * beta))
        elif beta == 0:
            loss = a
        else:
            loss = np.where(a < beta, 0.5 * diff * diff / beta, a - 0.5 * beta)
        return _reduce(loss.astype(diff.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        diff = input - target
        d = diff._data
        inside = np.abs(d) < ctx.beta
        # slope inside the quadratic zone is diff/beta (diff for Huber), outside it is sign(diff)
        outside_scale = ctx.beta if ctx.huber else 1.0
        inside_scale = 1.0 if ctx.huber else 1.0 / ctx.beta if ctx.beta else 0.0
        slope = diff * make_tensor((inside * inside_scale).astype(d.dtype)) + diff.sign() * make_tensor(
            (~inside * outside_scale).astype(d.dtype))
        g = _per_element_grad(grad, ctx.reduction, d.shape) * slope
        return g, (-g if ctx.needs_input_grad[1] else None)


class HuberLoss(SmoothL1Loss):
    node_name = "HuberLossBackward0"


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target) ** 2``, reduced.

    >>> import chainrule as torch
    >>> torch.nn.functional.mse_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]))
    tensor(5.)
    """
    input, target, weight = autocast_inputs("mse_loss", input, target, weight)
    _check_reduction(reduction)
    _warn_if_shapes_differ(input, target)
    loss = MseLoss.apply(input, target, reduction="none" if weight is not None else reduction)
    return _weighted(loss, weight, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``, reduced."""
    input, target, weight = autocast_inputs("l1_loss", input, target, weight)
    _check_reduction(reduction)
    _warn_if_shapes_differ(input, target)
    loss = L1Loss.apply(input, target, reduction="none" if weight is not None else reduction)
    return _weighted(loss, weight, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 * d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 * beta`` (``d = input - target``)."""
    input, target = autocast_inputs("smooth_l1_loss", input, target)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_if_shapes_differ(input, target)
    return SmoothL1Loss.apply(input, target, reduction=reduction, beta=float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 * d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 * delta)``."""
    input, target, weight = autocast_inputs("huber_loss", input, target, weight)
    _check_reduction(reduction)
    _warn_if_shapes_differ(input, target)
    loss = HuberLoss.apply(input, target, reduction="none" if weight is not None else reduction,
                           beta=float(delta), huber=True)
    return _weighted(loss, weight, reduction, mean_over_weights=False)


def _weighted(loss: Tensor, weight, reduction: str, mean_over_weights: bool = True) -> Tensor:
    """Per-element ``weight``. torch's weighted mean divides by the summed weights for MSE and
    L1, but by the element count for Huber (``mean_over_weights=False``)."""
    if weight is None:
        return loss
    if weight.shape != loss.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum() if mean_over_weights else loss.mean()
    return loss.sum() if reduction == "sum" else loss


# ------------------------------------------------------------ classification losses
def _class_layout(input: np.ndarray, target: np.ndarray):
    """Rows of class scores ``(M, C)`` and flat targets ``(M,)`` from (N, C, d1, ...) input."""
    if input.ndim == 0:
        raise ValueError("Expected input to have at least 1 dimension (got 0)")
    if input.ndim == 1:
        if target.ndim != 0:
            raise ValueError(
                f"Expected input batch_size ({1}) to match target batch_size ({target.shape[0]}).")
        return input.reshape(1, -1), target.reshape(1)
    if target.shape[:1] != input.shape[:1]:
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0] if target.ndim else 1}).")
    if target.shape != input.shape[:1] + input.shape[2:]:
        raise RuntimeError(
            f"Expected target size {list(input.shape[:1] + input.shape[2:])}, got {list(target.shape)}"
            if input.ndim > 2 else
            "0D or 1D target tensor expected, multi-target not supported")
    classes = input.shape[1]
    rows = np.moveaxis(input, 1, -1).reshape(-1, classes) if input.ndim > 2 else input
    return rows, target.reshape(-1)


def _restore_layout(rows: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of ``_class_layout`` for an ``(M, C)`` array."""
    if len(shape) == 1:
        return rows.reshape(shape)
    if len(shape) == 2:
        return rows
    moved = shape[:1] + shape[2:] + shape[1:2]
    return np.moveaxis(rows.reshape(moved), -1, 1)


def _target_indices(target: np.ndarray, classes: int, ignore_index: int):
    """Safe indices into the classes and the mask of targets that count."""
    if target.dtype not in (np.int64, np.uint8):
        from chainrule._ops._util import type_label

        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {type_label(target.dtype)}")
    kept = target != ignore_index
    safe = np.where(kept, target, 0)
    if safe.size and (safe.min() < 0 or safe.max() >= classes):
        bad = safe[(safe < 0) | (safe >= classes)][0]
        raise IndexError(f"Target {bad} is out of bounds.")
    return safe, kept


def _every_target_counts(target: np.ndarray, classes: int, ignore_index: int) -> bool:
    """Whether the targets are class indices, none of them ``ignore_index`` (the common case)."""
    if not target.size or target.dtype not in (np.int64, np.uint8) or 0 <= ignore_index < classes:
        return False
    low, high = (target.item(),) * 2 if target.size == 1 else (target.min(), target.max())
    return 0 <= low and high < classes


def _log_softmax_rows(rows: np.ndarray):
    """``log_softmax`` along the last axis, stably, and the softmax it came from."""
    compiled = cpu_softmax.log_softmax_rows(rows)
    if compiled is not None:
        return compiled
    shifted = rows - rows.max(axis=-1, keepdims=True)
    probs = np.exp(shifted)
    total = probs.sum(axis=-1, keepdims=True)
    probs /= total
    shifted -= np.log(total)
    return shifted, probs


class _NllTerms:
    """Per-row coefficients shared by ``nll_loss`` and fused ``cross_entropy`` (class indices).

    ``loss = (1 - eps) * nll + eps / C * smooth``; with ``reduction='mean'`` both
    terms divide by the summed weights of the targets that are not ignored.
    """

    def __init__(self, target, classes, weight, ignore_index, reduction, smoothing, dtype):
        w = weight._data.astype(dtype, copy=False) if weight is not None else None
        if w is not None and w.shape != (classes,):
            raise RuntimeError(
                f"weight tensor should be defined either for all {classes} classes or no classes "
                f"but got weight tensor of shape: {list(w.shape)}")
        self.class_weight = w
        self.smoothing = smoothing
        self.classes = classes
        self.reduction = reduction
        nll_scale, smooth_scale = 1.0 - smoothing, smoothing / classes
        self.undefined_mean = False
        if w is None and _every_target_counts(target, classes, ignore_index):
            # every row counts once: no masks, no per-row weights to sum
            self.safe = target.copy()  # backward reads it, as it reads the copy np.where makes
            denominator = len(target) if reduction == "mean" else 1
            self.nll_row_scale = np.full(len(target), nll_scale / denominator, dtype)
            self.smooth_row_scale = np.full(len(target), smooth_scale / denominator, dtype)
            return
        self.safe, kept = _target_indices(target, classes, ignore_index)
        row_weight = (w[self.safe] if w is not None else np.ones(len(self.safe), dtype)) * kept
        if reduction == "mean":
            denominator = float(row_weight.sum(dtype=dtype))
            self.undefined_mean = denominator == 0  # torch gives nan, and zero gradients
            nll_scale /= denominator or 1.0
            smooth_scale /= denominator or 1.0
        # what d(loss)/d(-log_prob[target]) and d(loss)/d(smoothing term) are, per row
        self.nll_row_scale = (row_weight * nll_scale).astype(dtype, copy=False)
        self.smooth_row_scale = (kept * smooth_scale).astype(dtype, copy=False)

    def value(self, log_probs: np.ndarray) -> np.ndarray:
        rows = np.arange(len(self.safe))
        per_row = -log_probs[rows, self.safe] * self.nll_row_scale
        if self.smoothing:
            w = self.class_weight
            smooth = -(log_probs.sum(-1) if w is None else log_probs @ w)
            per_row += smooth * self.smooth_row_scale
        if self.reduction == "none":
            return per_row.astype(log_probs.dtype, copy=False)
        if self.undefined_mean:
            return np.asarray(np.nan, dtype=log_probs.dtype)
        return np.asarray(per_row.sum(), dtype=log_probs.dtype)

    def row_coefficients(self, grad: np.ndarray):
        """Scales of d(loss)/d(log_prob[target]) and of the smoothing term, per row."""
        g = grad.reshape(-1) if self.reduction == "none" else grad
        return g * self.nll_row_scale, g * self.smooth_row_scale


class NllLoss(Function):
    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, input, target, weight=None, ignore_index=-100, reduction="mean"):
        x, t = input._data, target._data
        ctx.input_shape = x.shape
        if (weight is None and reduction != "none" and x.ndim == 2 and t.shape == x.shape[:1]
                and _every_target_counts(t, x.shape[1], ignore_index)):
            # The common case in a few NumPy calls: every row's target counts, with one scale.
            ctx.terms, ctx.scale = None, 1 / len(t) if reduction == "mean" else 1.0
            if len(t) == 1:  # one sample: plain indices, nothing to gather or sum
                ctx.targets = (0, t.item())
                return -x[ctx.targets]
            ctx.targets = (np.arange(len(t)), t.copy())
            return -np.add.reduce(x[ctx.targets] * ctx.scale)
        rows, flat = _class_layout(x, t)
        terms = _NllTerms(flat, rows.shape[1], weight, ignore_index, reduction, 0.0, x.dtype)
        ctx.terms = terms
        value = terms.value(rows)
        return value.reshape(target.shape) if reduction == "none" else value

    @staticmethod
    def backward(ctx, grad):
        return make_tensor(NllLoss.backward_arrays(ctx, grad._data)[0]), None

    @staticmethod
    def backward_arrays(ctx, grad):
        terms = ctx.terms
        if terms is None:
            rows = np.zeros(ctx.input_shape, grad.dtype)
            rows[ctx.targets] = grad * -ctx.scale
            return rows, None
        coefficient, _ = terms.row_coefficients(grad)
        rows = np.zeros((len(terms.safe), terms.classes), dtype=grad.dtype)
        rows[np.arange(len(terms.safe)), terms.safe] = -coefficient
        return _restore_layout(rows, ctx.input_shape), None


class NllLoss2d(NllLoss):
    node_name = "NllLoss2DBackward0"


class CrossEntropyIndices(Function):
    """Fused ``log_softmax`` + ``nll_loss``: one node, backward ``(softmax - one_hot) * scale``."""

    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, input, target, weight=None, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        x = input._data
        rows, flat = _class_layout(x, target._data)
        terms = _NllTerms(flat, rows.shape[1], weight, ignore_index, reduction, label_smoothing,
                          x.dtype)
        log_probs, probs = _log_softmax_rows(rows)
        ctx.terms, ctx.input_shape = terms, x.shape
        ctx.save_for_backward(input, probs)
        value = terms.value(log_probs)
        return value.reshape(target.shape) if reduction == "none" else value

    @staticmethod
    def backward(ctx, grad):
        input, _ = ctx.saved_tensors
        return _cross_entropy_grad_graph(ctx.terms, input, grad, ctx.input_shape), None

    @staticmethod
    def backward_arrays(ctx, grad):
        terms = ctx.terms
        _, probs = ctx.saved_tensors
        nll, smooth = terms.row_coefficients(grad)
        p = probs._data
        result = p * (nll + smooth * _total_class_weight(terms))[:, None]
        result[np.arange(len(terms.safe)), terms.safe] -= nll
        if terms.smoothing:
            w = terms.class_weight
            result -= smooth[:, None] * (w if w is not None else 1.0)
        return _restore_layout(result, ctx.input_shape), None


class CrossEntropyIndices2d(CrossEntropyIndices):
    node_name = "NllLoss2DBackward0"


def _dtype_name(t: Tensor) -> str:
    from chainrule._ops._util import type_label

    return type_label(t._data.dtype)


def _movedim(t: Tensor, source: int, destination: int) -> Tensor:
    order = list(range(t.ndim))
    order.insert(destination % t.ndim, order.pop(source % t.ndim))
    return t.permute(*order)


def _total_class_weight(terms: _NllTerms):
    return terms.class_weight.sum() if terms.class_weight is not None else terms.classes


def _cross_entropy_grad_graph(terms: _NllTerms, input: Tensor, grad: Tensor, shape) -> Tensor:
    """The fused backward as chainrule ops, so it can be differentiated again."""
    dtype = input._data.dtype
    rows = input.reshape(-1, shape[-1]) if input.ndim <= 2 else _movedim(input, 1, -1).reshape(
        -1, shape[1])
    shift = make_tensor(rows._data.max(axis=-1, keepdims=True))
    exps = (rows - shift).exp()
    probs = exps / exps.sum(-1, keepdim=True)
    count = len(terms.safe)
    one_hot = np.zeros((count, terms.classes), dtype)
    one_hot[np.arange(count), terms.safe] = 1
    g = grad.reshape(-1, 1) if terms.reduction == "none" else grad
    nll = g * make_tensor(terms.nll_row_scale[:, None])
    result = nll * (probs - make_tensor(one_hot))
    if terms.smoothing:
        smooth = g * make_tensor(terms.smooth_row_scale[:, None])
        w = terms.class_weight if terms.class_weight is not None else np.ones(terms.classes, dtype)
        result = result + smooth * (probs * float(w.sum()) - make_tensor(w))
    if len(shape) <= 2:
        return result.reshape(shape)
    moved = tuple(shape[:1]) + tuple(shape[2:]) + tuple(shape[1:2])
    return _movedim(result.reshape(moved), -1, 1)


class CrossEntropyProbabilities(Function):
    node_name = "CrossEntropyBackward0"

    @staticmethod
    def forward(ctx, input, target, weight=None, reduction="mean", label_smoothing=0.0):
        x, t = input._data, target._data
        classes = x.shape[1] if x.ndim > 1 else x.shape[0]
        axis = 1 if x.ndim > 1 else 0
        if label_smoothing:
            t = t * (1 - label_smoothing) + label_smoothing / classes
        rows = np.moveaxis(x, axis, -1)
        log_probs, probs = _log_softmax_rows(rows)
        w = weight._data.astype(x.dtype) if weight is not None else np.ones(classes, x.dtype)
        weighted_target = np.moveaxis(t, axis, -1) * w
        ctx.save_for_backward(make_tensor(probs), make_tensor(weighted_target),
                              make_tensor(log_probs * w))
        ctx.axis, ctx.reduction, ctx.count = axis, reduction, x.size // max(classes, 1)
        ctx.smoothing = label_smoothing
        loss = -(log_probs * weighted_target).sum(-1)
        if reduction == "mean":
            return np.asarray(loss.sum() / ctx.count, dtype=x.dtype)
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        probs, weighted_target, weighted_log_probs = ctx.saved_tensors
        g = grad if ctx.reduction == "none" else grad.expand(probs.shape[:-1])
        if ctx.reduction == "mean":
            g = g / ctx.count
        g = g.unsqueeze(-1)
        grad_input = g * (probs * weighted_target.sum(-1, keepdim=True) - weighted_target)
        grad_target = None
        if ctx.needs_input_grad[1]:
            grad_target = -g * weighted_log_probs * (1 - ctx.smoothing)
            grad_target = _movedim(grad_target, -1, ctx.axis)
        return _movedim(grad_input, -1, ctx.axis), grad_target


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of the target classes, given log-probabilities ``(N, C, d1, ...)``."""
    input, target, weight = autocast_inputs("nll_loss", input, target, weight)
    _check_reduction(reduction)
    op = NllLoss2d if input.ndim >= 3 else NllLoss
    return op.apply(input, target, weight=weight, ignore_index=ignore_index, reduction=reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits ``(N, C, d1, ...)`` and class indices or class probabilities.

    >>> import chainrule as torch
    >>> torch.nn.functional.cross_entropy(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
    tensor(0.6931)
    """
    input, target, weight = autocast_inputs("cross_entropy", input, target, weight)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if not is_floating_numpy(input._data.dtype):
        from chainrule._ops._util import type_label

        raise RuntimeError(
            f"\"log_softmax_lastdim_kernel_impl\" not implemented for '{type_label(input._data.dtype)}'")
    if target.shape == input.shape:
        if not is_floating_numpy(target._data.dtype):
            raise RuntimeError("Expected floating point type for target with class probabilities, "
                               f"got {_dtype_name(target)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return CrossEntropyProbabilities.apply(input, target, weight=weight, reduction=reduction,
                                               label_smoothing=float(label_smoothing))
    op = CrossEntropyIndices2d if input.ndim >= 3 else CrossEntropyIndices
    return op.apply(input, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
                    label_smoothing=float(label_smoothing))


# ----------------------------------------------------------------- binary and KL losses
class BinaryCrossEntropy(Function):
    node_name = "BinaryCrossEntropyBackward0"

    @staticmethod
    def forward(ctx, input, target, weight=None, reduction="mean"):
        x, t = input._data, target._data
        if x.size and (x.min() < 0 or x.max() > 1):
            raise RuntimeError("all elements of input should be between 0 and 1")
        ctx.save_for_backward(input, target, weight)
        ctx.reduction = reduction
        with np.errstate(divide="ignore"):
            # PyTorch clamps each log at -100 so that a confident mistake stays finite.
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if weight is not None:
            loss = loss * weight._data
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target, weight = ctx.saved_tensors
        x = input._data
        denominator = make_tensor(np.maximum((1 - x) * x, 1e-12).astype(x.dtype, copy=False))
        g = _per_element_grad(grad, ctx.reduction, x.shape)
        if weight is not None:
            g = g * weight
        grad_input = g * (input - target) / denominator
        grad_target = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                logit = np.maximum(np.log1p(-x), -100) - np.maximum(np.log(x), -100)
            grad_target = g * make_tensor(logit.astype(x.dtype, copy=False))
        return grad_input, grad_target, None


class BinaryCrossEntropyWithLogits(Function):
    node_name = "BinaryCrossEntropyWithLogitsBackward0"

    @staticmethod
    def forward(ctx, input, target, weight=None, pos_weight=None, reduction="mean"):
        x, t = input._data, target._data
        softplus_neg = np.logaddexp(0, -x).astype(x.dtype, copy=False)  # log(1 + e^-x), stable
        if pos_weight is not None:
            log_weight = 1 + (pos_weight._data - 1) * t
            loss = (1 - t) * x + log_weight * softplus_neg
        else:
            loss = (1 - t) * x + softplus_neg
        if weight is not None:
            loss = loss * weight._data
        ctx.save_for_backward(input, target, weight, pos_weight)
        ctx.reduction = reduction
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target, weight, pos_weight = ctx.saved_tensors
        g = _per_element_grad(grad, ctx.reduction, np.broadcast_shapes(input.shape, target.shape))
        if weight is not None:
            g = g * weight
        probs = input.sigmoid()
        if pos_weight is None:
            grad_input = g * (probs - target)
        else:
            log_weight = (pos_weight - 1) * target + 1
            grad_input = g * (log_weight * probs - log_weight + 1 - target)
        grad_target = None
        if ctx.needs_input_grad[1]:
            grad_target = -g * input
            if pos_weight is not None:
                softplus_neg = make_tensor(np.logaddexp(0, -input._data).astype(input._data.dtype))
                grad_target = grad_target + g * (pos_weight - 1) * softplus_neg
        return grad_input, grad_target, None, None


class KlDiv(Function):
    node_name = "KlDivBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction="mean", log_target=False):
        x, t = input._data, target._data
        if log_target:
            loss = np.exp(t) * (t - x)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * x
        ctx.save_for_backward(input, target)
        ctx.reduction, ctx.log_target = reduction, log_target
        loss = loss.astype(np.result_type(x, t), copy=False)
        if reduction == "batchmean":
            batch = x.shape[0] if x.ndim else 1
            return np.asarray(loss.sum() / batch, dtype=loss.dtype)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        shape = np.broadcast_shapes(input.shape, target.shape)
        if ctx.reduction == "batchmean":
            g = grad.expand(shape) / (shape[0] if shape else 1)
        else:
            g = _per_element_grad(grad, ctx.reduction, shape)
        weight = target.exp() if ctx.log_target else target
        grad_input = -g * weight
        grad_target = None
        if ctx.needs_input_grad[1]:
            if ctx.log_target:
                grad_target = g * weight * (target - input + 1)
            else:
                t = target._data
                with np.errstate(divide="ignore"):
                    log_t = make_tensor(np.where(t > 0, np.log(np.where(t > 0, t, 1)), 0).astype(t.dtype))
                grad_target = g * (log_t + 1 - input)
        return grad_input, grad_target


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``-(t * log(x) + (1 - t) * log(1 - x))`` for probabilities ``x`` in [0, 1]."""
    input, target, weight = autocast_inputs("binary_cross_entropy", input, target, weight)
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size.")
    return BinaryCrossEntropy.apply(input, target, weight, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid followed by binary cross entropy, computed stably from the logits."""
    input, target, weight, pos_weight = autocast_inputs(
        "binary_cross_entropy_with_logits", input, target, weight, pos_weight)
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight,
                                              reduction=reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence ``target * (log(target) - input)``; ``input`` is log-probabilities."""
    input, target = autocast_inputs("kl_div", input, target)
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.", stacklevel=2)
    return KlDiv.apply(input, target, reduction=reduction, log_target=log_target)
