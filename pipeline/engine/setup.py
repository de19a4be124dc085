"""What record and train share before the loop: data, model config, seeds."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from pipeline.io import PruneError


def load_data(name: str, data_dir: str | None, download: bool):
    from pipeline.data import DATASETS, DataError, load_dataset

    if name not in DATASETS:
        raise PruneError(f"unknown data set {name!r}; choose one of: {', '.join(DATASETS)}")
    try:
        return load_dataset(name, data_dir=data_dir, download=download)
    except DataError as err:
        raise PruneError(str(err)) from None


#: --precision: the training forward pass in float32, or under autocast to bfloat16 / float16 (float16 with loss scaling)
PRECISIONS = ("fp32", "bf16", "fp16")


def check_precision(precision: str, device) -> None:
    """fp16 autocast needs loss scaling on a CUDA device: refused elsewhere, before any data is loaded."""
    if precision == "fp16" and str(device).split(":")[0] != "cuda":
        raise PruneError("--precision fp16 needs a CUDA GPU (loss scaling); on a CPU use bf16 or fp32")


def train_config(data: str, model: str | None, **overrides: Any):
    """The data set's auto config (DRoP's ``--auto_config``), with explicit flags on top."""
    from pipeline.models import MODELS, auto_config

    if model is not None and model not in MODELS and not model.startswith("tv:"):
        raise PruneError(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}, or tv:<torchvision name>")
    cfg = auto_config(data, model)
    changes = {k: v for k, v in overrides.items() if v is not None}
    for k, v in changes.items():
        if k in ("epochs", "batch_size") and v < 1:
            raise PruneError(f"--{k.replace('_', '-')} must be at least 1, got {v}")
        if k == "lr" and not v > 0:
            raise PruneError(f"--lr must be positive, got {v}")
        if k == "precision" and v not in PRECISIONS:
            raise PruneError(f"--precision must be one of {', '.join(PRECISIONS)}, got {v!r}")
        if k == "dropout" and not 0.0 <= v < 1.0:
            raise PruneError(f"--dropout must be a rate in [0, 1), got {v}")
    return dataclasses.replace(cfg, **changes)


def build(model_name: str, bundle, seed: int, dropout: float = 0.0):
    import torch

    from pipeline.models import build_model

    torch.manual_seed(seed)
    try:
        return build_model(model_name, tuple(bundle.input_shape), len(bundle.classes), dropout=dropout)
    except ValueError as err:
        raise PruneError(str(err)) from None


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for pkg in ("prune", "torch", "torchvision", "numpy", "polars", "pyarrow", "zarr", "mnist1d"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def command_line() -> str:
    import shlex

    return " ".join(["prune", *map(shlex.quote, sys.argv[1:])])
