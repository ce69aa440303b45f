"""``chainrule.nn.functional`` (``F``): the stateless math behind every layer.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.relu(torch.tensor([-1.0, 2.0]))
tensor([0., 2.])
"""

from chainrule.nn.functional.activation import *  # noqa: F403
from chainrule.nn.functional.dropout import dropout
from chainrule.nn.functional.linear import bilinear, linear
from chainrule.nn.functional.padding import pad
from chainrule.nn.functional.pixelshuffle import pixel_shuffle, pixel_unshuffle
from chainrule.nn.functional.sparse import embedding, one_hot
from chainrule._ops.distance import cosine_similarity, pairwise_distance

from chainrule.nn.functional.loss import *  # noqa: F403
from chainrule.nn.functional.conv import *  # noqa: F403
from chainrule.nn.functional.fold import *  # noqa: F403
from chainrule.nn.functional.pooling import *  # noqa: F403
from chainrule.nn.functional.normalization import *  # noqa: F403
from chainrule.nn.functional.attention import scaled_dot_product_attention
from chainrule.nn.functional.multihead_attention import (
    _canonical_mask,
    _none_or_dtype,
    multi_head_attention_forward,
)
