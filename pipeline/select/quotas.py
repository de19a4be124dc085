"""Class quotas: how many samples each class keeps, and selection inside classes.

A quota turns a global budget ``n_keep`` into one budget per class; any
sampler of :mod:`pipeline.select.samplers` or :mod:`pipeline.select.embedding`
then runs inside each class with its class's budget (docs/design.md §6,
``--quota``). The global rule (``--quota none``) needs no function here: it
is the sampler run on all positions. The data-driven quotas are DRoP's
(Vysogorets et al., ICLR 2025): ``drop`` (paper, Algorithm 1), ``strategyq``
and ``normalize`` (quoters of their code release). All real-valued shares
are computed in exact fractions and rounded by largest remainder.

Classes are ``0..K-1``, indexed like ``class_counts``; every budget is an
``int64`` array that sums exactly to ``n_keep`` and never exceeds its class.
"""

from __future__ import annotations

import operator
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np

from pipeline.engine.counts import proportional_shares

__all__ = [
    "quota_proportional",
    "quota_balanced",
    "quota_drop",
    "quota_like",
    "quota_normalize",
    "water_fill",
    "select_with_quota",
    "DROP_FLOOR",
]


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
    return proportional_shares(counts, n_keep)


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


# --------------------------------------------------------------------------
# Water-filling: budgets proportional to weights, within per-class bounds
# --------------------------------------------------------------------------

#: Smallest number of samples ``--quota drop`` keeps of any class (a class
#: with fewer samples is kept whole). DRoP's densities are proportional to
#: the validation error, so a class the query model got 100 % right would be
#: emptied; the floor keeps it represented. See :func:`quota_drop`.
DROP_FLOOR = 1


def _exact(value: float, name: str) -> Fraction:
    # The decimal the float prints as (its shortest repr), as an exact
    # fraction: a recall of 0.9 is 9/10, so hand-computed shares and ties
    # between them come out as a reader works them out on paper.
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return Fraction(repr(value))


