"""``torch.nn.parallel``: ``DistributedDataParallel`` (ranks on MPI) and ``DataParallel``."""

from chainrule.nn.parallel.data_parallel import DataParallel
from chainrule.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
