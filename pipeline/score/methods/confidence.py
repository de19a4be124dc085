"""Prediction confidence at one epoch (the least-confidence baseline; DeepCore's Uncertainty/LeastConfidence)."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import ScoreMethod
from pipeline.score.methods._arrays import (dynamics_at, log_softmax, needs_logits, or_dynamics, pool_logits_at,
                                            single_epoch_plan)


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
    if space == "logit" and not run.stores_logits:
        needs_logits(run, "confidence", " --space logit")
    return single_epoch_plan(run, params, lambda z, y: confidence(z, y, space))  # None without logits: dynamics/


def top_probability(run, epoch: int) -> np.ndarray:
    """max_c p_c per (init, sample) from dynamics/ at ``epoch``: p_y where the prediction is right, else
    p_y − prob_margin (prob_margin = p_y − max_{c≠y} p_c, and the max over c≠y is then the top class)."""
    p_true, prob_margin = dynamics_at(run, "p_true", epoch), dynamics_at(run, "prob_margin", epoch)
    correct = np.stack([run.dynamics_epoch(i, epoch, ["correct"])["correct"] for i in range(run.inits)])
    return np.where(correct, p_true, p_true - prob_margin)


def from_dynamics(run, params) -> np.ndarray:
    """max_c p_c at --epoch from dynamics/ (``prune record --logits none``), mean over inits."""
    return top_probability(run, params["epoch"]).mean(axis=0)


def pool(run, params) -> np.ndarray:
    """The pool's confidence from its eval-mode logits at --epoch (default the last), mean over inits."""
    space = _space(params)
    return confidence(pool_logits_at(run, params, -1), None, space).mean(axis=0)


METHOD = ScoreMethod(
    name="confidence",
    compute=or_dynamics(plan, from_dynamics),
    plan=plan,
    pool=pool,
    higher_is_harder=False,
    formula="max_c softmax(z)_c at --epoch (default last; --space logit: max_c z_c, DeepCore's code), "
            "eval-pass logits where recorded; on the pool, its eval-mode logits",
    paper="Coleman et al., Selection via Proxy, ICLR 2020 (as DeepCore's Uncertainty/LeastConfidence, Guo et al. 2022)",
    defaults={"epoch": None, "space": "prob"},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else training-pass logits, "
           "else (--space prob) dynamics/ p_true, prob_margin, correct (--logits none)",
           "on the pool: pool_logits (prune record --manifest M --pool)"),
)
