"""Data sets as in-memory (or lazily read) splits: `load_dataset(name) -> DataBundle`.

Every data set gets a DRoP validation split: the first half of each class of the
test split (by index) is `val`, the rest is `test` (`drop_val_split`).
"""

from __future__ import annotations

from pathlib import Path

from .augment import random_crop_flip
from .base import DataBundle, DataError, Split, default_data_dir, drop_val_split

DATASETS: tuple[str, ...] = ("mnist1d", "digits", "cifar10", "cifar100", "mnist", "fashionmnist", "imagefolder")

__all__ = [
    "DATASETS",
    "DataBundle",
    "DataError",
    "Split",
    "default_data_dir",
    "drop_val_split",
    "load_dataset",
    "random_crop_flip",
]


def load_dataset(name: str, *, data_dir: str | Path | None = None, download: bool = False) -> DataBundle:
    """Load data set `name` from `data_dir` (default `$PRUNE_DATA_DIR`, else `~/.cache/prune`).

    `download=True` lets torchvision fetch CIFAR/MNIST files that are missing;
    nothing is ever downloaded otherwise. Raises `DataError` (one line) for an
    unknown name, missing or corrupt files, or labels out of range. For
    `imagefolder`, `data_dir` is the folder holding `train/` and `val/`.
    """
    key = name.lower()
    if key not in DATASETS:
        raise DataError(f"unknown data set '{name}'; valid: {', '.join(DATASETS)}")
    if key == "imagefolder":
        from . import imagefolder

        return imagefolder.load(None if data_dir is None else Path(data_dir).expanduser(), download)
    root = default_data_dir() if data_dir is None else Path(data_dir).expanduser()
    if key == "mnist1d":
        from . import mnist1d

        return mnist1d.load(root, download)
    if key == "digits":
        from . import digits

        return digits.load(root, download)
    if key in ("cifar10", "cifar100"):
        from . import cifar

        return cifar.load(key, root, download)
    from . import mnist

    return mnist.load(key, root, download)
