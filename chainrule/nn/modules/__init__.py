"""Every layer class, re-exported as ``chainrule.nn.<Name>``."""

from chainrule.nn.modules.module import Module
from chainrule.nn.modules.container import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from chainrule.nn.modules.linear import Bilinear, Identity, Linear
from chainrule.nn.modules.activation import *  # noqa: F403
from chainrule.nn.modules.dropout import *  # noqa: F403
from chainrule.nn.modules.sparse import Embedding
from chainrule.nn.modules.flatten import Flatten, Unflatten

from chainrule.nn.modules.loss import *  # noqa: F403
from chainrule.nn.modules.conv import *  # noqa: F403
from chainrule.nn.modules.pooling import *  # noqa: F403
from chainrule.nn.modules.batchnorm import *  # noqa: F403
from chainrule.nn.modules.normalization import *  # noqa: F403
from chainrule.nn.modules.conv_dropout import *  # noqa: F403
from chainrule.nn.modules.upsampling import *  # noqa: F403
from chainrule.nn.modules.fold import *  # noqa: F403
from chainrule.nn.modules.distance import *  # noqa: F403
from chainrule.nn.modules.rnn import *  # noqa: F403
from chainrule.nn.modules.transformer import *  # noqa: F403
from chainrule.nn.modules.instancenorm import *  # noqa: F403
from chainrule.nn.modules.padding import *  # noqa: F403
from chainrule.nn.modules.pixelshuffle import *  # noqa: F403
from chainrule.nn.modules.lazy import *  # noqa: F403
