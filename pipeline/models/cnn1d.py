"""Small 1-D conv net for MNIST-1D sequences (C, L)."""

from __future__ import annotations

import torch
from torch import nn

from .base import Classifier


def build(input_shape: tuple[int, ...], num_classes: int, channels: int = 32) -> Classifier:
    """Three conv-BN-ReLU layers, then flatten.

    Two stride-2 layers shrink L=40 to 10 positions; the flatten keeps where
    along the sequence a feature fired, which MNIST-1D's digits depend on.
    """
    c_in, length = input_shape
    c = channels

    def block(i: int, o: int, k: int, stride: int) -> list[nn.Module]:
        return [nn.Conv1d(i, o, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm1d(o), nn.ReLU(inplace=True)]

    body = nn.Sequential(*block(c_in, c, 5, 1), *block(c, c, 3, 2), *block(c, c, 3, 2), nn.Flatten())
    with torch.no_grad():
        dim = body(torch.zeros(2, c_in, length)).shape[1]
    return Classifier(body, dim, num_classes)
