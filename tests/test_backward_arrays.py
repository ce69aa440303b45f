"""Every op's two forms of one gradient agree: ``backward`` (chainrule ops, differentiable) and
the optional ``backward_arrays`` (NumPy arrays, what the engine runs when no graph of the
backward is recorded).

The ops are found by walking ``Function``'s subclasses after importing every chainrule module,
so an op that gains a ``backward_arrays`` without sample inputs in ``CASES`` fails here. Each
case runs in float32 and float64, for every combination of the inputs that require grad, with
the compiled kernels on and off (``backward_arrays`` may choose them); the two forms must give
the same gradients to rounding, of the same dtype and shape, and ``None`` in the same places.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import require_torch

import chainrule
import chainrule.nn.functional as F
from chainrule._ops.conversion import Clone
from chainrule._ops.shape import Cat, Reshape, Split, Transpose
from chainrule._ops.softmax_family import LogSoftmax, Softmax
from chainrule._tensor import make_tensor
from chainrule.autograd.function import Function
from chainrule.backends import native
from chainrule.nn.functional.activation import Gelu
from chainrule.nn.functional.attention import ScaledDotProductAttention
from chainrule.nn.functional.conv import Convolution
from chainrule.nn.functional.linear import _Linear
from chainrule.nn.functional.loss import CrossEntropyIndices, NllLoss
from chainrule.nn.functional.normalization import Normalize


@dataclass(frozen=True)
class Case:
    """Sample inputs for one op: ``run(*tensors)`` applies it to tensors of ``shapes`` (each of
    which may require grad); other arguments are fixed inside ``run``."""

    name: str
    shapes: tuple
    run: Callable


def _targets(shape: tuple, classes: int, ignored: int | None = None) -> chainrule.Tensor:
    targets = np.random.default_rng(2).integers(0, classes, shape)
    if ignored is not None:
        targets.flat[0] = ignored
    return chainrule.from_numpy(targets)


def _cross_entropy(shapes: tuple, target_shape: tuple, loss=F.cross_entropy, **kwargs) -> Case:
    """A class-index loss (``cross_entropy``, or ``nll_loss`` given ``loss``) on ``shapes[0]``."""
    classes = shapes[0][1 if len(shapes[0]) > 1 else 0]
    targets = _targets(target_shape, classes, kwargs.get("ignore_index"))
    weight = kwargs.pop("weight", None)

    def run(x):
        w = None if weight is None else chainrule.tensor(np.linspace(0.5, 2.0, classes), dtype=x.dtype)
        return loss(x, targets, weight=w, **kwargs)

    name = "-".join([f"{len(shapes[0])}d"] + [f"{k}={v}" for k, v in kwargs.items()]
                    + (["weight"] if weight is not None else []))
    return Case(name, shapes, run)


def _heads(qkv):
    """Query, key and value of 2 heads of width 3, split off one ``(N, L, 18)`` tensor (nanoGPT's)."""
    batch, length, _ = qkv.shape
    return tuple(t.reshape(batch, length, 2, 3).transpose(1, 2) for t in qkv.split(6, -1))


def _causal_float_mask(length: int):
    return np.triu(np.full((length, length), -np.inf), 1)


CASES: dict[type, list[Case]] = {
    _Linear: [
        Case("2d", ((4, 3), (5, 3), (5,)), F.linear),
        Case("batch-of-one", ((1, 3), (5, 3), (5,)), F.linear),
        Case("3d-batch-of-one", ((1, 1, 3), (5, 3), (5,)), F.linear),
        Case("3d", ((2, 4, 3), (5, 3), (5,)), F.linear),
        Case("2d-no-bias", ((4, 3), (5, 3)), F.linear),
        Case("3d-no-bias", ((2, 4, 3), (5, 3)), F.linear),
    ],
    Convolution: [
        Case("conv2d", ((2, 3, 7, 6), (4, 3, 3, 3), (4,)), F.conv2d),
        Case("conv2d-strided-padded", ((2, 3, 7, 6), (4, 3, 3, 2), (4,)),
             lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1)),
        Case("conv2d-no-bias-groups", ((2, 4, 6, 6), (6, 2, 3, 3)),
             lambda x, w: F.conv2d(x, w, groups=2)),
        Case("conv2d-one-channel", ((3, 1, 8, 8), (6, 1, 5, 5), (6,)), F.conv2d),
        Case("conv1d", ((2, 3, 9), (4, 3, 3), (4,)), lambda x, w, b: F.conv1d(x, w, b, dilation=2)),
    ],
    Normalize: [
        Case("layer-norm-2d", ((4, 6), (6,), (6,)), lambda x, w, b: F.layer_norm(x, (6,), w, b)),
        Case("layer-norm-3d", ((2, 3, 6), (6,), (6,)), lambda x, w, b: F.layer_norm(x, (6,), w, b)),
        Case("layer-norm-3d-two-dims", ((2, 3, 6), (3, 6), (3, 6)),
             lambda x, w, b: F.layer_norm(x, (3, 6), w, b)),
        Case("layer-norm-no-affine", ((2, 3, 6),), lambda x: F.layer_norm(x, (6,))),
        Case("layer-norm-no-bias", ((2, 3, 6), (6,)), lambda x, w: F.layer_norm(x, (6,), w)),
        Case("layer-norm-1d", ((6,), (6,), (6,)), lambda x, w, b: F.layer_norm(x, (6,), w, b)),
        Case("batch-norm-2d", ((5, 3), (3,), (3,)),
             lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
        Case("batch-norm-3d", ((4, 3, 5), (3,), (3,)),
             lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
        Case("group-norm", ((2, 4, 3), (4,), (4,)), lambda x, w, b: F.group_norm(x, 2, w, b)),
    ],
    ScaledDotProductAttention: [
        Case("4d-causal", ((2, 3, 4, 5),) * 3,
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
        Case("3d", ((3, 4, 5), (3, 6, 5), (3, 6, 2)), F.scaled_dot_product_attention),
        Case("2d", ((4, 5), (6, 5), (6, 5)), F.scaled_dot_product_attention),
        Case("4d-float-mask", ((2, 3, 4, 5),) * 3 + ((4, 4),),
             lambda q, k, v, m: F.scaled_dot_product_attention(
                 q, k, v, m + make_tensor(_causal_float_mask(4).astype(m._data.dtype)))),
        Case("3d-dropout", ((3, 4, 5),) * 3,
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)),
        Case("4d-heads-split-off-one-tensor", ((2, 4, 18),),
             lambda qkv: F.scaled_dot_product_attention(*_heads(qkv), is_causal=True)),
    ],
    CrossEntropyIndices: [
        _cross_entropy(((4, 5),), (4,)),
        _cross_entropy(((2, 5, 3),), (2, 3), reduction="none"),
        _cross_entropy(((4, 5),), (4,), reduction="sum", weight=True),
        _cross_entropy(((4, 5),), (4,), ignore_index=1, label_smoothing=0.2, weight=True),
        _cross_entropy(((2, 5, 3),), (2, 3), label_smoothing=0.1),
    ],
    NllLoss: [
        _cross_entropy(((1, 5),), (1,), F.nll_loss),
        _cross_entropy(((4, 5),), (4,), F.nll_loss, reduction="sum"),
        _cross_entropy(((5,),), (), F.nll_loss, reduction="sum"),
        _cross_entropy(((4, 5),), (4,), F.nll_loss, ignore_index=1, weight=True),
        _cross_entropy(((4, 5),), (4,), F.nll_loss, reduction="none"),
    ],
    Reshape: [
        Case("view", ((2, 3, 4),), lambda x: x.view(6, 4)),
        Case("reshape-of-transposed", ((2, 3, 4),), lambda x: x.transpose(0, 2).reshape(-1)),
    ],
    Transpose: [
        Case("3d", ((2, 3, 4),), lambda x: x.transpose(0, 2)),
        Case("matrix-t", ((2, 3),), lambda x: x.t()),
        Case("vector-t", ((3,),), lambda x: x.t()),
    ],
    Split: [
        Case("last-dim", ((2, 3, 7),), lambda x: x.split(3, -1)),
        Case("first-dim", ((5, 2),), lambda x: x.split(2, 0)),
    ],
    Clone: [Case("2d", ((3, 4),), lambda x: x.clone())],
    Cat: [
        Case("dim-1", ((1, 3), (1, 5)), lambda a, b: chainrule.cat((a, b), 1)),
        Case("dim-0-three", ((2, 3), (1, 3), (4, 3)), lambda a, b, c: chainrule.cat((a, b, c))),
        Case("dim-1-of-3d", ((2, 1, 4), (2, 3, 4)), lambda a, b: chainrule.cat((a, b), 1)),
    ],
    Softmax: [
        Case("2d-dim-1", ((3, 5),), lambda x: chainrule.softmax(x, 1)),
        Case("3d-dim-0", ((2, 3, 4),), lambda x: chainrule.softmax(x, 0)),
        Case("0d", ((),), lambda x: chainrule.softmax(x, 0)),
    ],
    LogSoftmax: [
        Case("2d-dim-1", ((3, 5),), lambda x: chainrule.log_softmax(x, 1)),
        Case("3d-dim-1", ((2, 3, 4),), lambda x: chainrule.log_softmax(x, 1)),
        Case("0d", ((),), lambda x: chainrule.log_softmax(x, -1)),
    ],
    Gelu: [
        Case("2d", ((3, 4),), F.gelu),
        Case("3d-tanh", ((2, 3, 4),), lambda x: F.gelu(x, approximate="tanh")),
        Case("3d-compiled-size", ((2, 64, 40),), F.gelu),
        Case("3d-compiled-size-tanh", ((2, 64, 40),), lambda x: F.gelu(x, approximate="tanh")),
    ],
}


def _chainrule_modules():
    for module in pkgutil.walk_packages(chainrule.__path__, "chainrule."):
        if module.name.rsplit(".", 1)[-1] in ("__main__", "_kernels"):
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional dependency that is not installed
            continue


def _functions_with_backward_arrays() -> list[type]:
    """Every chainrule ``Function`` subclass whose own class body defines ``backward_arrays``."""
    _chainrule_modules()
    found, pending = [], [Function]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__dict__.get("backward_arrays") is not None and cls.__module__.startswith("chainrule."):
            found.append(cls)
    return sorted(set(found), key=lambda cls: (cls.__module__, cls.__qualname__))


PARAMS = [pytest.param(function, case, id=f"{function.__qualname__}-{case.name if case else 'missing'}")
          for function in _functions_with_backward_arrays() for case in CASES.get(function, [None])]


def _as_tuple(grads) -> tuple:
    return grads if isinstance(grads, tuple) else (grads,)


def _assert_agree(from_backward: tuple, from_arrays: tuple, dtype, label: str) -> None:
    assert len(from_backward) == len(from_arrays), label
    rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-11, 1e-12)
    for index, (tensor, array) in enumerate(zip(from_backward, from_arrays)):
        where = f"{label}, gradient {index}"
        assert (tensor is None) == (array is None), where
        if tensor is None:
            continue
        assert isinstance(array, np.ndarray), where
        assert array.dtype == tensor._data.dtype == dtype, where
        assert array.shape == tensor._data.shape, where
        np.testing.assert_allclose(array, tensor._data, rtol=rtol, atol=atol, err_msg=where)


def _compiled_settings() -> list[bool]:
    return [True, False] if native.is_available() else [False]


@pytest.mark.parametrize("function, case", PARAMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_backward_arrays_agrees_with_backward(function, case, dtype, monkeypatch):
    assert case is not None, (f"{function.__module__}.{function.__qualname__} defines backward_arrays: "
                              "add sample inputs for it to CASES in tests/test_backward_arrays.py")
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(shape).astype(dtype) for shape in case.shapes]
    for compiled in _compiled_settings():
        monkeypatch.setattr(native, "enabled", compiled)
        for needs in itertools.product((False, True), repeat=len(values)):
            if not any(needs):
                continue
            label = f"compiled={compiled}, requires_grad={needs}"
            chainrule.manual_seed(0)
            inputs = [chainrule.tensor(v, requires_grad=r) for v, r in zip(values, needs)]
            outs = _as_tuple(case.run(*inputs))  # several for an op with several outputs
            node = outs[0].grad_fn
            assert issubclass(node._function, function), label
            grads = [rng.standard_normal(out.shape).astype(dtype) for out in outs]
            with chainrule.no_grad():
                from_backward = _as_tuple(node._function.backward(
                    node, *(make_tensor(grad.copy()) for grad in grads)))
            from_arrays = _as_tuple(node._function.backward_arrays(node, *(grad.copy() for grad in grads)))
            _assert_agree(from_backward, from_arrays, dtype, label)


def test_cases_name_only_functions_with_backward_arrays():
    """A case left behind by an op that dropped its ``backward_arrays`` is a test of nothing."""
    assert set(CASES) <= set(_functions_with_backward_arrays())


def test_layer_norm_of_a_vector_second_derivative_matches_torch():
    """The differentiable form on its own: layer norm over a whole 1-d input (no dims left to
    sum the parameters' gradients over), differentiated twice, against torch."""
    torch = require_torch()

    def second_derivatives(lib):
        x, w, b = (lib.tensor(np.linspace(start, 2.0, 6), requires_grad=True) for start in (-1.0, 0.5, 0.0))
        y = lib.nn.functional.layer_norm(x, (6,), w, b)
        grads = lib.autograd.grad((y * lib.tensor(np.arange(6.0))).sum(), (x, w, b), create_graph=True)
        total = sum((g * g).sum() for g in grads)
        return [t.detach().numpy() for t in grads + lib.autograd.grad(total, (x, w))]

    for ours, theirs in zip(second_derivatives(chainrule), second_derivatives(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_attention_gradients_are_laid_out_like_the_inputs():
    """Heads split off one tensor get gradients with the heads' memory layout (as PyTorch's flash
    attention lays them out), so that they flow back through the split as views."""
    qkv = chainrule.tensor(np.random.default_rng(0).standard_normal((2, 4, 18)), requires_grad=True)
    query, key, value = _heads(qkv)
    node = F.scaled_dot_product_attention(query, key, value, is_causal=True).grad_fn
    grads = node._function.backward_arrays(node, np.ones((2, 2, 4, 3)))
    for grad, input in zip(grads[:3], (query, key, value)):
        assert grad.strides == input._data.strides


def test_split_backward_joins_adjacent_gradients_without_a_copy():
    """Gradients that lie one after another in one array (query, key and value written into one
    buffer) come back joined as a view of it; any others are concatenated."""
    qkv = chainrule.tensor(np.zeros((2, 4, 9)), requires_grad=True)
    node = qkv.split(3, -1)[0].grad_fn
    buffer = np.arange(72.0).reshape(2, 4, 9)
    adjacent = tuple(buffer[..., i:i + 3] for i in (0, 3, 6))
    joined = node._function.backward_arrays(node, *adjacent)
    assert np.shares_memory(joined, buffer) and not joined.flags.writeable
    np.testing.assert_array_equal(joined, buffer)
    for parts in (adjacent[::-1], (adjacent[0], adjacent[1], adjacent[2].copy()),
                  tuple(np.arange(72.0).reshape(2, 4, 9)[..., i:i + 3] for i in (0, 3, 6))):
        joined = node._function.backward_arrays(node, *parts)
        assert not any(np.shares_memory(joined, part) for part in parts)
        np.testing.assert_array_equal(joined, np.concatenate(parts, -1))
