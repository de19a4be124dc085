"""Models by name, each with what it is, where it comes from and the inputs it suits (docs/design.md §4).

A new model is one module in ``pipeline/models/`` exposing
``build(input_shape, num_classes) -> nn.Module`` (the contract of ``base.py``),
plus one entry in ``_ENTRIES`` below, plus its recipe in ``recipes.py`` if it
becomes a data set's default. Nothing here imports torch: the model's module is
imported when the model is built, so ``prune --help`` can list the registry.

Your own model, without editing prune: a :class:`ModelEntry` whose ``module``
is your module's full dotted name, registered with ``MODELS.register(entry)``
or installed as an entry point in the group ``prune.models``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace

from pipeline.io.errors import PruneError
from pipeline.registry import Registry

TV_PREFIX = "tv:"


@dataclass(frozen=True)
class ModelEntry:
    name: str  # the --model name; the torchvision family's is "tv:<name>"
    module: str  # pipeline.models.<module> (or a plugin's full dotted name) holds `build`; imported when built
    summary: str  # one phrase, shown by `prune record --help`
    origin: str  # the paper or code it follows
    inputs: str  # the inputs it suits, in words
    ndim: int | None  # rank of one input (channels first) it needs; None: any, it flattens
    example: tuple[int, ...]  # a small input shape it builds on (the registry tests use it)

    def build(self, input_shape: tuple[int, ...], num_classes: int):
        """The model, randomly initialised, for inputs of ``input_shape`` (no batch axis)."""
        input_shape = tuple(int(s) for s in input_shape)
        if self.ndim is not None and len(input_shape) != self.ndim:
            msg = f"model '{self.name}' needs inputs with {self.ndim} dims (channels first), got {input_shape}"
            raise ValueError(msg)
        module = importlib.import_module(self.module if "." in self.module else f"pipeline.models.{self.module}")
        if self.name.startswith(TV_PREFIX):
            return module.build(self.name[len(TV_PREFIX):], input_shape, num_classes)
        return module.build(input_shape, num_classes)


_ENTRIES = (
    ModelEntry("mlp", "mlp", "any small input, flattened", "two ReLU hidden layers of 256",
               "digits, MNIST-1D, any shape", None, (1, 8, 8)),
    ModelEntry("cnn1d", "cnn1d", "MNIST-1D", "three conv-BN-ReLU layers, as MNIST-1D's baseline CNN (Greydanus, 2020)",
               "sequences (C, L)", 2, (1, 40)),
    ModelEntry("lenet5", "lenet5", "MNIST, Fashion-MNIST", "LeCun et al., 1998, with ReLU and max pooling",
               "images (C, H, W) of at least 12x12; 28x28 or 32x32 intended", 3, (1, 28, 28)),
    ModelEntry("resnet18", "resnet18", "CIFAR variant", "He et al., 2016; 3x3 stem, no max pooling",
               "images (C, H, W), 32x32 intended", 3, (3, 32, 32)),
    ModelEntry("vgg16", "vgg16", "DRoP's, with batch norm", "Simonyan & Zisserman, 2015; DRoP's VGG-16-BN",
               "images (C, H, W), 32x32 intended", 3, (3, 32, 32)),
)

def _check(entry) -> None:
    if not isinstance(entry, ModelEntry):
        raise TypeError(f"expected a ModelEntry, got {type(entry).__name__}")


MODELS: Registry[ModelEntry] = Registry(
    "model", "prune.models", flag="--model", options_of=lambda e: (), check=_check,
    unknown="unknown model '{name}'; valid: {names}, or " + TV_PREFIX + "<torchvision model name>")
for _e in _ENTRIES:
    MODELS.register(_e, builtin=True)

# Not in MODELS: a family, one model per torchvision classifier name (get_model binds the name).
TORCHVISION = ModelEntry(TV_PREFIX + "<name>", "torchvision", "a torchvision classifier, random init",
                         "torchvision.models.get_model(name, weights=None), final Linear lifted out",
                         "1- or 3-channel images (C, H, W), as large as the model needs", 3, (3, 32, 32))


def get_model(name: str) -> ModelEntry:
    """The entry of model ``name`` ("tv:<name>" binds the torchvision family to it); unknown: a one-line ValueError."""
    if name.startswith(TV_PREFIX) and len(name) > len(TV_PREFIX):
        return replace(TORCHVISION, name=name)
    try:
        return MODELS.get(name)  # built-in, registered, or an installed plugin
    except PruneError as err:
        raise ValueError(str(err)) from None


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int, dropout: float = 0.0):
    """Model `name` (one of MODELS, or "tv:<torchvision name>") for inputs `input_shape` without batch axis.

    ``dropout`` > 0 adds dropout of that rate before the classifier (``--dropout``; MC-dropout scores sample it).
    """
    model = get_model(name).build(input_shape, num_classes)
    if dropout > 0:
        from pipeline.models.base import with_dropout

        with_dropout(model, dropout)
    return model


def model_help() -> str:
    """Every model with its summary, for ``--model``'s help: "mlp (...), cnn1d (MNIST-1D), ... or tv:<name> (...)"."""
    named = ", ".join(f"{e.name} ({e.summary})" for e in MODELS.values())
    return f"{named} or {TORCHVISION.name} ({TORCHVISION.summary})"
