"""The identity of a training set, carried by every score table and manifest."""

from __future__ import annotations

import hashlib

import numpy as np


def fingerprint(dataset: str, split: str, targets: np.ndarray, identity: str = "") -> str:
    """sha256 of (data set name, split, N, the int64 targets' bytes[, the data's identity]).

    Two artifacts with the same fingerprint index the same samples with the
    same labels, so sample ids can be joined across them safely. ``identity``
    (``DataBundle.identity``) names the inputs behind the ids where the name
    does not (an image folder's files, a user's .npz or Hugging Face data
    set); empty, the digest is exactly the one computed before it existed, so
    the runs and manifests of built-in data sets stay valid.
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
    if identity:
        h.update(b"\0identity\0")
        h.update(identity.encode())
    return h.hexdigest()
