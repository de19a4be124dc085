"""Models and per-data-set training defaults ("auto config", as DRoP's `--auto_config`).

Every model is a backbone plus one final `nn.Linear`: `model.features(x)` is the
flattened penultimate embedding (batch, d), `model.classifier` the final layer,
and `forward(x) == classifier(features(x))`, so embeddings and last-layer
gradients are read the same way for every architecture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

MODELS: tuple[str, ...] = ("mlp", "cnn1d", "lenet5", "resnet18", "vgg16")
TV_PREFIX = "tv:"


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


def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: tuple[int, ...] = (256, 256)) -> Classifier:
    """Flatten, then ReLU hidden layers of widths `hidden`."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
        width = h
    return Classifier(nn.Sequential(*layers), width, num_classes)


def cnn1d(input_shape: tuple[int, ...], num_classes: int, channels: int = 32) -> Classifier:
    """Small 1-D conv net for MNIST-1D (input (C, L)): three conv-BN-ReLU layers, flatten.

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


def lenet5(input_shape: tuple[int, ...], num_classes: int) -> Classifier:
    """LeNet-5 (ReLU, max pooling) for 1- or 3-channel images; 28x28 inputs get padding 2, as in the original."""
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


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def resnet18(input_shape: tuple[int, ...], num_classes: int) -> Classifier:
    """ResNet-18, CIFAR variant: 3x3 stem without max pooling, BasicBlocks [2, 2, 2, 2], widths 64..512."""
    layers: list[nn.Module] = [
        nn.Conv2d(input_shape[0], 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True)
    ]
    c = 64
    for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(c, width, stride), BasicBlock(width, width, 1)]
        c = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return Classifier(nn.Sequential(*layers), 512, num_classes)


VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16(input_shape: tuple[int, ...], num_classes: int) -> Classifier:
    """VGG-16 with batch norm and a single Linear 512 -> classes, as in DRoP's code.

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


class TorchvisionClassifier(nn.Module):
    """A torchvision classifier whose final Linear is lifted out as `classifier`.

    The backbone is the torchvision model with that layer replaced by
    `nn.Identity`, so it returns the penultimate embedding. Single-channel
    inputs are repeated to the three channels torchvision models expect.
    """

    def __init__(self, net: nn.Module, classifier: nn.Linear):
        super().__init__()
        self.backbone = net
        self.classifier = classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, *x.shape[2:])
        return torch.flatten(self.backbone(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def torchvision_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> TorchvisionClassifier:
    """torchvision classifier `name`, randomly initialised (weights=None: nothing is downloaded)."""
    import torchvision.models as tvm

    available = tvm.list_models(module=tvm)
    if name not in available:
        raise ValueError(f"unknown torchvision classifier '{name}'; see torchvision.models.list_models()")
    if input_shape[0] not in (1, 3):
        raise ValueError(f"tv:{name} needs 1- or 3-channel images, got input shape {input_shape}")
    kwargs: dict = {}
    if name in ("googlenet", "inception_v3"):
        # Auxiliary heads would make forward return a tuple; explicit init silences a warning.
        kwargs.update(aux_logits=False, init_weights=True)
    if name.startswith("vit_"):
        kwargs["image_size"] = input_shape[-1]
    net = tvm.get_model(name, weights=None, num_classes=num_classes, **kwargs)
    # The head is the last Linear producing num_classes outputs; models built
    # from a Sequential name it by index, so replace it through its parent.
    head_name = None
    for module_name, module in net.named_modules():
        if isinstance(module, nn.Linear) and module.out_features == num_classes:
            head_name = module_name
    if head_name is None:
        raise ValueError(f"tv:{name} has no final nn.Linear layer; it cannot expose features/classifier")
    parent_name, _, child = head_name.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    head = getattr(parent, child)
    setattr(parent, child, nn.Identity())
    return TorchvisionClassifier(net, head)


_BUILDERS = {"mlp": mlp, "cnn1d": cnn1d, "lenet5": lenet5, "resnet18": resnet18, "vgg16": vgg16}


def _check_model_name(name: str) -> None:
    if name not in _BUILDERS and not (name.startswith(TV_PREFIX) and len(name) > len(TV_PREFIX)):
        raise ValueError(f"unknown model '{name}'; valid: {', '.join(MODELS)}, or tv:<torchvision model name>")


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Model `name` (one of MODELS, or "tv:<torchvision name>") for inputs `input_shape` without batch axis."""
    _check_model_name(name)
    input_shape = tuple(int(s) for s in input_shape)
    if name.startswith(TV_PREFIX):
        return torchvision_model(name[len(TV_PREFIX) :], input_shape, num_classes)
    expected_dims = {"cnn1d": 2, "lenet5": 3, "resnet18": 3, "vgg16": 3}.get(name)
    if expected_dims is not None and len(input_shape) != expected_dims:
        raise ValueError(f"model '{name}' needs inputs with {expected_dims} dims (channels first), got {input_shape}")
    return _BUILDERS[name](input_shape, num_classes)


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
}

# Changes to a data set's recipe when another model is asked for.
_MODEL_OVERRIDES: dict[tuple[str, str], dict] = {
    ("cifar10", "vgg16"): {"lr": 0.05},
    ("cifar100", "vgg16"): {"lr": 0.05},
    ("mnist1d", "mlp"): {"lr": 0.1},
}


def auto_config(data: str, model: str | None = None) -> TrainConfig:
    """Default model and SGD recipe for data set `data`; `model` swaps in another architecture."""
    key = data.lower()
    if key not in _DEFAULTS:
        from pipeline.data import DATASETS, DataError

        raise DataError(f"unknown data set '{data}'; valid: {', '.join(DATASETS)}")
    base = _DEFAULTS[key]
    if model is None or model == base.model:
        return base
    _check_model_name(model)
    return replace(base, model=model, **_MODEL_OVERRIDES.get((key, model), {}))
