"""VGG-16 (Simonyan & Zisserman, 2015) with batch norm, as in DRoP's code."""

from __future__ import annotations

from torch import nn

from .base import Classifier

VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def build(input_shape: tuple[int, ...], num_classes: int) -> Classifier:
    """VGG-16-BN with a single Linear 512 -> classes.

    On 32x32 inputs the five poolings leave 1x1, exactly DRoP's network. Other
    sizes also work: pooling rounds up (28 -> ... -> 1) and a global average
    pool reduces what remains to 512 features.
    """
    layers: list[nn.Module] = []
    c = input_shape[0]
    for v in VGG16_CONFIG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            c = v
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return Classifier(nn.Sequential(*layers), 512, num_classes)
