"""Prediction confidence at one epoch (the least-confidence baseline; DeepCore's Uncertainty/LeastConfidence)."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import ScoreMethod, streamed
from pipeline.score.methods._arrays import log_softmax, pool_logits_at, single_epoch_plan


def confidence(logits: np.ndarray, targets: np.ndarray | None = None, space: str = "prob") -> np.ndarray:
    """max_c p_c of p = softmax(z) per (init, sample); ``space="logit"``: max_c z_c. Label-free; low = hard.

    The logit variant is what DeepCore's code computes for LeastConfidence
    (the model's raw output, no softmax); the probability is the textbook
    least-confidence score (Coleman et al.).
    """
    if space == "logit":
        return np.asarray(logits, dtype=np.float64).max(axis=-1)
    return np.exp(log_softmax(logits).max(axis=-1))


def _space(params) -> str:
    space = params["space"]
    if space not in ("prob", "logit"):
        raise PruneError(f"--space must be 'prob' or 'logit' for confidence, got {space!r}")
    return space


def plan(run, params):
    space = _space(params)
    return single_epoch_plan(run, params, lambda z, y: confidence(z, y, space))


def pool(run, params) -> np.ndarray:
    """The pool's confidence from its eval-mode logits at --epoch (default the last), mean over inits."""
    space = _space(params)
    return confidence(pool_logits_at(run, params, -1), None, space).mean(axis=0)


METHOD = ScoreMethod(
    name="confidence",
    compute=streamed(plan),
    plan=plan,
    pool=pool,
    higher_is_harder=False,
    formula="max_c softmax(z)_c at --epoch (default last; --space logit: max_c z_c, DeepCore's code), "
            "eval-pass logits where recorded; on the pool, its eval-mode logits",
    paper="Coleman et al., Selection via Proxy, ICLR 2020 (as DeepCore's Uncertainty/LeastConfidence, Guo et al. 2022)",
    defaults={"epoch": None, "space": "prob"},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else training-pass logits",
           "on the pool: pool_logits (prune record --manifest M --pool)"),
)
