"""Class quotas: how many samples each class keeps, and selection inside classes.

A quota turns a global budget ``n_keep`` into one budget per class; any
sampler of :mod:`pipeline.select.samplers` then runs inside each class with
its class's budget (DESIGN.md section 6, ``--quota``). The global rule
(``--quota none``) needs no function here: it is the sampler run on all
positions.

Classes are ``0..K-1``, indexed like ``class_counts``; every budget is an
``int64`` array that sums exactly to ``n_keep`` and never exceeds its class.
"""

from __future__ import annotations

import operator
from typing import Callable

import numpy as np

__all__ = ["quota_proportional", "quota_balanced", "select_with_quota"]


def _as_counts(class_counts: np.ndarray, n_keep: int) -> tuple[np.ndarray, int]:
    counts = np.asarray(class_counts)
    if counts.ndim != 1:
        raise ValueError(f"class_counts must be one-dimensional, got shape {counts.shape}")
    if counts.size and counts.dtype.kind not in "iub":
        raise ValueError(f"class_counts must be integers, got dtype {counts.dtype}")
    counts = counts.astype(np.int64, copy=False)
    if (counts < 0).any():
        raise ValueError("class_counts must be >= 0")
    n_keep = operator.index(n_keep)
    total = int(counts.sum())
    if not 0 <= n_keep <= total:
        raise ValueError(f"n_keep must be in [0, {total}] (the total of class_counts), got {n_keep}")
    return counts, n_keep


def quota_proportional(class_counts: np.ndarray, n_keep: int) -> np.ndarray:
    """Per-class budgets proportional to class sizes (``--quota proportional``).

    The class-ratio-preserving quota, as the ``--class-balanced`` mode of
    the CCS code (Zheng et al., ICLR 2023): class ``k`` gets its share of the
    full set, ``n_keep * c_k / N``. That code truncates each share, so its
    total can fall short; here rounding is largest remainder (Hamilton): every
    class gets the floor of its share, and the units left over go one each to
    the classes with the largest fractional parts, ties to the lower class
    index. The arithmetic is exact integer arithmetic (no float shares).

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
    total = int(counts.sum())
    if total == 0:
        return np.zeros(counts.shape[0], dtype=np.int64)
    scaled = counts * n_keep  # fits int64 for any realistic N (< 3e9)
    quota = scaled // total
    remainder = scaled % total  # numerator of the fractional part
    short = n_keep - int(quota.sum())
    # The fractional parts sum to `short` and each is < 1, so at least `short`
    # classes have a positive remainder: the extra unit never goes to a class
    # whose share was whole, and so never exceeds the class size.
    order = np.argsort(-remainder, kind="stable")  # ties by class index
    quota[order[:short]] += 1
    return quota


def quota_balanced(class_counts: np.ndarray, n_keep: int) -> np.ndarray:
    """Equal per-class budgets where possible (``--quota balanced``).

    The "balanced" quota of DESIGN.md section 6 (no single source paper;
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


def select_with_quota(
    per_class_budget: np.ndarray,
    labels: np.ndarray,
    sampler: Callable[[np.ndarray, int], np.ndarray],
) -> np.ndarray:
    """Run a sampler inside every class with that class's budget.

    Class quotas compose with any selection method (DESIGN.md section 6; the
    per-class selection of DRoP, Vysogorets et al., ICLR 2025, and of CCS's
    class-balanced mode, Zheng et al., ICLR 2023): for each class ``k`` with
    a positive budget, ``sampler(positions_k, budget_k)`` is called with the
    class's positions (sorted ascending) and must return exactly
    ``budget_k`` distinct positions taken from them. A scoring sampler
    indexes its scores with the positions it receives, e.g.
    ``lambda pos, b: pos[select_topk(scores[pos], b, higher_is_harder=True)]``.

    Parameters
    ----------
    per_class_budget : numpy.ndarray
        Budget per class, shape ``(K,)``, each ``<=`` the class's size.
    labels : numpy.ndarray
        Class of every position, shape ``(n,)``, integers in ``[0, K)``.
    sampler : callable
        ``sampler(positions, budget) -> chosen positions``.

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` positions, length ``per_class_budget.sum()``.

    Raises
    ------
    ValueError
        On a label out of range, a budget larger than its class, or a sampler
        that returns the wrong number of positions or positions not given to it.
    """
    budget = np.asarray(per_class_budget)
    if budget.ndim != 1 or (budget.size and budget.dtype.kind not in "iub"):
        raise ValueError("per_class_budget must be a one-dimensional integer array")
    budget = budget.astype(np.int64, copy=False)
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iub"):
        raise ValueError("labels must be a one-dimensional integer array")
    n_classes = budget.shape[0]
    n = labels.shape[0]
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels must be in [0, {n_classes}) to match per_class_budget, "
            f"got range [{labels.min()}, {labels.max()}]"
        )
    counts = np.bincount(labels.astype(np.intp, copy=False), minlength=n_classes)
    if (budget < 0).any() or (budget > counts).any():
        k = int(np.flatnonzero((budget < 0) | (budget > counts))[0])
        raise ValueError(
            f"budget of class {k} is {int(budget[k])}, outside [0, {int(counts[k])}] (its size)"
        )

    # Positions grouped by class, ascending inside each group (stable sort).
    key = labels.astype(np.int16 if n_classes <= np.iinfo(np.int16).max else np.int64)
    grouped = np.argsort(key, kind="stable").astype(np.int64, copy=False)
    bounds = np.concatenate(([0], np.cumsum(counts)))

    mask = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(budget > 0).tolist():  # a loop over classes only
        pos = grouped[bounds[k]:bounds[k + 1]]
        want = int(budget[k])
        chosen = np.asarray(sampler(pos, want))
        if chosen.ndim != 1 or (chosen.size and chosen.dtype.kind not in "iu"):
            raise ValueError(f"sampler must return a one-dimensional integer array (class {k})")
        chosen = chosen.astype(np.int64, copy=False)
        if chosen.size > 1 and not (chosen[1:] > chosen[:-1]).all():
            chosen = np.sort(chosen)  # samplers here return sorted; others may not
        # Verified here so that a faulty sampler cannot silently change the
        # kept count or leak positions of another class into this one.
        if chosen.shape[0] != want or (chosen.size > 1 and not (chosen[1:] > chosen[:-1]).all()):
            raise ValueError(
                f"sampler returned {chosen.shape[0]} positions for class {k} "
                f"(duplicates included), expected {want} distinct"
            )
        if chosen.size and (
            chosen[0] < 0 or chosen[-1] >= n or (labels[chosen] != k).any()
        ):
            raise ValueError(f"sampler returned positions outside class {k}")
        mask[chosen] = True
    return np.flatnonzero(mask).astype(np.int64, copy=False)
