"""Model registry, the features/classifier contract, and auto-config defaults."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from pipeline.data import DATASETS, DataError
from pipeline.models import MODELS, TORCHVISION, TrainConfig, auto_config, build_model, get_model, model_help

NATURAL_SHAPES = {
    "mlp": [(1, 8, 8), (1, 40)],
    "cnn1d": [(1, 40)],
    "lenet5": [(1, 28, 28), (3, 32, 32)],
    "resnet18": [(3, 32, 32)],
    "vgg16": [(3, 32, 32), (1, 28, 28)],
    "tv:resnet18": [(3, 64, 64), (1, 28, 28)],
    "tv:mobilenet_v3_small": [(3, 32, 32)],
}


def test_every_model_has_a_natural_shape():
    assert set(MODELS) <= set(NATURAL_SHAPES)


@pytest.mark.parametrize(
    "name,shape", [(name, shape) for name, shapes in NATURAL_SHAPES.items() for shape in shapes]
)
def test_features_classifier_contract(name, shape):
    torch.manual_seed(0)
    model = build_model(name, shape, num_classes=7).eval()
    x = torch.randn(3, *shape)
    with torch.no_grad():
        logits = model(x)
        emb = model.features(x)
        assert logits.shape == (3, 7)
        assert isinstance(model.classifier, nn.Linear) and model.classifier.out_features == 7
        assert emb.shape == (3, model.classifier.in_features)
        torch.testing.assert_close(logits, model.classifier(emb))


def test_vgg16_matches_drops_head():
    model = build_model("vgg16", (3, 32, 32), 10)
    assert model.classifier.in_features == 512
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 13


def test_resnet18_is_the_cifar_variant():
    model = build_model("resnet18", (3, 32, 32), 10)
    stem = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    n_params = sum(p.numel() for p in model.parameters())
    assert 11.0e6 < n_params < 11.3e6  # the usual 11.17M of CIFAR ResNet-18


def test_torchvision_model_head_is_lifted_out():
    model = build_model("tv:resnet18", (3, 32, 32), 5)
    assert model.classifier.in_features == 512
    assert isinstance(model.backbone.fc, nn.Identity)
    loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 4]))
    loss.backward()
    assert model.classifier.weight.grad is not None  # last-layer gradients flow through `classifier`


@pytest.mark.parametrize("name", ["resnet", "tv:", "tv:not_a_model", "tv:squeezenet1_0"])
def test_unknown_model_raises(name):
    with pytest.raises(ValueError, match="unknown model|unknown torchvision|no final nn.Linear"):
        build_model(name, (3, 32, 32), 10)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="mlp, cnn1d, lenet5, resnet18, vgg16"):
        build_model("resnet50", (3, 32, 32), 10)


def test_wrong_input_rank_is_a_clear_error():
    with pytest.raises(ValueError, match="cnn1d.*2 dims"):
        build_model("cnn1d", (1, 28, 28), 10)
    with pytest.raises(ValueError, match="lenet5 needs images of at least"):
        build_model("lenet5", (1, 8, 8), 10)


def test_auto_config_defaults():
    assert auto_config("mnist1d") == TrainConfig(
        model="cnn1d", epochs=40, batch_size=128, lr=0.05, momentum=0.9, weight_decay=5e-4,
        nesterov=True, schedule="cosine", milestones=(), gamma=0.1,
    )
    cifar = auto_config("cifar10")
    assert (cifar.model, cifar.epochs, cifar.batch_size, cifar.lr, cifar.weight_decay, cifar.schedule) == (
        "resnet18", 200, 128, 0.1, 5e-4, "cosine")
    assert auto_config("cifar100").model == "resnet18"
    assert auto_config("cifar10", "vgg16").lr == 0.05
    assert auto_config("mnist").model == auto_config("fashionmnist").model == "lenet5"
    assert auto_config("digits").model == "mlp"
    folder = auto_config("imagefolder")
    assert (folder.model, folder.schedule, folder.milestones) == ("tv:resnet18", "multistep", (1 / 3, 2 / 3))
    assert auto_config("mnist1d", "mlp").lr == 0.1
    assert auto_config("mnist1d", "tv:resnet18").model == "tv:resnet18"


@pytest.mark.parametrize("data", DATASETS)
def test_auto_config_is_complete(data):
    cfg = auto_config(data)
    assert cfg.model in MODELS or cfg.model.startswith("tv:")
    assert cfg.schedule in ("cosine", "multistep")
    assert cfg.epochs >= 20 and cfg.momentum > 0  # SGD with momentum, enough epochs for windowed scores
    assert all(0 < m < 1 for m in cfg.milestones)


def test_auto_config_rejects_unknowns():
    with pytest.raises(DataError, match="unknown data set"):
        auto_config("imagenet21k")
    with pytest.raises(ValueError, match="unknown model"):
        auto_config("cifar10", "resnet")


# ---------------------------------------------------------------- the registry

REGISTERED = [*MODELS, "tv:resnet18"]  # every entry, the torchvision family bound to one classifier


@pytest.mark.parametrize("name", REGISTERED)
def test_every_registered_model_builds_on_its_example_input(name):
    entry = get_model(name)
    assert entry.name == name
    assert entry.summary and entry.origin and entry.inputs
    assert entry.ndim is None or len(entry.example) == entry.ndim
    torch.manual_seed(0)
    model = entry.build(entry.example, 5).eval()
    x = torch.randn(2, *entry.example)
    with torch.no_grad():
        logits, emb = model(x), model.features(x)
    assert logits.shape == (2, 5)
    assert isinstance(model.classifier, nn.Linear) and model.classifier.out_features == 5
    assert emb.shape == (2, model.classifier.in_features)
    torch.testing.assert_close(logits, model.classifier(emb))


@pytest.mark.parametrize("name", REGISTERED)
def test_build_model_goes_through_the_registry(name, monkeypatch):
    import pipeline.models.registry as registry

    calls = []
    monkeypatch.setattr(registry.ModelEntry, "build", lambda self, shape, k: calls.append((self.name, shape, k)))
    build_model(name, (3, 32, 32), 4)
    assert calls == [(name, (3, 32, 32), 4)]


@pytest.mark.parametrize("name", ["resnet50", "tv:", "MLP", ""])
def test_get_model_unknown_is_one_line_listing_every_name(name):
    with pytest.raises(ValueError) as err:
        get_model(name)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"unknown model '{name}'")
    assert msg.endswith("valid: " + ", ".join(MODELS) + ", or tv:<torchvision model name>")


def test_model_help_lists_the_registry():
    text = model_help()
    assert "\n" not in text
    for entry in (*MODELS.values(), TORCHVISION):
        assert f"{entry.name} ({entry.summary})" in text


def test_registries_do_not_import_torch():
    # `prune --help` builds --data and --model help from the registries; it must not pay for torch.
    code = ("import sys, pipeline.models, pipeline.models.registry, pipeline.data.registry, pipeline.cli; "
            "pipeline.models.model_help(); pipeline.data.registry.data_help(); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_model_classes_still_import_from_the_package():
    from pipeline.models import Classifier, TorchvisionClassifier

    assert isinstance(build_model("mlp", (1, 8, 8), 3), Classifier)
    assert isinstance(build_model("tv:resnet18", (3, 32, 32), 3), TorchvisionClassifier)
