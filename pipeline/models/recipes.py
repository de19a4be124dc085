"""Per-data-set training defaults ("auto config", as DRoP's `--auto_config`): a model and its SGD recipe."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .registry import get_model


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and schedule for one training run (SGD with momentum throughout)."""

    model: str
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    nesterov: bool
    schedule: str  # "cosine" or "multistep"
    milestones: tuple[float, ...]  # multistep: fractions of `epochs` at which lr *= gamma
    gamma: float
    dropout: float = 0.0  # rate of dropout before the classifier (--dropout; 0: none)
    precision: str = "fp32"  # training forward pass: fp32, or bf16/fp16 autocast (--precision)


def _cfg(model, epochs, batch_size, lr, weight_decay, *, nesterov=False, schedule="cosine",
         milestones=(), gamma=0.1, momentum=0.9) -> TrainConfig:
    return TrainConfig(model, epochs, batch_size, lr, momentum, weight_decay, nesterov, schedule,
                       tuple(milestones), gamma)


# Default model of each data set and its recipe. The MNIST-1D recipe is sized so
# that one run over its 16,000 samples takes under 20 s on two CPU cores (about
# 98.5% test accuracy), leaving room for what `prune record` adds per epoch.
_DEFAULTS: dict[str, TrainConfig] = {
    "mnist1d": _cfg("cnn1d", 40, 128, 0.05, 5e-4, nesterov=True),
    "digits": _cfg("mlp", 30, 64, 0.05, 5e-4, nesterov=True),
    "mnist": _cfg("lenet5", 30, 128, 0.05, 5e-4, nesterov=True),
    "fashionmnist": _cfg("lenet5", 30, 128, 0.05, 5e-4, nesterov=True),
    "cifar10": _cfg("resnet18", 200, 128, 0.1, 5e-4, nesterov=True),
    "cifar100": _cfg("resnet18", 200, 128, 0.1, 5e-4, nesterov=True),
    # The ImageNet ResNet recipe: lr 0.1 for batch 256, divided by 10 at 1/3 and 2/3 of training.
    "imagefolder": _cfg("tv:resnet18", 90, 256, 0.1, 1e-4, schedule="multistep", milestones=(1 / 3, 2 / 3)),
    # a user's own arrays or Hugging Face data set: the MLP fits any input shape (it flattens);
    # pass --model (e.g. resnet18, tv:<name>) for images
    "npz": _cfg("mlp", 30, 128, 0.05, 5e-4, nesterov=True),
    "hf": _cfg("mlp", 30, 128, 0.05, 5e-4, nesterov=True),
}

# Changes to a data set's recipe when another model is asked for.
_MODEL_OVERRIDES: dict[tuple[str, str], dict] = {
    ("cifar10", "vgg16"): {"lr": 0.05},
    ("cifar100", "vgg16"): {"lr": 0.05},
    ("mnist1d", "mlp"): {"lr": 0.1},
}


def auto_config(data: str, model: str | None = None) -> TrainConfig:
    """Default model and SGD recipe for data set `data`; `model` swaps in another architecture."""
    key = data.partition(":")[0].lower()  # npz:PATH and hf:PATH share their kind's recipe
    if key not in _DEFAULTS:
        from pipeline.data import DATASETS, DataError

        raise DataError(f"unknown data set '{data}'; valid: {', '.join(DATASETS)}")
    base = _DEFAULTS[key]
    if model is None or model == base.model:
        return base
    get_model(model)  # an unknown name fails here, listing the valid ones
    return replace(base, model=model, **_MODEL_OVERRIDES.get((key, model), {}))
