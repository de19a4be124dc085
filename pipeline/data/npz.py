"""A user's own arrays: ``--data npz:PATH``, one ``.npz`` file written with ``numpy.savez``.

Arrays in the file (others are ignored):

======================  ==========================================================
``x``, ``y``            the training set: inputs (N, ...) and integer labels (N,)
``x_test``, ``y_test``  optional test split (both or neither)
``x_val``, ``y_val``    optional validation split (both or neither; needs the test split)
``classes``             optional class names (C,), strings; default "0".."C-1"
======================  ==========================================================

uint8 inputs are images ((N, H, W) grey or (N, H, W, C)): moved channels-first
and standardised per channel; any other numbers are used as they are, as
float32 (the rules of `pipeline.data.arrays`). Without a test split, a seeded
stratified 20% of the training set is held out as test; without a validation
split, the first half of each class of the test split is val (DRoP's).

The data's identity (``DataBundle.identity``, part of the fingerprint) is the
sha256 of ``x`` and ``y`` as stored, so a manifest follows the arrays, not the
file's name or place. A relative PATH is read under ``--data-dir`` when given.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from .arrays import array_digest, bundle_from_arrays, user_path
from .base import DataBundle, DataError

PAIRS = (("x", "y"), ("x_test", "y_test"), ("x_val", "y_val"))


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the .npz at ``path`` (never unpickling), or a one-line `DataError`."""
    if not path.is_file():
        raise DataError(f"npz: expected {path} (not found): a file written by numpy.savez with arrays x and y")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"npz: cannot read {path} as a .npz archive: {e}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"npz: {path} holds a single array, not a .npz archive; write it with numpy.savez(path, x=..., y=...)")
    arrays = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError as e:  # an object array: loading it would run pickle
                raise DataError(f"npz: array '{key}' of {path} holds Python objects ({e}); store numbers, "
                                "or names as np.array(names, dtype=str)") from None
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
                raise DataError(f"npz: array '{key}' of {path} is corrupt: {e}") from None
    return arrays


def _class_names(path: Path, classes: np.ndarray) -> list[str]:
    if classes.ndim != 1:
        raise DataError(f"npz: classes of {path} must be a 1-D array of names, got shape {classes.shape}")
    return [c.decode() if isinstance(c, bytes) else str(c) for c in classes.tolist()]


def load(spec: str, data_dir: Path | None = None, download: bool = False) -> DataBundle:
    path = user_path(spec, data_dir)
    arrays = read_arrays(path)
    for x_key, y_key in PAIRS:
        if (x_key in arrays) != (y_key in arrays):
            have, lack = (x_key, y_key) if x_key in arrays else (y_key, x_key)
            if x_key == "x":
                raise DataError(f"npz: {path} has no array '{lack}' (arrays in it: {', '.join(arrays) or 'none'})")
            raise DataError(f"npz: {path} has {have} but no {lack}")
    if "x" not in arrays:
        raise DataError(f"npz: {path} has no arrays 'x' and 'y' (arrays in it: {', '.join(arrays) or 'none'})")
    if "x_val" in arrays and "x_test" not in arrays:
        raise DataError(f"npz: {path} has x_val/y_val but no x_test/y_test; give a test split too")

    split = {name: (arrays[f"x{suffix}"], arrays[f"y{suffix}"]) if f"x{suffix}" in arrays else None
             for name, suffix in (("train", ""), ("test", "_test"), ("val", "_val"))}
    classes = _class_names(path, arrays["classes"]) if "classes" in arrays else None
    identity = lambda: array_digest(x=arrays["x"], y=arrays["y"])  # noqa: E731  (hashed once the arrays pass)
    return bundle_from_arrays("npz", f"npz {path}", split["train"], split["test"], split["val"], classes, identity)
