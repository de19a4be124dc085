"""``--method topk``: keep one end of the score ranking (forgetting, EL2N/GraNd, the CCS baselines)."""

from __future__ import annotations

import numpy as np

from pipeline.select.samplers._common import _as_scores, _check_n_keep, _end_kth, _end_mask, _mask_to_positions
from pipeline.select.base import Option, Pool, Sampler


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


def _topk(pool: Pool, n_keep: int, rng, *, keep: str) -> np.ndarray:
    return select_topk(pool.scores, n_keep, higher_is_harder=pool.higher_is_harder, keep=keep)


SAMPLER = Sampler("topk", _topk, "keep the hard end of the scores (--keep easy: the easy end)",
                  "Toneva et al. 2019; Paul et al. 2021", options=(Option("keep", "hard", "keep the 'hard' end of the scores or the 'easy' end", type=str, choices=("hard", "easy")),))
