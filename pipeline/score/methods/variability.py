"""Variability, the x axis of dataset cartography (Swayamdipta et al., EMNLP 2020)."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import LogitsPlan, ScoreMethod
from pipeline.score.methods._arrays import dynamics_per_init, first_epochs, log_p_true, or_dynamics


def variability(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Population std (ddof=0) over epochs of p_y, from logits (init, epoch, sample, class); mean over inits.

    As the authors' code (``np.std`` of the true-class probabilities of the
    training pass, one per epoch). High = ambiguous.
    """
    p_y = np.exp(log_p_true(logits, targets))  # (init, epoch, n)
    return p_y.std(axis=1, ddof=0).mean(axis=0)


def plan(run, params) -> LogitsPlan | None:
    T = params["epochs"] = first_epochs(run, params["epochs"])  # the table records the epochs actually used
    if not run.stores_logits:
        return None  # scored from dynamics/ p_true instead
    return LogitsPlan("logits", range(0, T), variability)


def from_dynamics(run, params) -> np.ndarray:
    """:func:`variability` from the recorded p_true column (``prune record --logits none``), one epoch in memory:
    Welford's running mean and sum of squared deviations, in float64, stable as np.std's two passes."""
    T = int(params["epochs"])

    def start(n):
        return np.zeros(n), np.zeros(n)

    def step(acc, p, k):
        mean, m2 = acc
        delta = p.astype(np.float64) - mean
        mean += delta / (k + 1)
        m2 += delta * (p - mean)
        return mean, m2

    return dynamics_per_init(run, "p_true", step, start, lambda acc: np.sqrt(acc[1] / T), range(0, T))


METHOD = ScoreMethod(
    name="variability",
    compute=or_dynamics(plan, from_dynamics),
    plan=plan,
    higher_is_harder=True,
    formula="std_{ddof=0} over the first --epochs T (default all) of p_y, training pass",
    paper="Swayamdipta et al., Dataset Cartography: Mapping and Diagnosing Datasets with Training Dynamics, EMNLP 2020",
    defaults={"epochs": None},
    needs=("training-pass logits, or dynamics/ p_true (every run, --logits none too)",),
)
