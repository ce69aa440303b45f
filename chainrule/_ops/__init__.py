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
from chainrule._ops.sorting import *  # noqa: F403
from chainrule._ops.statistics import *  # noqa: F403
from chainrule._ops.triangular import *  # noqa: F403
from chainrule._ops.trigonometric import *  # noqa: F403
from chainrule._ops.unary import *  # noqa: F403

from chainrule._ops import (  # noqa: E402 - the submodules, for __all__ below
    arithmetic, broadcasting, comparison, conversion, distance, index_write, indexing, linalg,
    pointwise, products, rearrange, reduction, scan, selection, shape, sorting, statistics,
    triangular, trigonometric, unary,
)

# The ops only: `from chainrule._ops import *` must not leak the submodule names
# (chainrule.shape, chainrule.linalg ...) into the top-level namespace.
__all__ = sorted({name for module in (
    arithmetic, broadcasting, comparison, conversion, distance, index_write, indexing, linalg,
    pointwise, products, rearrange, reduction, scan, selection, shape, sorting, statistics,
    triangular, trigonometric, unary) for name in module.__all__})

