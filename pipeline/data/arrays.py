"""A user's arrays as a `DataBundle`: the rules `npz:PATH` and `hf:PATH` share.

Inputs, by dtype:

- **uint8** is pixels. A 3-D array (N, H, W) is grey images, a 4-D array
  (N, H, W, C) with C in 1, 3, 4 colour images as PIL and NumPy store them:
  both become channels-first (N, C, H, W). A 4-D uint8 array whose last axis
  is not 1, 3 or 4 but whose second is is taken as channels-first already.
  Pixels stay uint8 in memory and are scaled by 1/255 and standardised per
  channel with the training split's mean and std when a batch is taken, as
  the image loaders do. Any other uint8 array is scaled by 1/255 only.
- **any other number** (float, int, bool) is cast to float32 and used as it
  is: its shape past N is the model's input shape, so store float images
  channels-first.

Labels are integer class ids 0..C-1, C being the number of `classes` names
given, else the largest label + 1 (names "0".."C-1").

Splits: without a test split, a seeded stratified 20% of the training set
(`HOLDOUT_FRACTION`, digits' `stratified_split` with seed `HOLDOUT_SEED`: per
class, round(0.2 n_k) samples) is held out as the test split; without a
validation split, DRoP's is carved out of the test split (`drop_val_split`).
Nothing is augmented: whether a flip or crop keeps a user's label is not known.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np

from .base import DataBundle, DataError, Split, make_bundle
from .digits import stratified_split

HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0
CHANNELS = (1, 3, 4)
_STAT_ROWS = 4096  # samples per chunk when summing pixels for the mean and std


def user_path(text: str, data_dir: Path | None) -> Path:
    """PATH of ``npz:PATH``: ``~`` expanded; a relative one under ``data_dir`` when given."""
    path = Path(text).expanduser()
    return path if path.is_absolute() or data_dir is None else Path(data_dir) / path


def user_labels(source: str, split: str, y: np.ndarray, n_inputs: int) -> np.ndarray:
    """``y`` as int64 after the checks a user's labels need; each failure is one line naming ``source``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{source}: {split} labels must have shape (N,), got {y.shape}")
    if len(y) != n_inputs:
        raise DataError(f"{source}: {split} has {n_inputs} inputs but {len(y)} labels")
    if len(y) and not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{source}: {split} labels must be integer class ids 0..C-1, got dtype {y.dtype}")
    if len(y) and y.min() < 0:
        raise DataError(f"{source}: {split} label {int(y.min())} is negative; class ids are 0..C-1")
    return y.astype(np.int64)


def as_inputs(source: str, split: str, x: np.ndarray) -> np.ndarray:
    """``x`` by the module's rule: uint8 images channels-first (still uint8), other numbers float32."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise DataError(f"{source}: {split} inputs must be an array (N, ...), got a scalar")
    if x.dtype == np.uint8:
        if x.ndim == 3:
            return x[:, None]
        if x.ndim == 4:
            if x.shape[-1] in CHANNELS:
                return x.transpose(0, 3, 1, 2)
            if x.shape[1] in CHANNELS:
                return x
            raise DataError(f"{source}: {split} uint8 images of shape {x.shape} have no channel axis of size "
                            "1, 3 or 4; store them as (N, H, W, C) or (N, H, W)")
        return x if x.ndim > 1 else x[:, None]
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{source}: {split} inputs must be numbers, got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    return x if x.ndim > 1 else x[:, None]


def pixel_stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images (N, C, H, W) on the [0, 1] scale, in chunks (no float copy of x)."""
    c = x.shape[1]
    total, squares, count = np.zeros(c), np.zeros(c), 0
    for start in range(0, len(x), _STAT_ROWS):
        chunk = x[start:start + _STAT_ROWS].astype(np.float64) / 255.0
        total += chunk.sum(axis=(0, 2, 3))
        squares += np.square(chunk).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean**2, 0.0))
    std[std < 1e-6] = 1.0  # a constant channel: centred, not divided by zero
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def array_digest(**arrays: np.ndarray) -> str:
    """sha256 over each named array's name, dtype, shape and bytes (in the order given)."""
    h = hashlib.sha256()
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def bundle_from_arrays(
    name: str,
    source: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray] | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    classes: list[str] | None = None,
    identity: str | Callable[[], str] = "",
) -> DataBundle:
    """The bundle of (x, y) splits as the module docstring says; ``source`` (e.g. "npz my.npz") starts each error.

    ``identity`` may be a function, called once the arrays passed their checks (hashing them can take a while).
    """
    import torch

    splits = {"train": train, "test": test, "val": val}
    ys = {k: user_labels(source, k, s[1], len(np.asarray(s[0]))) for k, s in splits.items() if s is not None}
    for k, y in ys.items():
        if not len(y):
            raise DataError(f"{source}: the {k} split is empty")
        if classes is not None and y.max() >= len(classes):
            raise DataError(f"{source}: {k} label {int(y.max())} is out of range 0..{len(classes) - 1} "
                            f"({len(classes)} class names)")
    xs = {k: as_inputs(source, k, splits[k][0]) for k in ys}
    for k, x in xs.items():
        if x.shape[1:] != xs["train"].shape[1:] or x.dtype != xs["train"].dtype:
            raise DataError(f"{source}: {k} inputs are {x.dtype} {x.shape[1:]} but train inputs are "
                            f"{xs['train'].dtype} {xs['train'].shape[1:]}")
    if classes is None:
        # nothing is sized by an unchecked label: one label of 10⁹ would build 10⁹ class names
        top = int(max(y.max() for y in ys.values() if len(y)))
        n = sum(len(y) for y in ys.values())
        if top + 1 > n:
            raise DataError(f"{source}: label {top} implies {top + 1} classes, more than the {n} samples; labels must "
                            "be class ids 0..C-1 (give `classes` names to say how many there are)")
        classes = [str(k) for k in range(top + 1)]
    if callable(identity):
        identity = identity()
    if "test" not in ys:
        train_idx, test_idx = stratified_split(ys["train"], HOLDOUT_FRACTION, HOLDOUT_SEED)
        if not len(test_idx):
            raise DataError(f"{source}: too few samples to hold out {HOLDOUT_FRACTION:.0%} of each class as test; "
                            "give a test split")
        xs["test"], ys["test"] = xs["train"][test_idx], ys["train"][test_idx]
        xs["train"], ys["train"] = xs["train"][train_idx], ys["train"][train_idx]
        identity = identity and f"{identity} holdout {HOLDOUT_FRACTION} seed {HOLDOUT_SEED}"
    x_train = xs["train"]
    pixels = x_train.dtype == np.uint8 and x_train.ndim == 4
    mean, std = pixel_stats(x_train) if pixels else ((), ())
    # own, writable memory: torch shares it, and arrays read from Arrow may be read-only views
    out = {k: Split(y=ys[k], x=torch.from_numpy(np.require(xs[k], requirements=["C", "W"])), mean=mean, std=std)
           for k in xs}
    return make_bundle(name, classes, x_train.shape[1:], out["train"], out["test"], val=out.get("val"),
                       identity=identity)
