"""``--quota normalize``: class shares of the global top after min-max normalising scores in each class (DRoP's code)."""

from __future__ import annotations

import numpy as np
from pipeline.select.base import Inputs, Option, Quota


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
    from pipeline.select.samplers.topk import select_topk

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


def _normalize(x: Inputs, n_keep: int, *, keep: str) -> np.ndarray:
    return quota_normalize(x.scores, x.targets, n_keep, higher_is_harder=x.higher_is_harder, keep=keep,
                           num_classes=x.num_classes)


QUOTA = Quota("normalize", _normalize, "class shares of the global top after min-max normalising scores within each class",
              "Vysogorets et al., ICLR 2025 (code)", needs=("scores",), options=(Option("keep", "hard", "keep the 'hard' end of the scores or the 'easy' end", type=str, choices=("hard", "easy")),))
