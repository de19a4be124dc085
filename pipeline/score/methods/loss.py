"""Cross-entropy loss at one epoch."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import ScoreMethod
from pipeline.score.methods._arrays import dynamics_at, log_softmax, or_dynamics, single_epoch_plan, true_class


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """−log softmax(z)_y per (init, sample). High = hard."""
    return -true_class(log_softmax(logits), targets)


def plan(run, params):
    return single_epoch_plan(run, params, cross_entropy)  # None without logits: from dynamics/ loss


def from_dynamics(run, params) -> np.ndarray:
    """The recorded loss column at --epoch (``prune record --logits none``), mean over inits."""
    return dynamics_at(run, "loss", params["epoch"]).mean(axis=0)


METHOD = ScoreMethod(
    name="loss",
    compute=or_dynamics(plan, from_dynamics),
    plan=plan,
    higher_is_harder=True,
    formula="−log softmax(z)_y at --epoch (default last), eval-pass logits where recorded",
    paper="the loss baseline (e.g. Jiang et al., Accelerating Deep Learning by Focusing on the Biggest Losers, 2019)",
    defaults={"epoch": None},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else training-pass logits, "
           "else dynamics/ loss (--logits none)",),
)