def _largest_remainder(shares: Sequence[Fraction], total: int) -> np.ndarray:
    """Round exact real shares summing to ``total`` to integers summing to it (Hamilton).

    Every class gets the floor of its share; the units still missing go one
    each to the largest fractional parts, ties to the lower class index.
    """
    floors = [s.numerator // s.denominator for s in shares]
    rest = [s - f for s, f in zip(shares, floors)]
    short = total - sum(floors)
    # The fractional parts sum to `short` and each is < 1, so at least
    # `short` of them are positive: a unit never lands on a whole share, and
    # a share below an integer bound stays within it after rounding up.
    order = sorted(range(len(shares)), key=lambda k: (-rest[k], k))
    out = np.asarray(floors, dtype=np.int64)
    out[order[:short]] += 1
    return out


def water_fill(weights: Sequence, lower: np.ndarray, upper: np.ndarray, total: int) -> np.ndarray:
    """Integer budgets ``x_k = clip(λ·w_k, lower_k, upper_k)`` summing exactly to ``total``.

    The saturation rule of DRoP (Vysogorets et al., ICLR 2025, Algorithm 1)
    in closed form: share the budget in proportion to the weights; a class
    whose share exceeds its size is kept whole and the rest is re-spread over
    the others, until none overflows. Raising the common level ``λ`` until
    the clipped shares sum to ``total`` reaches the same fixed point as the
    paper's repeated re-spreading (each round only raises the level of the
    classes still free), so it is found in one sweep over the sorted
    breakpoints ``lower_k / w_k`` and ``upper_k / w_k``. A class of weight 0
    stays at its lower bound. The arithmetic is exact (fractions), then the
    real shares are rounded by largest remainder (ties to the lower class).

    Parameters
    ----------
    weights : sequence of float or Fraction
        ``w_k >= 0``, shape ``(K,)``.
    lower, upper : numpy.ndarray
        Integer bounds per class, ``0 <= lower_k <= upper_k``.
    total : int
        ``sum(lower) <= total``; if the classes of positive weight cannot
        absorb it (``total > sum(upper[w > 0]) + sum(lower[w == 0])``) they
        are all filled and the remainder is spread over the zero-weight
        classes in proportion to their ``upper`` bounds (above ``lower``).

    Returns
    -------
    numpy.ndarray
        ``int64`` budgets, ``lower <= x <= upper``, ``x.sum() == total``.
    """
    w = [x if isinstance(x, Fraction) else Fraction(int(x)) if isinstance(x, (int, np.integer)) else _exact(x, "weight")
         for x in weights]
    lo = np.asarray(lower, dtype=np.int64)
    hi = np.asarray(upper, dtype=np.int64)
    K = len(w)
    if lo.shape != (K,) or hi.shape != (K,):
        raise ValueError(f"lower and upper must have shape ({K},)")
    if any(x < 0 for x in w) or (lo < 0).any() or (lo > hi).any():
        raise ValueError("weights must be >= 0 and 0 <= lower <= upper")
    total = operator.index(total)
    if not int(lo.sum()) <= total <= int(hi.sum()):
        raise ValueError(f"total must be in [{int(lo.sum())}, {int(hi.sum())}], got {total}")

    free = [k for k in range(K) if w[k] > 0 and lo[k] < hi[k]]
    reach = int(lo.sum()) + sum(int(hi[k] - lo[k]) for k in free)
    if total > reach:
        # Every class with a weight is full; the rest of the budget is spread
        # over the others in proportion to their upper bounds (for DRoP and
        # StrategyQ: their sizes), above their lower bounds.
        x = lo.copy()
        x[free] = hi[free]
        taken = set(free)
        rest = [k for k in range(K) if k not in taken and lo[k] < hi[k]]
        x[rest] = water_fill([Fraction(int(hi[k])) for k in rest], lo[rest], hi[rest],
                             total - int(x.sum()) + int(lo[rest].sum()))
        return x

    # Sweep the level upwards. Between breakpoints the clipped sum is
    # `const + slope * level`; below its first breakpoint a class sits at
    # its lower bound, above its second at its upper bound.
    events = []
    for k in free:
        events.append((Fraction(int(lo[k])) / w[k], 0, k))  # enters: starts to grow with the level
        events.append((Fraction(int(hi[k])) / w[k], 1, k))  # leaves: full
    events.sort()
    const = Fraction(int(lo.sum()))
    slope = Fraction(0)
    level = Fraction(0)
    for at, kind, k in events:
        if const + slope * at >= total:
            break
        if kind == 0:
            const -= int(lo[k])
            slope += w[k]
        else:
            slope -= w[k]
            const += int(hi[k])
        level = at
    if slope > 0:
        level = (total - const) / slope
    # slope == 0 here means the sum already equals `total` at `level`.
    shares = []
    for k in range(K):
        s = min(max(level * w[k], Fraction(int(lo[k]))), Fraction(int(hi[k]))) if w[k] > 0 else Fraction(int(lo[k]))
        shares.append(s)
    return _largest_remainder(shares, total)


def quota_drop(class_counts: np.ndarray, recalls: np.ndarray, n_keep: int, *, floor: int = DROP_FLOOR) -> np.ndarray:
    """DRoP class budgets from validation recalls (``--quota drop``).

    Vysogorets, Ahuja and Kempe, "DRoP: Distributionally Robust Data
    Pruning", ICLR 2025, Algorithm 1 (DataCull calls it MetriQ). With class
    sizes ``N_k`` and validation errors ``e_k = 1 - recall_k``, class ``k``
    keeps the fraction (density)

        d_k = S · e_k / Σ_j N_j e_j

    of its samples, so its budget ``d_k N_k`` is proportional to
    ``e_k · N_k``. A class with ``d_k > 1`` is kept whole, and the budget it
    cannot use is re-spread over the other classes by the same rule, until
    none saturates (:func:`water_fill`). Real budgets are rounded by largest
    remainder so they sum to ``S`` exactly.

    Floor: no class keeps fewer than ``min(N_k, floor)`` samples (default 1),
    so a class with zero validation error is not emptied; the floor is taken
    first and the rest is shared by the rule above. When ``S`` is smaller
    than the floors' sum (fewer kept samples than classes) no floor applies.
    Zero errors everywhere (or every class with an error already kept
    whole): the remaining budget is shared in proportion to class sizes.

    The authors' released code differs from the paper: it makes the *counts*
    (not the densities) proportional to the error, truncates them with
    ``int``, and removes classes from a list while iterating over it, which
    skips the class after each saturated one. This function follows the paper.

    Parameters
    ----------
    class_counts : numpy.ndarray
        ``N_k``, shape ``(K,)``, integers ``>= 0``.
    recalls : numpy.ndarray
        Validation recall per class, shape ``(K,)``, in ``[0, 1]``.
    n_keep : int
        ``S``, ``0 <= S <= Σ N_k``.
    floor : int
        Smallest budget of a non-empty class (see above).

    Returns
    -------
    numpy.ndarray
        ``int64`` budgets summing exactly to ``n_keep``, each ``<= N_k``.
    """
    counts, n_keep = _as_counts(class_counts, n_keep)
    recalls = np.asarray(recalls, dtype=np.float64)
    if recalls.shape != counts.shape:
        raise ValueError(f"recalls must have shape {counts.shape} (one per class), got {recalls.shape}")
    if not np.all(np.isfinite(recalls)) or (recalls < 0).any() or (recalls > 1).any():
        raise ValueError(f"recalls must be in [0, 1], got {recalls.tolist()}")
    floor = operator.index(floor)
    if floor < 0:
        raise ValueError(f"floor must be >= 0, got {floor}")
    lower = np.minimum(counts, floor)
    if int(lower.sum()) > n_keep:
        lower = np.zeros_like(counts)
    errors = [1 - _exact(r, "recall") for r in recalls]
    weights = [e * int(c) for e, c in zip(errors, counts)]
    return water_fill(weights, lower, counts, n_keep)


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


def quota_normalize(scores: np.ndarray, labels: np.ndarray, n_keep: int, *, higher_is_harder: bool,
                    keep: str = "hard", num_classes: int | None = None) -> np.ndarray:
    """Class budgets of the global top after per-class min-max normalisation (``--quota normalize``).

    DRoP's Normalize quoter (Vysogorets et al., ICLR 2025, code release):
    scores are min-max normalised within each class,
    ``(s - min_k) / (max_k - min_k)``, the ``n_keep`` samples of the kept end
    (:func:`pipeline.select.samplers.select_topk` on the normalised scores,
    ties by sample id) are taken over the whole set, and their class counts
    become the budgets. A class whose scores are all equal (range 0, where
    the authors' division gives NaN) normalises to 0.5, the middle of the
    range.

    Parameters
    ----------
    scores : numpy.ndarray
        One finite score per sample, shape ``(n,)``.
    labels : numpy.ndarray
        Class per sample, integers in ``[0, K)``.
    n_keep : int
        Total budget.
    higher_is_harder, keep
        As for :func:`pipeline.select.samplers.select_topk`.
    num_classes : int, optional
        ``K`` (default ``labels.max() + 1``).

    Returns
    -------
    numpy.ndarray
        ``int64`` budgets summing exactly to ``n_keep``.
    """
    from pipeline.select.samplers import select_topk

    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 1 or labels.shape != scores.shape:
        raise ValueError("scores and labels must be one-dimensional and of equal length")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    K = int(num_classes if num_classes is not None else (labels.max() + 1 if labels.size else 0))
    lab = labels.astype(np.intp, copy=False)
    lo = np.full(K, np.inf)
    hi = np.full(K, -np.inf)
    np.minimum.at(lo, lab, scores)
    np.maximum.at(hi, lab, scores)
    span = hi - lo
    # (s - lo_k) / span_k, evaluated in place: two n-sized temporaries instead of four
    normed = np.take(lo, lab)
    np.subtract(scores, normed, out=normed)
    normed /= np.take(np.where(span > 0, span, 1.0), lab)
    if (span == 0).any():  # all-equal classes: 0/0 in the authors' code; the middle here
        normed[(span == 0)[lab]] = 0.5
    top = select_topk(normed, n_keep, higher_is_harder=higher_is_harder, keep=keep)
    return np.bincount(lab[top], minlength=K).astype(np.int64)


def select_with_quota(
    per_class_budget: np.ndarray,
    labels: np.ndarray,
    sampler: Callable[[np.ndarray, int], np.ndarray],
) -> np.ndarray:
    """Run a sampler inside every class with that class's budget.

    Class quotas compose with any selection method (docs/design.md §6; the
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

    # Positions grouped by class, ascending inside each group (stable sort;
    # keys of 8 or 16 bits get numpy's O(n) radix sort, one pass per byte).
    # The narrow labels also make the class check below cheaper.
    key = labels.astype(np.min_scalar_type(max(n_classes - 1, 0)))
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
        increasing = chosen.size < 2 or bool((chosen[1:] > chosen[:-1]).all())
        if not increasing:
            chosen = np.sort(chosen)  # samplers here return sorted; others may not
            increasing = chosen.size < 2 or bool((chosen[1:] > chosen[:-1]).all())
        # Verified here so that a faulty sampler cannot silently change the
        # kept count or leak positions of another class into this one.
        if chosen.shape[0] != want or not increasing:
            raise ValueError(
                f"sampler returned {chosen.shape[0]} positions for class {k} "
                f"(duplicates included), expected {want} distinct"
            )
        if chosen.size and (
            chosen[0] < 0 or chosen[-1] >= n or (key[chosen] != k).any()
        ):
            raise ValueError(f"sampler returned positions outside class {k}")
        mask[chosen] = True
    return np.flatnonzero(mask).astype(np.int64, copy=False)
