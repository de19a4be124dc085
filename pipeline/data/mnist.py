"""MNIST and Fashion-MNIST from the idx files under `<data_dir>/{MNIST,FashionMNIST}/raw/`."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .base import DataBundle, DataError, Split, make_bundle

FOLDER = {"mnist": "MNIST", "fashionmnist": "FashionMNIST"}
# Single-channel statistics of the training images, on the [0, 1] scale.
MEAN = {"mnist": (0.1307,), "fashionmnist": (0.2860,)}
STD = {"mnist": (0.3081,), "fashionmnist": (0.3530,)}
CLASSES = {
    "mnist": [str(k) for k in range(10)],
    "fashionmnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An unsigned-byte idx array (magic 0x0000080N, big-endian dims), checked against its header."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"corrupt idx file {path}: {e}") from None
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"corrupt idx file {path}: {len(raw)} bytes is shorter than its header")
    magic = int.from_bytes(raw[:4], "big")
    if magic != 0x800 + ndim:
        raise DataError(f"corrupt idx file {path}: magic number {magic:#010x}, expected {0x800 + ndim:#010x}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(f"corrupt idx file {path}: {what} ({len(raw)} bytes, header {dims} needs {expected})")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(raw_dir: Path, stem: str) -> Path | None:
    # torchvision keeps both the .gz it downloaded and the extracted file; either will do.
    for candidate in (raw_dir / stem, raw_dir / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _download(name: str, data_dir: Path) -> None:
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    try:
        cls(root=str(data_dir), train=True, download=True)
    except Exception as e:
        raise DataError(f"{name}: download into {data_dir} failed: {e}") from None


def load(name: str, data_dir: Path, download: bool = False) -> DataBundle:
    import torch

    raw_dir = Path(data_dir) / FOLDER[name] / "raw"
    stems = [s for pair in FILES.values() for s in pair]
    if download and any(_find(raw_dir, s) is None for s in stems):
        _download(name, Path(data_dir))
    for s in stems:
        if _find(raw_dir, s) is None:
            raise DataError(f"{name}: expected {raw_dir / s} (or .gz) (not found); --download fetches it")

    splits = []
    for part, (images_stem, labels_stem) in FILES.items():
        images_path, labels_path = _find(raw_dir, images_stem), _find(raw_dir, labels_stem)
        images = read_idx(images_path, 3)
        labels = read_idx(labels_path, 1)
        if len(images) != len(labels):
            raise DataError(
                f"{name}: {images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
            )
        x = torch.from_numpy(images.copy()).unsqueeze(1)
        splits.append(Split(y=labels.astype(np.int64), x=x, mean=MEAN[name], std=STD[name]))
    h, w = splits[0].x.shape[-2:]
    return make_bundle(name, CLASSES[name], (1, h, w), splits[0], splits[1])
