"""torchvision's classification models, built layer for layer with chainrule's ``nn``."""

from chainrule.vision.models._api import Weights, WeightsEnum
from chainrule.vision.models.alexnet import *
from chainrule.vision.models.mobilenetv2 import *
from chainrule.vision.models.resnet import *
from chainrule.vision.models.squeezenet import *
from chainrule.vision.models.vgg import *
