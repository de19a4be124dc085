"""LeNet-5 (LeCun et al., 1998), with ReLU and max pooling, for MNIST-sized images."""

from __future__ import annotations

import torch
from torch import nn

from .base import Classifier


def build(input_shape: tuple[int, ...], num_classes: int) -> Classifier:
    """LeNet-5 for 1- or 3-channel images; 28x28 inputs get padding 2, as in the original."""
    c_in, h, w = input_shape
    pad = 2 if min(h, w) < 32 else 0
    convs = nn.Sequential(
        nn.Conv2d(c_in, 6, 5, padding=pad), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(),
    )
    try:
        with torch.no_grad():
            flat = convs(torch.zeros(1, c_in, h, w)).shape[1]
    except RuntimeError:
        msg = f"lenet5 needs images of at least 12x12 (28x28 or 32x32 intended), got {input_shape}"
        raise ValueError(msg) from None
    body = nn.Sequential(
        convs, nn.Linear(flat, 120), nn.ReLU(inplace=True), nn.Linear(120, 84), nn.ReLU(inplace=True)
    )
    return Classifier(body, 84, num_classes)
