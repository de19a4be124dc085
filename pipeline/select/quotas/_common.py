"""What the class quotas share: count checks, exact largest-remainder rounding, water-filling, and running
a sampler inside each class with its budget (``select_with_quota``).

Classes are ``0..K-1``, indexed like ``class_counts``; every budget is an
``int64`` array that sums exactly to ``n_keep`` and never exceeds its class.
"""

from __future__ import annotations

import operator
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np


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



# --------------------------------------------------------------------------
# Water-filling: budgets proportional to weights, within per-class bounds
# --------------------------------------------------------------------------

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
