"""``--quota balanced``: equal counts per class where the classes allow."""

from __future__ import annotations

import numpy as np

from pipeline.select.quotas._common import _as_counts
from pipeline.select.base import Inputs, Quota


def quota_balanced(class_counts: np.ndarray, n_keep: int) -> np.ndarray:
    """Equal per-class budgets where possible (``--quota balanced``).

    The "balanced" quota of docs/design.md §6 (no single source paper;
    it is the class-balanced counterpart of the data-driven DRoP quotas of
    Vysogorets et al., ICLR 2025). Rule: max-min fair water-filling. Find
    the largest level ``L`` with
    ``sum_k min(c_k, L) <= n_keep``; classes with at most ``L`` samples are
    kept whole, the others get ``L`` each, and the ``r`` units still missing
    go one each to the ``r`` lowest class indices that have room
    (``c_k > L``).

    Parameters
    ----------
    class_counts : numpy.ndarray
        Samples per class, shape ``(K,)``, integers ``>= 0``.
    n_keep : int
        Total budget, ``0 <= n_keep <= class_counts.sum()``.

    Returns
    -------
    numpy.ndarray
        ``int64`` budgets, shape ``(K,)``, summing exactly to ``n_keep``,
        each ``<= class_counts[k]``.
    """
    counts, n_keep = _as_counts(class_counts, n_keep)
    if counts.size == 0:
        return np.zeros(0, dtype=np.int64)

    def filled(level: int) -> int:
        return int(np.minimum(counts, level).sum())

    # filled() is non-decreasing in the level; bisect for the largest level
    # that fits (about 30 steps over K classes each, independent of N).
    lo, hi = 0, int(counts.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if filled(mid) <= n_keep:
            lo = mid
        else:
            hi = mid - 1
    level = lo
    quota = np.minimum(counts, level)
    short = n_keep - int(quota.sum())
    # At level + 1 the budget would overflow, so fewer than #(c_k > level)
    # units are missing: one each to the lowest indices with room suffices.
    room = np.flatnonzero(counts > level)
    quota[room[:short]] += 1
    return quota


def _balanced(x: Inputs, n_keep: int) -> np.ndarray:
    return quota_balanced(x.class_counts, n_keep)


QUOTA = Quota("balanced", _balanced, "equal counts where possible", "—")
