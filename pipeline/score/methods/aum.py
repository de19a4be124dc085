"""Area under the margin (Pleiss et al., NeurIPS 2020); CCS's accumulated probability margin."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.methods._arrays import dynamics_per_init
from pipeline.score.base import ScoreMethod


def area_under_margin(margins: np.ndarray, space: str = "logit") -> np.ndarray:
    """AUM from per-epoch margins (init, epoch, sample), mean over inits.

    ``space="logit"``: mean over epochs of z_y − max_{c≠y} z_c (Pleiss et al.).
    ``space="prob"``: sum over epochs of p_y − max_{c≠y} p_c (the "accumulated
    margin" of the CCS code). Low = hard (likely mislabelled or ambiguous).
    """
    margins = np.asarray(margins, dtype=np.float64)
    per_init = margins.mean(axis=1) if space == "logit" else margins.sum(axis=1)
    return per_init.mean(axis=0)


def compute(run, params) -> np.ndarray:
    space = params["space"]
    if space not in ("logit", "prob"):
        raise PruneError(f"--space must be 'logit' or 'prob', got {space!r}")
    E = run.epochs

    def step(acc, margin, k):
        acc += margin.astype(np.float64)  # epochs added in order, as numpy sums the epoch axis
        return acc

    return dynamics_per_init(run, "margin" if space == "logit" else "prob_margin", step,
                             lambda n: np.zeros(n, dtype=np.float64), lambda acc: acc / E if space == "logit" else acc)


METHOD = ScoreMethod(
    name="aum",
    compute=compute,
    higher_is_harder=False,
    formula="mean over epochs of z_y − max_{c≠y} z_c (--space prob: sum over epochs of p_y − max_{c≠y} p_c)",
    paper="Pleiss et al., Identifying Mislabeled Data using the Area Under the Margin Ranking, NeurIPS 2020",
    defaults={"space": "logit"},
    needs=("dynamics/ (every run)",),
)
