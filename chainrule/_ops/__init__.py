"""chainrule's ops, one file per family. Importing this attaches them to ``Tensor``.

Each module defines its ``Function`` subclasses (forward and backward side by
side) and the public functions; ``tensor_method`` makes those methods too.
"""

from chainrule._ops.arithmetic import *  # noqa: F403
from chainrule._ops.broadcasting import *  # noqa: F403
from chainrule._ops.comparison import *  # noqa: F403
from chainrule._ops.conversion import *  # noqa: F403
from chainrule._ops.distance import *  # noqa: F403
from chainrule._ops.index_write import *  # noqa: F403
from chainrule._ops.indexing import *  # noqa: F403
from chainrule._ops.linalg import *  # noqa: F403
from chainrule._ops.pointwise import *  # noqa: F403
from chainrule._ops.products import *  # noqa: F403
from chainrule._ops.rearrange import *  # noqa: F403
from chainrule._ops.reduction import *  # noqa: F403
from chainrule._ops.scan import *  # noqa: F403
from chainrule._ops.selection import *  # noqa: F403
from chainrule._ops.shape import *  # noqa: F403
from chainrule._ops.softmax_family import *  # noqa: F403
from chainrule._ops.sorting import *  # noqa: F403
from chainrule._ops.statistics import *  # noqa: F403
from chainrule._ops.triangular import *  # noqa: F403
from chainrule._ops.trigonometric import *  # noqa: F403
from chainrule._ops.unary import *  # noqa: F403

from chainrule._ops import (  # noqa: E402 - the submodules, for __all__ below
    arithmetic, broadcasting, comparison, conversion, distance, index_write, indexing, linalg,
    pointwise, products, rearrange, reduction, scan, selection, shape, softmax_family, sorting,
    statistics, triangular, trigonometric, unary,
)

# PyTorch's functions that take ``out=``, where chainrule's own do not: the result is
# computed, then written into ``out`` (torch.matmul(a, b, out=c) in the Tensors tutorial).
_OUT_OPS = (
    "abs", "acos", "asin", "atan", "atan2", "bmm", "ceil", "clamp", "clip", "cos", "cosh",
    "cumprod", "cumsum", "dot", "erf", "exp", "exp2", "expm1", "floor", "fmod", "log",
    "log10", "log1p", "log2", "logsumexp", "matmul", "maximum", "mean", "minimum", "mm", "mv",
    "neg", "pow", "prod", "reciprocal", "remainder", "round", "rsqrt", "sigmoid", "sign", "sin",
    "sinh", "sqrt", "square", "sum", "tan", "tanh", "trunc", "where",
)


def _with_out(function):
    import functools
    import inspect

    from chainrule._ops.inplace import maybe_out

    if "out" in inspect.signature(function).parameters:
        return function

    @functools.wraps(function)
    def call(*args, out=None, **kwargs):
        return maybe_out(function(*args, **kwargs), out, function.__name__)

    return call


for _name in _OUT_OPS:
    if _name in globals():
        globals()[_name] = _with_out(globals()[_name])
del _name

# The ops only: `from chainrule._ops import *` must not leak the submodule names
# (chainrule.shape, chainrule.linalg ...) into the top-level namespace.
__all__ = sorted({name for module in (
    arithmetic, broadcasting, comparison, conversion, distance, index_write, indexing, linalg,
    pointwise, products, rearrange, reduction, scan, selection, shape, softmax_family, sorting,
    statistics, triangular, trigonometric, unary) for name in module.__all__})

