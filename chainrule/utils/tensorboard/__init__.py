"""TensorBoard logging, as ``torch.utils.tensorboard`` (needs the optional ``tensorboard`` package).

``from chainrule.utils.tensorboard import SummaryWriter`` always works; creating a writer
without ``tensorboard`` installed raises an ImportError naming the pip command.

>>> from chainrule.utils.tensorboard import SummaryWriter
>>> SummaryWriter.add_scalar.__name__
'add_scalar'
"""

from chainrule.utils.tensorboard.writer import FileWriter, SummaryWriter

__all__ = ["SummaryWriter", "FileWriter"]
