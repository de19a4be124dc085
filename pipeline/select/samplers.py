"""Score-based and random subset samplers.

Every sampler works on positions ``0..n-1`` of the arrays it is given (the
caller maps positions to sample ids; positions are in increasing sample-id
order, so "ties broken by sample id" means "lower position first"). Every
sampler returns a sorted, unique ``int64`` array of exactly ``n_keep`` kept
positions, and takes its randomness only from a passed
``numpy.random.Generator``.

All of them are vectorised: they are meant to run on tens of millions of
samples in about a second, so there is no per-sample Python code anywhere.
The samplers that need embeddings (k-center, D2) live in
:mod:`pipeline.select.embedding`.
"""

from __future__ import annotations

import operator

import numpy as np

from pipeline.engine.counts import keep_count, round_half_up

__all__ = [
    "n_keep_for",
    "hardness_order",
    "select_topk",
    "select_random",
    "ccs_default_beta",
    "select_ccs",
    "select_moderate",
    "CCS_BETA_TABLE",
]


# --------------------------------------------------------------------------
# Small shared helpers
# --------------------------------------------------------------------------

def _check_fraction(value: float, name: str) -> float:
    value = float(value)
    if not (0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return value


def _check_n_keep(n_keep: int, n: int) -> int:
    n_keep = operator.index(n_keep)
    if not 0 <= n_keep <= n:
        raise ValueError(f"n_keep must be in [0, {n}], got {n_keep}")
    return n_keep


def _as_scores(scores: np.ndarray, *, finite: bool = False) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {scores.shape}")
    if scores.dtype.kind not in "biuf":
        raise ValueError(f"scores must be numeric, got dtype {scores.dtype}")
    if scores.dtype.kind == "f":
        # NaN has no place in an order: sorts would silently push it to one end.
        # One pass over clean scores; the mask of bad values is only built to
        # report them.
        clean = bool(np.isfinite(scores).all()) if finite else not np.isnan(scores).any()
        if not clean:
            bad = ~np.isfinite(scores) if finite else np.isnan(scores)
            what = "non-finite" if finite else "NaN"
            raise ValueError(
                f"scores contain {int(bad.sum())} {what} value(s), "
                f"first at position {int(np.flatnonzero(bad)[0])}"
            )
    return scores


def _mask_to_positions(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask).astype(np.int64, copy=False)


def _end_mask(scores: np.ndarray, n_top: int, keep_high: bool, cut) -> np.ndarray:
    """Mask of the ``n_top`` samples at one end of ``scores``, ties at the cut to the lowest positions.

    ``cut`` is the value of rank ``n_top`` from that end (the highest end if
    ``keep_high``), as a partition finds it: everything strictly beyond it is
    in, and the places left go to the samples equal to it, lowest positions
    first. ``1 <= n_top <= n``.
    """
    mask = scores > cut if keep_high else scores < cut
    missing = n_top - int(np.count_nonzero(mask))
    ties = np.flatnonzero(scores == cut)[:missing]
    mask[ties] = True
    return mask


def _end_kth(n: int, n_top: int, keep_high: bool) -> int:
    """Index in ascending order of the value of rank ``n_top`` from the kept end."""
    return n - n_top if keep_high else n_top - 1


# --------------------------------------------------------------------------
# Budget
# --------------------------------------------------------------------------

#: Samples kept at a rate: the one rule of every stage (:func:`pipeline.engine.counts.keep_count`).
n_keep_for = keep_count


# --------------------------------------------------------------------------
# Hardness order and top-k
# --------------------------------------------------------------------------

def hardness_order(scores: np.ndarray, higher_is_harder: bool) -> np.ndarray:
    """Positions ordered from hardest to easiest, ties by position ascending.

    The "hard end" of docs/design.md §2: each score table says whether a
    high score means hard (``higher_is_harder``). This is the order that
    top-k selection and the CCS hard cutoff (Zheng et al., ICLR 2023) are
    defined on; equal scores keep position order (lower position counts as
    harder), which is the project-wide "ties broken by sample id" rule.
    It is a full stable sort (O(n log n)); :func:`select_topk` and
    :func:`select_ccs` give the same sets without one.

    Parameters
    ----------
    scores : numpy.ndarray
        One score per position, shape ``(n,)``; NaN is rejected.
    higher_is_harder : bool
        Whether a larger score is harder.

    Returns
    -------
    numpy.ndarray
        ``int64`` permutation of ``0..n-1``.
    """
    scores = _as_scores(scores)
    n = scores.shape[0]
    if not higher_is_harder:
        return np.argsort(scores, kind="stable").astype(np.int64, copy=False)
    # Descending with ties still ascending by position, without negating
    # (negation overflows the minimum of a signed integer dtype): a stable
    # ascending sort of the reversed array lists ties from the highest
    # position down, so reversing the result puts them lowest position first.
    order = np.argsort(scores[::-1], kind="stable")
    return (n - 1 - order[::-1]).astype(np.int64, copy=False)


def select_topk(
    scores: np.ndarray,
    n_keep: int,
    *,
    higher_is_harder: bool,
    keep: str = "hard",
) -> np.ndarray:
    """Keep the ``n_keep`` hardest (or easiest) samples.

    Score-ranked pruning as used by forgetting (Toneva et al., ICLR 2019),
    EL2N/GraNd (Paul et al., NeurIPS 2021) and the CCS baselines (Zheng et
    al., ICLR 2023): sort by score and keep one end. ``keep="hard"`` keeps the
    first ``n_keep`` of :func:`hardness_order`; ``keep="easy"`` keeps the
    ``n_keep`` easiest. In both cases a tie at the cut goes to the lower
    position.

    Runs in O(n) (a partition finds the cut value; only the ties at the cut
    are resolved by position), so no full sort is needed.

    Parameters
    ----------
    scores : numpy.ndarray
        Shape ``(n,)``; NaN is rejected.
    n_keep : int
        ``0 <= n_keep <= n``.
    higher_is_harder : bool
        Whether a larger score is harder.
    keep : {"hard", "easy"}
        Which end to keep.

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` positions, length ``n_keep``.
    """
    if keep not in ("hard", "easy"):
        raise ValueError(f"keep must be 'hard' or 'easy', got {keep!r}")
    scores = _as_scores(scores)
    n = scores.shape[0]
    n_keep = _check_n_keep(n_keep, n)
    if n_keep == 0:
        return np.empty(0, dtype=np.int64)
    if n_keep == n:
        return np.arange(n, dtype=np.int64)

    keep_high = (keep == "hard") == bool(higher_is_harder)
    kth = _end_kth(n, n_keep, keep_high)
    cut = np.partition(scores, kth)[kth]
    return _mask_to_positions(_end_mask(scores, n_keep, keep_high, cut))


# --------------------------------------------------------------------------
# Random
# --------------------------------------------------------------------------

def select_random(n: int, n_keep: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random subset of ``n_keep`` of ``n`` positions.

    The random-pruning baseline of every pruning paper (e.g. Zheng et al.,
    ICLR 2023; Vysogorets et al., ICLR 2025): each ``n_keep``-subset is
    equally likely, drawn without replacement from ``rng``.

    Parameters
    ----------
    n : int
        Number of positions.
    n_keep : int
        ``0 <= n_keep <= n``.
    rng : numpy.random.Generator
        The only source of randomness; same state, same subset.

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` positions, length ``n_keep``.
    """
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    n_keep = _check_n_keep(n_keep, n)
    # Draw whichever of the kept or dropped sets is smaller: the draw costs
    # grow with its size, and a boolean mask gives sorted output without a sort.
    small = min(n_keep, n - n_keep)
    picked = rng.choice(n, size=small, replace=False, shuffle=False)
    mask = np.zeros(n, dtype=bool)
    mask[picked] = True
    if small != n_keep:
        np.logical_not(mask, out=mask)
    return _mask_to_positions(mask)


# --------------------------------------------------------------------------
# CCS
# --------------------------------------------------------------------------

#: Knots of the default CCS hard-cutoff rate ``beta`` as a function of the
#: pruning rate: ``(rate, beta)``. The non-zero knots are the CIFAR-10 settings
#: of Zheng et al. (ICLR 2023) at 70 %, 80 % and 90 % pruning; 50 % and below
#: use no cutoff.
CCS_BETA_TABLE: tuple[tuple[float, float], ...] = (
    (0.5, 0.0),
    (0.7, 0.1),
    (0.8, 0.1),
    (0.9, 0.3),
)


def ccs_default_beta(rate: float) -> float:
    """Default CCS hard-cutoff rate ``beta`` for a pruning rate.

    Coverage-centric Coreset Selection (Zheng et al., "Coverage-centric
    Coreset Selection for High Pruning Rates", ICLR 2023) first removes the
    hardest ``beta * n`` samples (likely mislabelled) and the best ``beta``
    grows with the pruning rate. The default interpolates the paper's
    CIFAR-10 settings linearly:

    ========  ==========================
    rate      beta
    ========  ==========================
    <= 0.5    0
    0.5-0.7   linear from 0 to 0.1
    0.7       0.1
    0.8       0.1
    0.9       0.3
    > 0.9     0.3
    ========  ==========================

    and is never more than ``rate`` itself (a cutoff larger than the removed
    fraction could not leave enough samples to keep).

    Parameters
    ----------
    rate : float
        Fraction removed, in ``[0, 1]``.

    Returns
    -------
    float
        ``beta`` in ``[0, 0.3]``.
    """
    rate = _check_fraction(rate, "rate")
    xs = [r for r, _ in CCS_BETA_TABLE]
    ys = [b for _, b in CCS_BETA_TABLE]
    # np.interp holds the end values outside the knots: 0 below 0.5, 0.3 above
    # 0.9, and it returns knot values exactly at the knots.
    beta = float(np.interp(rate, xs, ys))
    return min(beta, rate)


def _ccs_bins(values: np.ndarray, strata: int) -> np.ndarray:
    """Equal-width bin index (0..strata-1) of each value, as in the CCS code."""
    lo = values.min()
    hi_value = values.max()
    if hi_value == lo:
        # One occupied bin: with zero width every edge collapses onto the value.
        return np.zeros(values.shape[0], dtype=np.intp)
    # The authors use max * 1.0001 as the top edge so the maximum lands inside
    # the last half-open bin; that edge falls *below* the maximum when it is
    # negative and on it when it is zero. Widening by a fraction of the range
    # instead works for any sign, and is the authors' edge exactly when the
    # minimum is 0 (non-negative scores such as forgetting, EL2N, TDDS).
    hi = hi_value + 1e-4 * (hi_value - lo)
    step = (hi - lo) / strata
    # Same edges and half-open test (edge_k <= s < edge_k+1) as the authors:
    # the bin is searchsorted(edges, s, side="right") - 1, clipped to
    # [0, strata - 1] (the clip guards values that float rounding pushes onto
    # the outer edges, only possible when the range is tiny next to the
    # magnitude).
    edges = lo + np.arange(strata + 1, dtype=np.float64) * step
    if not (np.isfinite(step) and step > 0):  # a range that over- or underflows
        bins = np.searchsorted(edges, values, side="right") - 1
        np.clip(bins, 0, strata - 1, out=bins)
        return bins
    # A binary search per value is the slow part at scale. The arithmetic
    # index floor((s - lo) / step) is that bin except where rounding puts it
    # one off at an edge, so it is checked against the edges themselves
    # (lower edge <= s < upper edge, with the outer bins open-ended as the
    # clip makes them) and only the values that fail get the binary search.
    # The result is the searchsorted one exactly.
    work = np.subtract(values, lo, dtype=np.float64)
    work /= step
    np.minimum(work, strata - 1, out=work)  # (s - lo) >= 0, so truncation is floor
    bins = work.astype(np.intp)
    lower = edges[:-1].copy()
    lower[0] = -np.inf
    upper = edges[1:].copy()
    upper[-1] = np.inf
    np.take(lower, bins, out=work)  # `work` is reused for each bin's edges
    off = values < work
    np.take(upper, bins, out=work)
    off |= values >= work
    off = np.flatnonzero(off)
    if off.size:
        fixed = np.searchsorted(edges, values[off], side="right") - 1
        bins[off] = np.clip(fixed, 0, strata - 1)
    return bins


def _ccs_allocate(counts: np.ndarray, budget: int) -> np.ndarray:
    """CCS budget per bin: smallest bins first, each min(count, left // bins_left).

    Always uses the whole budget when ``budget <= counts.sum()``: bins are
    visited in increasing count, so whenever a bin is capped at
    ``q = left // k`` every later bin holds at least ``q + 1`` samples, and
    ``left - q <= (k - 1) * (q + 1)`` of them are still available. Hence
    ``left`` never exceeds what the remaining bins hold, and the last bin
    takes all of it. The authors' loop can only fall short when their bins do
    not cover every sample (a negative or zero maximum, see ``_ccs_bins``),
    which this binning rules out; the check below is defensive.
    """
    counts = np.asarray(counts, dtype=np.int64)
    order = np.argsort(counts, kind="stable")  # ties by bin index
    alloc = np.zeros(counts.shape[0], dtype=np.int64)
    left = int(budget)
    n_bins = counts.shape[0]
    # A loop over bins (a few dozen), never over samples.
    for i, b in enumerate(order.tolist()):
        take = min(int(counts[b]), left // (n_bins - i))
        alloc[b] = take
        left -= take
    if left != 0:  # pragma: no cover - unreachable by the argument above
        raise RuntimeError(
            f"CCS allocation left {left} of {budget} unassigned over counts {counts.tolist()}"
        )
    return alloc


def cutoff_size(beta: float, n: int, n_keep: int, method: str) -> int:
    """round(beta·n), the samples a hard cutoff drops; ``ValueError`` if fewer than ``n_keep`` would remain.

    The message names the largest valid ``beta`` printed in full (repr): a
    rounded-up figure could itself be too large for big n.
    """
    n_drop = round_half_up(beta, n)
    if n - n_drop < n_keep:
        raise ValueError(
            f"{method} beta={beta!r} drops {n_drop} of {n} samples, leaving fewer than "
            f"the {n_keep} to keep; beta must be at most {(n - n_keep) / n!r} for this rate"
        )
    return n_drop


def drop_hardest(scores: np.ndarray, n_keep: int, beta: float, *, higher_is_harder: bool,
                 method: str) -> np.ndarray | None:
    """CCS's hard cutoff: positions left after dropping the hardest round(beta·n), or None if none is dropped.

    Raises ``ValueError`` (see :func:`cutoff_size`) if ``beta`` leaves fewer than ``n_keep``.
    """
    n = scores.shape[0]
    n_drop = cutoff_size(beta, n, n_keep, method)
    if not n_drop:
        return None
    dropped = select_topk(scores, n_drop, higher_is_harder=higher_is_harder, keep="hard")
    alive = np.ones(n, dtype=bool)
    alive[dropped] = False
    return np.flatnonzero(alive)


def select_ccs(
    scores: np.ndarray,
    n_keep: int,
    *,
    higher_is_harder: bool,
    beta: float,
    strata: int = 50,
    rng: np.random.Generator,
) -> np.ndarray:
    """Coverage-centric Coreset Selection (CCS).

    Zheng et al., "Coverage-centric Coreset Selection for High Pruning
    Rates", ICLR 2023, as in the authors' code (``stratified_sampling``):

    1. Hard cutoff: drop the ``round(beta * n)`` hardest samples (first in
       :func:`hardness_order`; ties lose the lower position first). The
       authors truncate ``int(beta * n)``; here it is round-half-up, the
       same rule as :func:`n_keep_for`.
    2. Split the remaining scores into ``strata`` equal-width bins from their
       minimum to just above their maximum (half-open bins; see below for
       the top edge). All-equal scores form a single bin.
    3. Allocate ``n_keep`` over the bins from the smallest to the largest
       (by count; ties by bin index, lowest score bin first): each takes
       ``min(count, remaining_budget // bins_left)``. This always spends the
       whole budget exactly (proof in ``_ccs_allocate``), so no second pass
       is needed.
    4. Inside each bin take a uniformly random subset of its allocation.

    Top edge: the authors use ``max * 1.0001``, which leaves the maximum out
    of every bin when it is negative or zero. Here it is
    ``max + 1e-4 * (max - min)``, identical to theirs when ``min == 0`` and
    valid for any sign.

    Parameters
    ----------
    scores : numpy.ndarray
        Shape ``(n,)``, finite.
    n_keep : int
        ``0 <= n_keep <= n - round(beta * n)``.
    higher_is_harder : bool
        Which end of the score is hard (the end the cutoff removes).
    beta : float
        Hard-cutoff rate in ``[0, 1]``; see :func:`ccs_default_beta`.
    strata : int
        Number of bins (the authors use 50).
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` positions, length ``n_keep``.

    Raises
    ------
    ValueError
        If the cutoff leaves fewer than ``n_keep`` samples (the message names
        the largest ``beta`` that fits), or on bad inputs.
    """
    scores = _as_scores(scores, finite=True)
    n = scores.shape[0]
    n_keep = _check_n_keep(n_keep, n)
    beta = _check_fraction(beta, "beta")
    strata = operator.index(strata)
    if strata < 1:
        raise ValueError(f"strata must be >= 1, got {strata}")

    rest = drop_hardest(scores, n_keep, beta, higher_is_harder=higher_is_harder, method="CCS")
    if n_keep == 0:
        return np.empty(0, dtype=np.int64)
    if rest is not None:
        values = scores[rest]
    else:
        # identity: skips two full-size copies
        values = scores
    values = values.astype(np.float64, copy=False)

    bins = _ccs_bins(values, strata)
    counts = np.bincount(bins, minlength=strata)
    alloc = _ccs_allocate(counts, n_keep)

    # Survivors grouped by bin, ascending inside each group; keys of 8 or 16
    # bits get numpy's O(n) radix sort (one pass per byte).
    grouped = np.argsort(bins.astype(np.min_scalar_type(strata - 1)), kind="stable")
    bounds = np.concatenate(([0], np.cumsum(counts)))
    mask = np.zeros(n, dtype=bool)
    for b in np.flatnonzero(alloc).tolist():  # a loop over bins, not samples
        members = grouped[bounds[b]:bounds[b + 1]]
        picked = members[select_random(members.shape[0], int(alloc[b]), rng)]
        mask[picked if rest is None else rest[picked]] = True
    return _mask_to_positions(mask)


# --------------------------------------------------------------------------
# Moderate
# --------------------------------------------------------------------------

def select_moderate(scores: np.ndarray, n_keep: int, *, higher_is_harder: bool) -> np.ndarray:
    """Keep the band of scores around the median (moderate coreset).

    Xia et al., "Moderate Coreset: A Universal Method of Data Selection for
    Real-world Data-efficient Deep Learning", ICLR 2023. Their code sorts the
    scores (the distance of each embedding to its class's median embedding)
    and keeps the middle of the sorted order: the quantiles from
    ``0.5 - f/2`` to ``0.5 + f/2`` for a kept fraction ``f``. That is a band
    in *rank*, the same number of samples dropped at each end, not the
    ``n_keep`` values nearest the median value (which differ when the scores
    are skewed); this follows the code.

    Exactly ``d = n - n_keep`` samples are dropped: ``ceil(d / 2)`` from the
    hard end and ``floor(d / 2)`` from the easy end, on the order of
    :func:`hardness_order` (ties by position). The authors round both
    quantile positions with Python's ``round`` (half to even), so their band
    can be one sample off the requested size; here the odd sample always
    comes off the hard end.

    Any score table works: ``--method moderate`` on EL2N keeps the middle of
    the EL2N ranking. Runs in O(n): the band is the difference of two
    nested top-k prefixes of the same order, whose two cut values come from
    one partition and a second one of the part beyond the first cut.

    Parameters
    ----------
    scores : numpy.ndarray
        Shape ``(n,)``; NaN is rejected.
    n_keep : int
        ``0 <= n_keep <= n``.
    higher_is_harder : bool
        Which end is hard (it loses the odd sample).

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` positions, length ``n_keep``.
    """
    scores = _as_scores(scores)
    n = scores.shape[0]
    n_keep = _check_n_keep(n_keep, n)
    drop_hard = (n - n_keep + 1) // 2
    if drop_hard == 0:
        return np.arange(n, dtype=np.int64)
    # Prefixes of one total order (hardest first, ties by position) are
    # nested, so the band [drop_hard, drop_hard + n_keep) of that order is the
    # larger prefix minus the smaller; both are top-k masks of select_topk.
    keep_high = bool(higher_is_harder)
    n_outer = drop_hard + n_keep
    kth_outer, kth_inner = _end_kth(n, n_outer, keep_high), _end_kth(n, drop_hard, keep_high)
    first, second = sorted((kth_outer, kth_inner))
    part = np.partition(scores, first)
    if second > first:
        # Everything after `first` ranks above it: partitioning that tail in
        # place puts the second order statistic at `second` (one multi-kth
        # np.partition call is several times slower).
        part[first + 1:].partition(second - first - 1)
    mask = _end_mask(scores, n_outer, keep_high, part[kth_outer])
    mask &= ~_end_mask(scores, drop_hard, keep_high, part[kth_inner])
    return _mask_to_positions(mask)
