"""``--method ccs``: Coverage-centric Coreset Selection (Zheng et al., ICLR 2023), its hard cutoff and its strata."""

from __future__ import annotations

import operator

import numpy as np

from pipeline.counts import round_half_up
from pipeline.select.samplers._common import _as_scores, _check_fraction, _check_n_keep, _mask_to_positions
from pipeline.select.samplers.random import select_random
from pipeline.select.samplers.topk import select_topk
from pipeline.select.base import ByRate, Option, Pool, Sampler



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


def _ccs(pool: Pool, n_keep: int, rng, *, beta: float, strata: int) -> np.ndarray:
    return select_ccs(pool.scores, n_keep, higher_is_harder=pool.higher_is_harder, beta=beta, strata=strata, rng=rng)


#: CCS's options, shared with D2 (which runs inside CCS's strata after the same hard cutoff)
BETA_HELP = "fraction of the hardest samples dropped first"
STRATA_HELP = "number of equal-width score bins, each with an equal share of the budget (d2 runs inside them; 1: no bins)"
CCS_STRATA = 50
CCS_BETA = ByRate(ccs_default_beta, "by rate: 0 up to 0.5, 0.1 at 0.7–0.8, 0.3 from 0.9")

SAMPLER = Sampler(
    "ccs", _ccs, "drop the hardest --beta, then equal shares of --strata equal-width score bins, random inside",
    "Zheng et al., ICLR 2023",
    options=(Option("beta", CCS_BETA, BETA_HELP, low=0.0, high=1.0, high_open=True),
             Option("strata", CCS_STRATA, STRATA_HELP, type=int, low=1)),
    # CCS's code ranks by the accumulated probability margin; the logit margin fell below random on
    # MNIST-1D at rates 0.7 and 0.9 (bench/RESULTS.md)
    score_options={"aum": {"space": "prob"}})
