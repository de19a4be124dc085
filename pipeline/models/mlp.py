"""Multi-layer perceptron over the flattened input (digits, MNIST-1D, anything small)."""

from __future__ import annotations

import math

from torch import nn

from .base import Classifier


def build(input_shape: tuple[int, ...], num_classes: int, hidden: tuple[int, ...] = (256, 256)) -> Classifier:
    """Flatten, then ReLU hidden layers of widths `hidden`."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
        width = h
    return Classifier(nn.Sequential(*layers), width, num_classes)
