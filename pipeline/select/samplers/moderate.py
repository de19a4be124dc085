"""``--method moderate``: the band of the score ranking around the median (Xia et al., ICLR 2023)."""

from __future__ import annotations

import numpy as np

from pipeline.select.samplers._common import _as_scores, _check_n_keep, _end_kth, _end_mask, _mask_to_positions
from pipeline.select.base import Pool, Sampler


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


def _moderate(pool: Pool, n_keep: int, rng) -> np.ndarray:
    return select_moderate(pool.scores, n_keep, higher_is_harder=pool.higher_is_harder)


SAMPLER = Sampler("moderate", _moderate, "the band of the score ranking around the median", "Xia et al., ICLR 2023")
