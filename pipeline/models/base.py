"""The contract every model keeps: a backbone ending in a flat embedding, then one `nn.Linear`.

`model.features(x)` is the flattened penultimate embedding (batch, d),
`model.classifier` the final layer, and `forward(x) == classifier(features(x))`,
so embeddings and last-layer gradients are read the same way for every
architecture.
"""

from __future__ import annotations

import torch
from torch import nn


class Classifier(nn.Module):
    """`backbone` (ending in a flat embedding) followed by the linear `classifier`."""

    def __init__(self, backbone: nn.Module, dim: int, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Linear(dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
