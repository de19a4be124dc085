"""Image folders: `train/<class>/...` and `val/<class>/...` (or TinyImageNet's `val/images` + annotations).

Images are read lazily in `Split.take`, converted to RGB and resized to one
fixed size: that of the first training image, but at most 224x224 (larger
first images, as in ImageNet, give 224x224). TinyImageNet thus stays 64x64.

The data's identity (`DataBundle.identity`, part of the fingerprint) is a
sha256 over the class names and each training file's path under the folder
and size in bytes: a manifest made on one folder is refused on another with
the same labels, and still fits the same folder copied or moved elsewhere.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .augment import random_crop_flip
from .base import DataBundle, DataError, Split, make_bundle

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_SIDE = 224


def _images_under(folder: Path) -> list[Path]:
    # Recursive so that TinyImageNet's train/<wnid>/images/*.JPEG is found too.
    found = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _subfolders(folder: Path) -> list[Path]:
    # Hidden folders (.ipynb_checkpoints, .git) are not classes.
    return [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]


def _class_folders(split_dir: Path, classes: list[str], split: str, root: Path) -> tuple[list[Path], np.ndarray]:
    index = {c: k for k, c in enumerate(classes)}
    files: list[Path] = []
    labels: list[int] = []
    for folder in sorted(_subfolders(split_dir)):
        if folder.name not in index:
            raise DataError(f"imagefolder: {split} class '{folder.name}' in {root} has no train/{folder.name} folder")
        images = _images_under(folder)
        files += images
        labels += [index[folder.name]] * len(images)
    # Class indices follow sorted names, so visiting folders by name already orders by (class, file).
    return files, np.asarray(labels, dtype=np.int64)


def _tiny_imagenet_val(val_dir: Path, classes: list[str]) -> tuple[list[Path], np.ndarray]:
    index = {c: k for k, c in enumerate(classes)}
    annotations = val_dir / "val_annotations.txt"
    entries = []
    for lineno, line in enumerate(annotations.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise DataError(f"imagefolder: {annotations} line {lineno} is not 'filename<TAB>class'")
        filename, cls = parts[0].strip(), parts[1].strip()
        if cls not in index:
            raise DataError(f"imagefolder: {annotations} line {lineno} names class '{cls}' with no train folder")
        path = val_dir / "images" / filename
        if not path.resolve().is_relative_to((val_dir / "images").resolve()):
            raise DataError(f"imagefolder: {annotations} line {lineno} names {filename!r}, outside {val_dir / 'images'}")
        if not path.is_file():
            raise DataError(f"imagefolder: {annotations} line {lineno}: expected {path} (not found)")
        entries.append((index[cls], filename, path))
    entries.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in entries], np.asarray([e[0] for e in entries], dtype=np.int64)


def identity(root: Path, classes: list[str], train_files: list[Path]) -> str:
    """sha256 over the class names, then each training file's path relative to ``root`` and its size in bytes."""
    h = hashlib.sha256()
    for name in classes:
        h.update(f"class\0{name}\0".encode())
    for path in train_files:
        try:
            size = path.stat().st_size
        except OSError as e:
            raise DataError(f"cannot read image {path}: {e}") from None
        h.update(f"file\0{path.relative_to(root).as_posix()}\0{size}\0".encode())
    return h.hexdigest()


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = im.size
    except (OSError, UnidentifiedImageError) as e:
        raise DataError(f"cannot read image {path}: {e}") from None
    except Image.DecompressionBombError:
        raise DataError(f"image {path} would decompress to more than {Image.MAX_IMAGE_PIXELS:,} pixels (a "
                        "decompression bomb, or a far larger image than training uses); remove it from the folder") from None
    if h > MAX_SIDE or w > MAX_SIDE:
        return MAX_SIDE, MAX_SIDE
    return h, w


def load(data_dir: Path | None, download: bool = False) -> DataBundle:
    if data_dir is None:
        raise DataError("imagefolder needs --data-dir: a folder holding train/<class>/ and val/<class>/")
    root = Path(data_dir)
    train_dir, val_dir = root / "train", root / "val"
    for d in (train_dir, val_dir):
        if not d.is_dir():
            raise DataError(f"imagefolder: expected {d} (not found); --download is not supported for imagefolder")

    classes = sorted(p.name for p in _subfolders(train_dir))
    if not classes:
        raise DataError(f"imagefolder: {train_dir} has no class folders")
    train_files, train_y = _class_folders(train_dir, classes, "train", root)
    if not train_files:
        raise DataError(f"imagefolder: no image files under {train_dir}")
    if (val_dir / "val_annotations.txt").is_file() and (val_dir / "images").is_dir():
        val_files, val_y = _tiny_imagenet_val(val_dir, classes)
    else:
        val_files, val_y = _class_folders(val_dir, classes, "val", root)
    if not val_files:
        raise DataError(f"imagefolder: no image files under {val_dir}")

    size = _image_size(train_files[0])
    common = dict(mean=IMAGENET_MEAN, std=IMAGENET_STD, image_size=size)
    train = Split(y=train_y, files=train_files, **common)
    test = Split(y=val_y, files=val_files, **common)
    return make_bundle("imagefolder", classes, (3, *size), train, test, augment=random_crop_flip,
                       identity=identity(root, classes, train_files))
