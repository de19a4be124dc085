"""The identity of a training set, carried by every score table and manifest."""

from __future__ import annotations

import hashlib

import numpy as np


def fingerprint(dataset: str, split: str, targets: np.ndarray) -> str:
    """sha256 of (data set name, split, N, the int64 targets' bytes).

    Two artifacts with the same fingerprint index the same samples with the
    same labels, so sample ids can be joined across them safely.
    """
    targets = np.ascontiguousarray(targets, dtype="<i8")
    h = hashlib.sha256()
    h.update(dataset.encode())
    h.update(b"\0")
    h.update(split.encode())
    h.update(b"\0")
    h.update(str(len(targets)).encode())
    h.update(b"\0")
    h.update(targets.tobytes())
    return h.hexdigest()
