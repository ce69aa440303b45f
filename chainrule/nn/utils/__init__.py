"""Utilities over a model's parameters (gradient clipping, flattening to a vector) and, in
``rnn``, over variable-length sequences (padding and packing)."""

from chainrule.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from chainrule.nn.utils import rnn
from chainrule.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

clip_grad_norm = clip_grad_norm_

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm", "parameters_to_vector", "rnn", "vector_to_parameters"]
