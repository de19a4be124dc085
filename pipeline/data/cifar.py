"""CIFAR-10 / CIFAR-100 from the python-pickle batches (`cifar-10-batches-py/`, `cifar-100-python/`)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .augment import random_crop_flip
from .base import DataBundle, DataError, Split, make_bundle

# Channel statistics of the training images, on the [0, 1] scale.
MEAN = {"cifar10": (0.4914, 0.4822, 0.4465), "cifar100": (0.5071, 0.4865, 0.4409)}
STD = {"cifar10": (0.2470, 0.2435, 0.2616), "cifar100": (0.2673, 0.2564, 0.2762)}

LAYOUT = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "names_key": "label_names",
        "labels_key": "labels",
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "names_key": "fine_label_names",
        "labels_key": "fine_labels",
    },
}

# The batches hold only numpy arrays, lists and strings; anything else in a
# pickle would be code to run, so the reader refuses it.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name}")


def read_pickle(path: Path) -> dict[str, object]:
    """A CIFAR pickle as a dict with str keys (the files store bytes keys)."""
    try:
        with open(path, "rb") as f:
            obj = _SafeUnpickler(f, encoding="bytes").load()
    except OSError as e:
        raise DataError(f"cannot read CIFAR file {path}: {e}") from None
    except Exception as e:
        raise DataError(f"corrupt CIFAR file {path}: {type(e).__name__}: {e}") from None
    if not isinstance(obj, dict):
        raise DataError(f"corrupt CIFAR file {path}: expected a dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _read_batch(path: Path, labels_key: str) -> tuple[np.ndarray, np.ndarray]:
    batch = read_pickle(path)
    if "data" not in batch or labels_key not in batch:
        raise DataError(f"corrupt CIFAR file {path}: missing key 'data' or '{labels_key}'")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[labels_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"corrupt CIFAR file {path}: data is {data.dtype} {data.shape}, expected uint8 (n, 3072)")
    if labels.shape != (len(data),):
        raise DataError(f"corrupt CIFAR file {path}: {len(data)} images but {labels.size} labels")
    return data.reshape(-1, 3, 32, 32), labels


def _download(name: str, data_dir: Path) -> None:
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    try:
        cls(root=str(data_dir), train=True, download=True)
    except Exception as e:
        raise DataError(f"{name}: download into {data_dir} failed: {e}") from None


def load(name: str, data_dir: Path, download: bool = False) -> DataBundle:
    import torch

    spec = LAYOUT[name]
    root = Path(data_dir) / spec["folder"]
    files = [root / f for f in spec["train"] + spec["test"] + [spec["meta"]]]
    if download and not all(f.is_file() for f in files):
        _download(name, Path(data_dir))
    for f in files:
        if not f.is_file():
            raise DataError(f"{name}: expected {f} (not found); --download fetches it")

    meta = read_pickle(root / spec["meta"])
    names = meta.get(spec["names_key"])
    if not isinstance(names, (list, tuple)) or not names:
        raise DataError(f"corrupt CIFAR file {root / spec['meta']}: no '{spec['names_key']}' list")
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]

    splits = []
    for part in ("train", "test"):
        batches = [_read_batch(root / f, spec["labels_key"]) for f in spec[part]]
        x = np.concatenate([b[0] for b in batches])
        y = np.concatenate([b[1] for b in batches])
        splits.append(Split(y=y, x=torch.from_numpy(x), mean=MEAN[name], std=STD[name]))
    return make_bundle(name, classes, (3, 32, 32), splits[0], splits[1], augment=random_crop_flip)
