"""``chainrule.linalg`` (``torch.linalg``): norms, inverses, determinants, linear solves and
Cholesky factors.

>>> import chainrule as torch
>>> A = torch.tensor([[3.0, 1.0], [1.0, 2.0]])
>>> x = torch.linalg.solve(A, torch.tensor([9.0, 8.0]))
>>> x, torch.linalg.det(A)
(tensor([2., 3.]), tensor(5.))
"""

from chainrule._ops.linalg import matmul
from chainrule._ops.products import linalg_cross as cross
from chainrule.linalg.cholesky import cholesky
from chainrule.linalg.inverse import LinAlgError, det, inv, solve
from chainrule.linalg.inverse import linalg_slogdet as slogdet
from chainrule.linalg.norms import matrix_norm, norm, svdvals, vector_norm

__all__ = ["LinAlgError", "cholesky", "cross", "det", "inv", "matmul", "matrix_norm", "norm", "slogdet",
           "solve", "svdvals", "vector_norm"]
