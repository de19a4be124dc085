"""Least confidence: one minus the top softmax probability (the classic uncertainty-sampling score)."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import ScoreMethod
from pipeline.score.methods._arrays import or_dynamics, pool_logits_at, single_epoch_plan


def least_confidence(logits: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
    """1 − max_c p_c of p = softmax(z), per (init, sample); label-free, high = uncertain.

    Computed as r / (1 + r) with r = Σ_{c ≠ top} exp(z_c − z_top), the mass
    of the other classes relative to the top one, so a confident sample keeps
    its small value to full precision instead of the rounding left by
    1 − 0.99999….
    """
    z = np.asarray(logits, dtype=np.float64)
    top = z.argmax(axis=-1)[..., None]
    e = np.exp(z - np.take_along_axis(z, top, axis=-1))
    np.put_along_axis(e, top, 0.0, axis=-1)  # the top class itself (one of them, on a tie)
    r = e.sum(axis=-1)
    return r / (1.0 + r)


def plan(run, params):
    return single_epoch_plan(run, params, least_confidence)  # None without logits: from dynamics/


def from_dynamics(run, params) -> np.ndarray:
    """1 − max_c p_c at --epoch from dynamics/ (``prune record --logits none``), mean over inits; to the float32
    precision of the recorded probabilities (about 1e-7), not the r / (1 + r) precision of the logits path."""
    from pipeline.score.methods.confidence import top_probability

    return (1.0 - top_probability(run, params["epoch"])).mean(axis=0)


def pool(run, params) -> np.ndarray:
    """The pool's least confidence from its eval-mode logits at --epoch (default the last), mean over inits."""
    return least_confidence(pool_logits_at(run, params, -1)).mean(axis=0)


METHOD = ScoreMethod(
    name="least-confidence",
    compute=or_dynamics(plan, from_dynamics),
    plan=plan,
    pool=pool,
    higher_is_harder=True,
    formula="1 − max_c softmax(z)_c at --epoch (default last), eval-pass logits where recorded; "
            "on the pool, its eval-mode logits; mean over inits",
    paper="Lewis & Gale, A Sequential Algorithm for Training Text Classifiers, SIGIR 1994; "
          "Settles, Active Learning Literature Survey, 2009",
    defaults={"epoch": None},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else training-pass logits, "
           "else dynamics/ p_true, prob_margin, correct (--logits none)",
           "on the pool: pool_logits (prune record --manifest M --pool)"),
)
