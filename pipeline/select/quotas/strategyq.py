"""``--quota strategyq``: class shares copied from another manifest (DRoP's code release)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from pipeline.select.quotas._common import _as_counts, water_fill
from typing import Any

from pipeline.select.base import Inputs, Quota


def quota_like(class_counts: np.ndarray, like_counts: np.ndarray, n_keep: int) -> np.ndarray:
    """Class shares copied from another selection (``--quota strategyq``).

    DRoP's StrategyQ quoter (Vysogorets et al., ICLR 2025, code release): the
    class proportions of a reference subset (here: another manifest,
    ``--like``) are applied to this budget. Budgets are proportional to the
    reference counts, capped at the class sizes with the surplus re-spread
    (:func:`water_fill`), rounded by largest remainder. A class absent from
    the reference gets nothing unless the others cannot absorb the budget.

    Parameters
    ----------
    class_counts : numpy.ndarray
        Class sizes of the full set, shape ``(K,)``.
    like_counts : numpy.ndarray
        Kept samples per class in the reference selection, shape ``(K,)``.
    n_keep : int
        Total budget.

    Returns
    -------
    numpy.ndarray
        ``int64`` budgets summing exactly to ``n_keep``, each ``<= N_k``.
    """
    counts, n_keep = _as_counts(class_counts, n_keep)
    like, _ = _as_counts(like_counts, 0)
    if like.shape != counts.shape:
        raise ValueError(f"like_counts must have shape {counts.shape}, got {like.shape}")
    if like.sum() == 0 and n_keep:
        raise ValueError("the reference selection keeps no samples")
    return water_fill([Fraction(int(c)) for c in like], np.zeros_like(counts), counts, n_keep)


def _like(x: Inputs, n_keep: int) -> np.ndarray:
    return quota_like(x.class_counts, x.like_counts, n_keep)


def _like_detail(x: Inputs, params: dict[str, Any]) -> dict[str, Any]:
    source = x.sources.get("like", {"n_kept": int(x.like_counts.sum())})
    return {"like": {**source, "class_counts_kept": {x.classes[c]: int(x.like_counts[c]) for c in range(x.num_classes)}}}


QUOTA = Quota("strategyq", _like, "class shares copied from another manifest (--like)",
              "Vysogorets et al., ICLR 2025 (code)", needs=("like",), detail=_like_detail)
