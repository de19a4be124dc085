"""Containers shared by every loader: `Split`, `DataBundle`, `DataError`, the val split."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from pipeline.io.errors import PruneError

if TYPE_CHECKING:  # torch is imported lazily so that `prune --help` stays instant
    import torch


class DataError(PruneError):
    """A data set cannot be loaded; the message is one user-facing line (the CLI prints it, exit 2)."""


def default_data_dir() -> Path:
    """`$PRUNE_DATA_DIR`, else `~/.cache/prune`."""
    env = os.environ.get("PRUNE_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "prune"


@dataclass(eq=False)
class Split:
    """One split of a data set, indexed by sample id 0..n-1.

    Inputs live either in memory (`x`: uint8 pixels scaled by 1/255 in `take`, or
    float32 values used as they are) or on disk (`files`, decoded in `take` and
    resized to `image_size`). `mean`/`std` (per channel, on the [0, 1] scale for
    pixels) are applied in `take`; empty means the stored values are final.
    `x` may be moved to another device; `take` then returns batches there.
    """

    y: np.ndarray
    x: torch.Tensor | None = field(default=None, repr=False)
    files: list[Path] | None = field(default=None, repr=False)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    image_size: tuple[int, int] | None = None
    _affine: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.x is None) == (self.files is None):
            raise ValueError("Split needs exactly one of x (in memory) or files (lazy)")
        self.y = np.ascontiguousarray(self.y, dtype=np.int64)
        n_inputs = len(self.x) if self.x is not None else len(self.files)
        if n_inputs != len(self.y):
            raise DataError(f"{n_inputs} inputs but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray | torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """float32 inputs of samples `idx`, normalised, shape (len(idx), *input_shape).

        `idx` may be a tensor already on the inputs' device (no copy of the ids
        then). With `device`, the batch is moved there before it is normalised:
        stored uint8 pixels travel at a quarter of the bytes, a host batch bound
        for a GPU through pinned memory so the copy does not block the host.
        """
        import torch

        if self.x is not None:
            index = idx if isinstance(idx, torch.Tensor) else torch.from_numpy(np.asarray(idx, dtype=np.int64))
            batch = self.x[index.to(self.x.device, torch.int64, non_blocking=True)]
        else:
            batch = self.decode(idx)
        return self.finish(batch, device)

    def decode(self, idx: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The stored form of samples ``idx`` on the host (file-backed splits: the decoded uint8 images).

        What DataLoader workers run for a file-backed split (``pipeline.engine.loading``), so decoding
        happens off the training thread; :meth:`finish` then moves and normalises the batch.
        """
        import torch

        if self.x is not None:
            index = idx if isinstance(idx, torch.Tensor) else torch.from_numpy(np.asarray(idx, dtype=np.int64))
            return self.x[index.to(self.x.device, torch.int64)]
        ids = idx.cpu().numpy() if isinstance(idx, torch.Tensor) else np.asarray(idx, dtype=np.int64)
        return _read_images([self.files[i] for i in ids], self.image_size)

    def finish(self, batch: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """A decoded batch moved to ``device`` (pinned first for a GPU) and normalised, as :meth:`take` returns it."""
        import torch

        if device is not None:
            device = torch.device(device)
            if batch.device.type == "cpu" and device.type == "cuda":
                batch = batch.pin_memory()
            batch = batch.to(device, non_blocking=True)
        return self._normalise(batch)

    def to(self, device) -> Split:
        """This split with its in-memory inputs on ``device`` (a lazy, file-backed split is returned as it is)."""
        import dataclasses

        if self.x is None or self.x.device == device:
            return self
        return dataclasses.replace(self, x=self.x.to(device))

    def subset(self, idx: np.ndarray) -> Split:
        """A new split holding samples `idx` of this one, renumbered 0..len(idx)-1."""
        import torch

        idx = np.array(idx, dtype=np.int64)  # a copy: ids read from Arrow are read-only, which torch warns about
        return Split(
            y=self.y[idx],
            x=None if self.x is None else self.x[torch.from_numpy(idx)],  # fancy indexing copies
            files=None if self.files is None else [self.files[i] for i in idx],
            mean=self.mean,
            std=self.std,
            image_size=self.image_size,
        )

    def _normalise(self, batch: torch.Tensor) -> torch.Tensor:
        import torch

        scale = 1.0 / 255.0 if batch.dtype == torch.uint8 else 1.0
        out = batch.to(torch.float32)
        if not self.mean:
            return out.mul_(scale) if scale != 1.0 else out
        if not self._affine:
            # Fold 1/255 and the channel mean/std into one multiply-add per element.
            std = torch.tensor(self.std, dtype=torch.float64)
            mean = torch.tensor(self.mean, dtype=torch.float64)
            shape = (len(self.mean),) + (1,) * (batch.dim() - 2)
            self._affine = (
                (scale / std).to(torch.float32).view(shape),
                (mean / std).to(torch.float32).view(shape),
            )
        mul, sub = self._affine
        if mul.device != out.device:
            self._affine = mul, sub = mul.to(out.device), sub.to(out.device)
        return out.mul_(mul).sub_(sub)


@dataclass(eq=False)
class DataBundle:
    """A loaded data set: class names, input shape, the three splits and its augmentation.

    `identity` names what the training split's sample ids point at, for data
    whose name alone does not (files in a folder, a user's .npz or Hugging Face
    data set): it enters the fingerprint (`pipeline.io.fingerprint`), so a
    manifest made on one folder is refused on another with the same labels.
    Built-in data sets leave it empty, which keeps their fingerprints as they were.
    """

    name: str
    classes: list[str]
    input_shape: tuple[int, ...]
    train: Split
    val: Split
    test: Split
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None
    identity: str = ""


def drop_val_split(y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DRoP's validation protocol: the first floor(n_k/2) samples of each class k (by index) are val.

    Returns sorted int64 index arrays `(val_idx, test_idx)` into `y_test`, which
    together cover it exactly once.
    """
    y = np.asarray(y_test)
    if y.ndim != 1:
        raise ValueError(f"y_test must be one-dimensional, got shape {y.shape}")
    is_val = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        is_val[members[: len(members) // 2]] = True
    return np.flatnonzero(is_val).astype(np.int64), np.flatnonzero(~is_val).astype(np.int64)


def check_labels(name: str, split: str, y: np.ndarray, num_classes: int) -> np.ndarray:
    """`y` as int64, or DataError if any label lies outside 0..num_classes-1."""
    y = np.asarray(y)
    if y.ndim != 1 or (len(y) and not np.issubdtype(y.dtype, np.integer)):
        raise DataError(f"{name}: {split} labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        bad = int(y.min()) if y.min() < 0 else int(y.max())
        raise DataError(f"{name}: {split} label {bad} is out of range 0..{num_classes - 1}")
    return y


def make_bundle(
    name: str,
    classes: list[str],
    input_shape: tuple[int, ...],
    train: Split,
    test: Split,
    augment: Callable | None = None,
    *,
    val: Split | None = None,
    identity: str = "",
) -> DataBundle:
    """Check labels and carve val out of the test split (`drop_val_split`), unless the data set brings its own `val`."""
    train.y = check_labels(name, "train", train.y, len(classes))
    test.y = check_labels(name, "test", test.y, len(classes))
    if val is None:
        val_idx, test_idx = drop_val_split(test.y)
        val, test = test.subset(val_idx), test.subset(test_idx)
    else:
        val.y = check_labels(name, "val", val.y, len(classes))
    return DataBundle(
        name=name,
        classes=list(classes),
        input_shape=tuple(int(s) for s in input_shape),
        train=train,
        val=val,
        test=test,
        augment=augment,
        identity=identity,
    )


def _read_images(paths: list[Path], size: tuple[int, int] | None) -> torch.Tensor:
    """Decode image files to a uint8 tensor (n, 3, H, W), resizing each to `size` (H, W)."""
    import torch
    from PIL import Image, UnidentifiedImageError

    arrays = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                if size is not None and im.size != (size[1], size[0]):
                    im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                arrays.append(np.asarray(im, dtype=np.uint8))
        except (OSError, UnidentifiedImageError, SyntaxError) as e:
            raise DataError(f"cannot read image {path}: {e}") from None
        except Image.DecompressionBombError:
            raise DataError(f"image {path} would decompress to more than {Image.MAX_IMAGE_PIXELS:,} pixels (a "
                            "decompression bomb, or a far larger image than training uses); remove it") from None
    if not arrays:
        h, w = size if size is not None else (0, 0)
        return torch.empty((0, 3, h, w), dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
