"""Correctness, the colour of dataset cartography (Swayamdipta et al., EMNLP 2020)."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import LogitsPlan, ScoreMethod, streamed
from pipeline.score.methods._arrays import first_epochs


def correctness(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Fraction of epochs whose argmax_c z_c equals y, from logits (init, epoch, sample, class); mean over inits.

    The paper's definition; the authors' code stores the count (fraction × T),
    which ranks identically. Ties in z go to the lowest class, as ``argmax``.
    Low = hard.
    """
    hit = np.asarray(logits).argmax(axis=-1) == np.asarray(targets)[None, None, :]
    return hit.mean(axis=1).mean(axis=0)


def plan(run, params) -> LogitsPlan:
    T = params["epochs"] = first_epochs(run, params["epochs"])  # the table records the epochs actually used
    return LogitsPlan("logits", range(0, T), correctness)


METHOD = ScoreMethod(
    name="correctness",
    compute=streamed(plan),
    plan=plan,
    higher_is_harder=False,
    formula="fraction of the first --epochs T (default all) whose training-pass prediction argmax z equals y",
    paper="Swayamdipta et al., Dataset Cartography: Mapping and Diagnosing Datasets with Training Dynamics, EMNLP 2020",
    defaults={"epochs": None},
    needs=("training-pass logits (every run)",),
)
