"""A Hugging Face data set saved with ``save_to_disk``: ``--data hf:PATH[#INPUT,LABEL]``.

PATH is the folder ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``
wrote. ``#INPUT,LABEL`` names the input and label columns (default
``image`` and ``label``): ``hf:cats#img,fine_label``; ``hf:cats#img`` names
the input only, ``hf:cats#,fine_label`` the label only. The columns are
named after the last ``#``, so a PATH holding ``#`` needs them spelled out.
Quote the whole word on a command line only if PATH holds spaces: ``#``
inside a word is no comment to the shell.

Splits: ``train`` (required in a DatasetDict; a plain Dataset is the training
set), ``test`` and ``validation``. Without ``test``, ``validation`` plays the
test split (as imagefolder's ``val/``); without either, a seeded stratified
20% of the training set is held out as test. Without ``validation`` next to
``test``, DRoP's val is carved out of the test split.

An ``Image`` input column is decoded with PIL into memory: grey if the first
training image is grey (modes 1, L, LA, I, I;16, F), else RGB, every image
resized (bilinear) to the first training image's size; then it is pixels as a
uint8 array (channels-first, standardised per channel). Any other column is
read as a NumPy array per row (numbers, lists, arrays: one shape for every
row) under the rules of `pipeline.data.arrays`. Labels are a ``ClassLabel``
(its names are the classes) or an integer column.

The data's identity (``DataBundle.identity``, part of the fingerprint) is the
training split's ``_fingerprint`` (which ``datasets`` derives from its content
and keeps through save_to_disk/load_from_disk) and the two column names.
``datasets`` is an optional dependency: ``pip install -e ".[hf]"``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .arrays import bundle_from_arrays, user_path
from .base import DataBundle, DataError

DEFAULT_INPUT, DEFAULT_LABEL = "image", "label"
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
_DECODE_ROWS = 256


def parse_spec(spec: str) -> tuple[str, str, str]:
    """``"cats#img,lbl"`` → ("cats", "img", "lbl"); a missing column takes its default."""
    path, sep, cols = spec.rpartition("#")
    if not sep:
        return spec, DEFAULT_INPUT, DEFAULT_LABEL
    parts = [c.strip() for c in cols.split(",")]
    if not path or len(parts) > 2 or not any(parts):
        raise DataError(f"hf: expected hf:PATH or hf:PATH#INPUT,LABEL (column names), got 'hf:{spec}'")
    x_col = parts[0] or DEFAULT_INPUT
    y_col = parts[1] if len(parts) > 1 and parts[1] else DEFAULT_LABEL
    return path, x_col, y_col


def _import_datasets():
    try:
        import datasets
    except ImportError:
        raise DataError("hf: reading a Hugging Face data set needs the datasets package: pip install -e '.[hf]'") from None
    return datasets


def _open(path: Path):
    datasets = _import_datasets()
    if not path.exists():
        raise DataError(f"hf: expected {path} (not found): a folder written by Dataset.save_to_disk")
    try:
        return datasets, datasets.load_from_disk(str(path))
    except Exception as e:  # the library's errors vary by version; each is one line here
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"hf: {path} is not a data set written by save_to_disk: {reason}") from None


def _splits(datasets, ds, path: Path) -> dict:
    if not isinstance(ds, datasets.DatasetDict):
        return {"train": ds}
    if "train" not in ds:
        raise DataError(f"hf: {path} has splits {', '.join(ds) or 'none'} but no 'train'")
    out = {"train": ds["train"], "test": ds.get("test"), "val": ds.get("validation")}
    if out["test"] is None:
        out["test"], out["val"] = out["val"], None
    return {k: v for k, v in out.items() if v is not None}


def _classes(datasets, splits: dict, y_col: str, source: str) -> list[str] | None:
    feature = splits["train"].features[y_col]
    if isinstance(feature, datasets.ClassLabel):
        for name, split in splits.items():
            other = split.features[y_col]
            if isinstance(other, datasets.ClassLabel) and other.names != feature.names:
                raise DataError(f"{source}: the {name} split's class names differ from train's")
        return list(feature.names)
    dtype = getattr(feature, "dtype", None)
    if not (isinstance(feature, datasets.Value) and dtype.startswith(("int", "uint"))):
        raise DataError(f"{source}: label column '{y_col}' must hold integer class ids or a ClassLabel, got {feature}; "
                        f"encode it first, e.g. ds.class_encode_column('{y_col}')")
    return None


def _column(split, column: str) -> np.ndarray:
    """One column as one NumPy array (rows of unequal shapes: an object array of rows)."""
    return np.asarray(split.select_columns([column]).with_format("numpy")[:][column])


def _decode_images(split, column: str, mode: str, size: tuple[int, int], source: str, name: str) -> np.ndarray:
    from PIL import Image

    arrays = []
    for batch in split.select_columns([column]).iter(batch_size=_DECODE_ROWS):
        for im in batch[column]:
            if im is None:
                raise DataError(f"{source}: the {name} split has a missing image in column '{column}'")
            im = im.convert(mode)
            if im.size != size:
                im = im.resize(size, Image.Resampling.BILINEAR)
            arrays.append(np.asarray(im, dtype=np.uint8))
    return np.stack(arrays) if arrays else np.empty((0, size[1], size[0]) + ((3,) if mode == "RGB" else ()), np.uint8)


def _inputs(datasets, splits: dict, x_col: str, source: str) -> dict[str, np.ndarray]:
    if isinstance(splits["train"].features[x_col], datasets.Image):
        first = splits["train"][0][x_col] if len(splits["train"]) else None
        if first is None:
            raise DataError(f"{source}: the training split has no image to take the size from")
        mode = "L" if first.mode in GREY_MODES else "RGB"
        return {k: _decode_images(s, x_col, mode, first.size, source, k) for k, s in splits.items()}
    out = {}
    for name, split in splits.items():
        x = _column(split, x_col)
        if x.dtype == object:
            raise DataError(f"{source}: input column '{x_col}' of the {name} split has rows of different shapes "
                            "(or no numbers); every row needs one shape")
        out[name] = x
    return out


def load(spec: str, data_dir: Path | None = None, download: bool = False) -> DataBundle:
    path_text, x_col, y_col = parse_spec(spec)
    path = user_path(path_text, data_dir)
    datasets, ds = _open(path)
    source = f"hf {path}"
    splits = _splits(datasets, ds, path)
    for name, split in splits.items():
        for col in (x_col, y_col):
            if col not in split.column_names:
                raise DataError(f"{source}: the {name} split has no column '{col}' (columns: "
                                f"{', '.join(split.column_names)}); name them with hf:PATH#INPUT,LABEL")
    classes = _classes(datasets, splits, y_col, source)
    xs = _inputs(datasets, splits, x_col, source)
    ys = {k: _column(s, y_col) for k, s in splits.items()}
    pairs = {k: (xs[k], ys[k]) for k in splits}
    identity = f"{splits['train']._fingerprint}#{x_col},{y_col}"
    return bundle_from_arrays("hf", source, pairs["train"], pairs.get("test"), pairs.get("val"), classes, identity)


def with_columns(data: str, image_column: str | None, label_column: str | None) -> str:
    """``--data hf:PATH`` plus ``--image-column``/``--label-column`` as the one word ``hf:PATH#INPUT,LABEL``."""
    if image_column is None and label_column is None:
        return data
    if not data.startswith("hf:"):
        raise DataError("--image-column and --label-column name columns of a Hugging Face data set: use them with --data hf:PATH")
    path, x_col, y_col = parse_spec(data[3:])
    return f"hf:{path}#{image_column or x_col},{label_column or y_col}"
