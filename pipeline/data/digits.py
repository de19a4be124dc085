"""scikit-learn's bundled 8x8 digits with a fixed stratified 80/20 train/test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import DataBundle, Split, make_bundle

SPLIT_SEED = 0
TEST_FRACTION = 0.2


def stratified_split(y: np.ndarray, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED):
    """Sorted (train_idx, test_idx): round(test_fraction * n_k) random samples of each class go to test.

    Uses the legacy `RandomState`, whose stream numpy keeps fixed across
    versions, so the split never changes under an upgrade.
    """
    rng = np.random.RandomState(seed)
    is_test = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        is_test[rng.permutation(members)[: int(round(test_fraction * len(members)))]] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def load(data_dir: Path | None = None, download: bool = False) -> DataBundle:
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    train_idx, test_idx = stratified_split(y)
    # One scalar mean/std from the training pixels, as for MNIST.
    mean, std = float(x[train_idx].mean()), float(x[train_idx].std())
    x = (x - mean) / std
    train = Split(y=y[train_idx], x=torch.from_numpy(np.ascontiguousarray(x[train_idx])))
    test = Split(y=y[test_idx], x=torch.from_numpy(np.ascontiguousarray(x[test_idx])))
    classes = [str(k) for k in range(10)]
    return make_bundle("digits", classes, (1, 8, 8), train, test)
