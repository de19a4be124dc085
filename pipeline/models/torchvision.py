"""Any torchvision classifier by name (``--model tv:<name>``), randomly initialised, head lifted out."""

from __future__ import annotations

import torch
from torch import nn


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
        self.dropout: nn.Module | None = None  # set by base.with_dropout (--dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, *x.shape[2:])
        return torch.flatten(self.backbone(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.classifier(h if self.dropout is None else self.dropout(h))


def build(name: str, input_shape: tuple[int, ...], num_classes: int) -> TorchvisionClassifier:
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
