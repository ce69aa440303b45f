"""Training utilities: ``fit``/``evaluate``/``predict``, callbacks, metrics and ``History``.

>>> from chainrule.train import fit, EarlyStopping, accuracy
"""

from chainrule.train import callbacks
from chainrule.train.callbacks import *  # its __all__: Callback, EarlyStopping, ...
from chainrule.train.history import History
from chainrule.train.loop import NonFiniteLossError, evaluate, fit, predict
from chainrule.train.tensorboard import TensorBoard
from chainrule.train.metrics import accuracy, confusion_matrix, mean_absolute_error, top_k_accuracy

__all__ = ["fit", "evaluate", "predict", "NonFiniteLossError", "History", *callbacks.__all__,
           "TensorBoard", "accuracy", "top_k_accuracy", "confusion_matrix", "mean_absolute_error"]
