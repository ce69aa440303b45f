"""torchvision's classification models, built layer for layer with chainrule's ``nn``."""

from chainrule.vision.models._api import (
    Weights,
    WeightsEnum,
    get_model,
    get_model_builder,
    get_model_weights,
    get_weight,
    list_models,
)
from chainrule.vision.models.alexnet import *
from chainrule.vision.models.mobilenetv2 import *
from chainrule.vision.models.resnet import *
from chainrule.vision.models.squeezenet import *
from chainrule.vision.models.vgg import *
