"""Models and per-data-set training defaults: the registry (``registry.py``) and recipes (``recipes.py``).

Every model is a backbone plus one final `nn.Linear` (``base.Classifier``):
`model.features(x)` is the flattened penultimate embedding (batch, d),
`model.classifier` the final layer, and `forward(x) == classifier(features(x))`.
Importing this package does not import torch; the model classes below are
loaded on first use.
"""

from __future__ import annotations

import importlib

from .recipes import TrainConfig, auto_config
from .registry import MODELS, TORCHVISION, TV_PREFIX, ModelEntry, build_model, get_model, model_help

__all__ = [
    "MODELS",
    "TORCHVISION",
    "TV_PREFIX",
    "Classifier",
    "ModelEntry",
    "TorchvisionClassifier",
    "TrainConfig",
    "auto_config",
    "build_model",
    "get_model",
    "model_help",
]

_LAZY = {"Classifier": "base", "TorchvisionClassifier": "torchvision"}  # these import torch


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
