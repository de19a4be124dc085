"""How well a score finds the labels flipped by ``prune record --label-noise``."""

from __future__ import annotations

import numpy as np


def auroc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` ranking ``positive`` samples first (higher = more positive).

    The Mann–Whitney form: (R₊ − n₊(n₊+1)/2) / (n₊ n₋) with R₊ the sum of the
    positives' ranks, tied scores sharing their average rank (so a constant
    score gives 0.5). None when either class is empty.
    """
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positive, dtype=bool)
    n_pos = int(pos.sum())
    n_neg = len(pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)  # 1-based rank of each distinct value's last member
    average_rank = last_rank - (counts - 1) / 2.0
    rank_sum = average_rank[inverse.ravel()][pos].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def label_noise_auroc(scores: np.ndarray, flipped: np.ndarray, higher_is_harder: bool | None) -> float | None:
    """AUROC of the score, read from its hard end, at finding the flipped samples."""
    s = np.asarray(scores, dtype=np.float64)
    return auroc(s if higher_is_harder is not False else -s, flipped)
