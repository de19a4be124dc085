"""The contract every model keeps: a backbone ending in a flat embedding, then one `nn.Linear`.

`model.features(x)` is the flattened penultimate embedding (batch, d),
`model.classifier` the final layer, and `forward(x) == classifier(features(x))`,
so embeddings and last-layer gradients are read the same way for every
architecture.

``with_dropout(model, p)`` puts dropout between the embedding and the
classifier (``--dropout``): MC-dropout scores (BALD, variation ratio) sample
it at inference with ``mc_dropout(model)``. It has no parameters, so
checkpoints are the same with or without it, and ``features`` never drops.
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
        self.dropout: nn.Module | None = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.classifier(h if self.dropout is None else self.dropout(h))


def with_dropout(model: nn.Module, p: float) -> nn.Module:
    """``model`` with dropout of rate ``p`` before its classifier (p = 0: unchanged)."""
    if p > 0:
        model.dropout = nn.Dropout(p)
    return model


def mc_dropout(model: nn.Module) -> nn.Module:
    """Eval mode everywhere except dropout, which keeps sampling masks (Gal & Ghahramani's MC dropout)."""
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()
    return model
