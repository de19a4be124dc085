"""Variability, the x axis of dataset cartography (Swayamdipta et al., EMNLP 2020)."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import LogitsPlan, ScoreMethod, streamed
from pipeline.score.methods._arrays import first_epochs, log_p_true


def variability(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Population std (ddof=0) over epochs of p_y, from logits (init, epoch, sample, class); mean over inits.

    As the authors' code (``np.std`` of the true-class probabilities of the
    training pass, one per epoch). High = ambiguous.
    """
    p_y = np.exp(log_p_true(logits, targets))  # (init, epoch, n)
    return p_y.std(axis=1, ddof=0).mean(axis=0)


def plan(run, params) -> LogitsPlan:
    T = params["epochs"] = first_epochs(run, params["epochs"])  # the table records the epochs actually used
    return LogitsPlan("logits", range(0, T), variability)


METHOD = ScoreMethod(
    name="variability",
    compute=streamed(plan),
    plan=plan,
    higher_is_harder=True,
    formula="std_{ddof=0} over the first --epochs T (default all) of p_y, training pass",
    paper="Swayamdipta et al., Dataset Cartography: Mapping and Diagnosing Datasets with Training Dynamics, EMNLP 2020",
    defaults={"epochs": None},
    needs=("training-pass logits (every run)",),
)
