"""``ReduceOp``: how a collective combines the ranks' tensors, as in torch.

>>> from chainrule.distributed import ReduceOp
>>> ReduceOp.SUM
<RedOpType.SUM: 0>
>>> ReduceOp.AVG in ReduceOp.RedOpType
True
"""

from __future__ import annotations

import enum

__all__ = ["ReduceOp"]


class RedOpType(enum.IntEnum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8


RedOpType.__module__ = "torch.distributed"


class ReduceOp:
    """The reduction operations; ``ReduceOp.SUM`` is ``ReduceOp.RedOpType.SUM``."""

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


def mpi_op(MPI, op) -> object:
    """The MPI operation computing ``op`` (AVG is a SUM divided afterwards by the caller)."""
    table = {RedOpType.SUM: MPI.SUM, RedOpType.AVG: MPI.SUM, RedOpType.PRODUCT: MPI.PROD,
             RedOpType.MIN: MPI.MIN, RedOpType.MAX: MPI.MAX, RedOpType.BAND: MPI.BAND,
             RedOpType.BOR: MPI.BOR, RedOpType.BXOR: MPI.BXOR}
    try:
        return table[RedOpType(op)]
    except (KeyError, ValueError):
        raise ValueError(f"reduce op {op!r} is not supported by chainrule's MPI backend "
                         f"(supported: {', '.join(o.name for o in table)})") from None
