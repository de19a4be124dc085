"""Correctness, the colour of dataset cartography (Swayamdipta et al., EMNLP 2020)."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import LogitsPlan, ScoreMethod
from pipeline.score.methods._arrays import dynamics_per_init, first_epochs, or_dynamics


def correctness(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Fraction of epochs whose argmax_c z_c equals y, from logits (init, epoch, sample, class); mean over inits.

    The paper's definition; the authors' code stores the count (fraction × T),
    which ranks identically. Ties in z go to the lowest class, as ``argmax``.
    Low = hard.
    """
    hit = np.asarray(logits).argmax(axis=-1) == np.asarray(targets)[None, None, :]
    return hit.mean(axis=1).mean(axis=0)


def plan(run, params) -> LogitsPlan | None:
    T = params["epochs"] = first_epochs(run, params["epochs"])  # the table records the epochs actually used
    if not run.stores_logits:
        return None  # scored from dynamics/ correct instead
    return LogitsPlan("logits", range(0, T), correctness)


def from_dynamics(run, params) -> np.ndarray:
    """:func:`correctness` from the recorded correct column (``prune record --logits none``), one epoch in memory.

    dynamics/ take the prediction from ``topk``, which may break an exact tie between the top logits
    otherwise than ``argmax`` (the lowest class); any other sample gets the same value."""
    T = int(params["epochs"])

    def step(acc, correct, k):
        acc += np.asarray(correct, dtype=bool)
        return acc

    return dynamics_per_init(run, "correct", step, lambda n: np.zeros(n, dtype=np.int64), lambda acc: acc / T,
                             range(0, T))


METHOD = ScoreMethod(
    name="correctness",
    compute=or_dynamics(plan, from_dynamics),
    plan=plan,
    higher_is_harder=False,
    formula="fraction of the first --epochs T (default all) whose training-pass prediction argmax z equals y",
    paper="Swayamdipta et al., Dataset Cartography: Mapping and Diagnosing Datasets with Training Dynamics, EMNLP 2020",
    defaults={"epochs": None},
    needs=("training-pass logits, or dynamics/ correct (every run, --logits none too)",),
)
