"""``--quota drop``: DRoP's class densities proportional to validation error (Vysogorets et al., ICLR 2025, Algorithm 1)."""

from __future__ import annotations

import operator

import numpy as np

from pipeline.select.quotas._common import _as_counts, _exact, water_fill
from typing import Any

from pipeline.select.base import Inputs, Quota


#: Smallest number of samples ``--quota drop`` keeps of any class (a class
#: with fewer samples is kept whole). DRoP's densities are proportional to
#: the validation error, so a class the query model got 100 % right would be
#: emptied; the floor keeps it represented. See :func:`quota_drop`.
DROP_FLOOR = 1


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


def _drop(x: Inputs, n_keep: int) -> np.ndarray:
    return quota_drop(x.class_counts, x.recalls, n_keep)


def _drop_detail(x: Inputs, params: dict[str, Any]) -> dict[str, Any]:
    source = {"recalls_from": x.sources["recalls"]} if "recalls" in x.sources else {}
    return {"recalls": {x.classes[c]: float(x.recalls[c]) for c in range(x.num_classes)}, **source,
            "floor": DROP_FLOOR, "rule": "paper (Algorithm 1): densities ∝ 1 − recall"}


QUOTA = Quota("drop", _drop, "DRoP's densities proportional to validation error 1 − recall (paper, Algorithm 1)",
              "Vysogorets et al., ICLR 2025", needs=("recalls",), detail=_drop_detail)
