"""Data sets as in-memory (or lazily read) splits: `load_dataset(name) -> DataBundle`.

Every data set gets a DRoP validation split: the first half of each class of the
test split (by index) is `val`, the rest is `test` (`drop_val_split`).
"""

from __future__ import annotations

from pathlib import Path

from .augment import random_crop_flip
from .base import DataBundle, DataError, Split, default_data_dir, drop_val_split
from .registry import DATASETS, DataSetEntry, data_help, get_dataset

__all__ = [
    "DATASETS",
    "DataBundle",
    "DataError",
    "DataSetEntry",
    "Split",
    "data_help",
    "default_data_dir",
    "drop_val_split",
    "get_dataset",
    "load_dataset",
    "random_crop_flip",
]


def load_dataset(name: str, *, data_dir: str | Path | None = None, download: bool = False) -> DataBundle:
    """Load data set `name` (an entry of `DATASETS`) from `data_dir` (default `$PRUNE_DATA_DIR`, else `~/.cache/prune`).

    `download=True` lets torchvision fetch CIFAR/MNIST files that are missing;
    nothing is ever downloaded otherwise. Raises `DataError` (one line) for an
    unknown name, missing or corrupt files, or labels out of range. For
    `imagefolder`, `data_dir` is the folder holding `train/` and `val/`.
    """
    entry = get_dataset(name)
    if data_dir is not None:
        root = Path(data_dir).expanduser()
    else:
        root = default_data_dir() if entry.default_dir else None
    return entry.load(root, download)
