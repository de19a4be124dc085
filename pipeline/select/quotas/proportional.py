"""``--quota proportional``: class shares of the full set (CCS's --class-balanced)."""

from __future__ import annotations

import numpy as np

from pipeline.counts import proportional_shares
from pipeline.select.quotas._common import _as_counts
from pipeline.select.base import Inputs, Quota


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


def _proportional(x: Inputs, n_keep: int) -> np.ndarray:
    return quota_proportional(x.class_counts, n_keep)


QUOTA = Quota("proportional", _proportional, "class shares of the full set", "CCS --class-balanced (Zheng et al., ICLR 2023)")
