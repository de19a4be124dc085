"""Dynamic uncertainty (He et al., "Large-scale Dataset Pruning with Dynamic Uncertainty", 2023)."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import LogitsPlan, ScoreMethod
from pipeline.score.methods._arrays import (dynamics_windows, first_epochs, log_p_true, or_dynamics, preferred_source,
                                            window_sq_dev)


def dynamic_uncertainty(logits: np.ndarray, targets: np.ndarray, window: int = 10) -> np.ndarray:
    """Mean over windows of the unbiased std of p_y, from logits (init, epoch, sample, class); mean over inits.

    With T epochs and windows of J, as the authors' code (BAAI-DCAI/Dataset-Pruning)::

        U = 1/(T−J) · Σ_{k=0}^{T−J−1} std_{ddof=1}( p_{k,y}, …, p_{k+J−1,y} )

    Their loop closes a window at every epoch from J−1 to T−2, so the last
    recorded epoch never ends one: T−J windows, not T−J+1. (Their code also
    multiplies by 10, which changes no ranking and is left out.)
    """
    T, J = logits.shape[1], window
    p_y = np.exp(log_p_true(logits, targets))  # (init, T, n)
    # windows k = 0 .. T−J−1 over p_k .. p_{k+J−1}, unbiased std
    return np.sqrt(window_sq_dev(p_y, J, T - J) / (J - 1)).mean(axis=1).mean(axis=0)


def plan(run, params) -> LogitsPlan | None:
    T = params["epochs"] = first_epochs(run, params["epochs"])  # the table records the epochs actually used
    J = int(params["window"])
    if not 2 <= J <= T - 1:
        raise PruneError(f"--window {J} must be between 2 and {T - 1} (one less than the epochs used, {T}); "
                         "record more epochs or use a smaller --window")
    if not run.stores_logits:
        return None  # scored from dynamics/ p_true instead
    return LogitsPlan(preferred_source(run), range(0, T), lambda block, y: dynamic_uncertainty(block, y, J))


def from_dynamics(run, params) -> np.ndarray:
    """:func:`dynamic_uncertainty` from the recorded p_true column (``prune record --logits none``), J epochs held."""
    T, J = int(params["epochs"]), int(params["window"])
    return dynamics_windows(run, "p_true", range(0, T), J, T - J, lambda sq, k: np.sqrt(sq / (J - 1))) / (T - J)


METHOD = ScoreMethod(
    name="dynunc",
    compute=or_dynamics(plan, from_dynamics),
    plan=plan,
    higher_is_harder=True,
    formula="mean over windows k = 0..T−J−1 of std_{ddof=1}(p_y over epochs k..k+J−1), J = --window",
    paper="He et al., Large-scale Dataset Pruning with Dynamic Uncertainty, arXiv:2306.05175, 2023",
    defaults={"window": 10, "epochs": None},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else training-pass logits, "
           "else dynamics/ p_true (--logits none)",),
)
