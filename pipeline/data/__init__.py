"""Data sets as in-memory (or lazily read) splits: `load_dataset(name) -> DataBundle`.

Every data set without a validation split of its own gets DRoP's: the first half
of each class of the test split (by index) is `val`, the rest is `test`
(`drop_val_split`). A user's own data comes as `npz:PATH` or `hf:PATH`
(`pipeline/data/npz.py`, `pipeline/data/hf.py`).
"""

from __future__ import annotations

from pathlib import Path

from .augment import random_crop_flip
from .base import DataBundle, DataError, Split, default_data_dir, drop_val_split
from .registry import DATASETS, DataSetEntry, data_help, get_dataset, resolve

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
    `imagefolder`, `data_dir` is the folder holding `train/` and `val/`. For
    `npz:PATH` and `hf:PATH`, a relative PATH is read under `data_dir` when one is
    given, else under the current folder.
    """
    entry, arg = resolve(name)
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if root.exists() and not root.is_dir():
            raise DataError(f"--data-dir {data_dir} is a file; it names the folder that holds the data set's files")
    else:
        root = default_data_dir() if entry.default_dir else None
    if entry.argument:
        return entry.load(arg, root, download)
    return entry.load(root, download)
