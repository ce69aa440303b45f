"""``ReduceOp``: how a collective combines the ranks' tensors, as in torch.

>>> from chainrule.distributed import ReduceOp
>>> ReduceOp.SUM
<RedOpType.SUM: 0>
>>> ReduceOp.AVG in ReduceOp.RedOpType
True
"""

from __future__ import annotations

import enum

import numpy as np

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


def mpi_op(MPI, op, dtype) -> object:
    """The MPI operation computing ``op`` on arrays of ``dtype`` (AVG is a SUM that the caller
    divides afterwards). Booleans travel as bytes (MPI's arithmetic refuses them): a sum or a
    maximum of booleans is their OR, a product or a minimum their AND."""
    table = {RedOpType.SUM: MPI.SUM, RedOpType.AVG: MPI.SUM, RedOpType.PRODUCT: MPI.PROD,
             RedOpType.MIN: MPI.MIN, RedOpType.MAX: MPI.MAX, RedOpType.BAND: MPI.BAND,
             RedOpType.BOR: MPI.BOR, RedOpType.BXOR: MPI.BXOR}
    if dtype == np.bool_:
        table.update({RedOpType.SUM: MPI.BOR, RedOpType.MAX: MPI.BOR, RedOpType.PRODUCT: MPI.BAND,
                      RedOpType.MIN: MPI.BAND})
        table.pop(RedOpType.AVG)
    try:
        return table[RedOpType(op)]
    except (KeyError, ValueError):
        raise ValueError(f"reduce op {op!r} is not supported by chainrule's MPI backend for "
                         f"{dtype} (supported: {', '.join(o.name for o in table)})") from None
