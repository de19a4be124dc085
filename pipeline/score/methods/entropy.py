"""Prediction entropy at one epoch (the uncertainty baseline of DeepCore, Guo et al. 2022)."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import ScoreMethod
from pipeline.score.methods._arrays import dynamics_at, log_softmax, or_dynamics, pool_logits_at, single_epoch_plan


def entropy(logits: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
    """H(p) = −Σ_c p_c log p_c of p = softmax(z), per (init, sample).

    Exact: DeepCore's code adds 1e-6 inside the log, which moves no value by
    more than about C·1e-6.
    """
    logp = log_softmax(logits)
    return -(np.exp(logp) * logp).sum(axis=-1)


def plan(run, params):
    return single_epoch_plan(run, params, entropy)  # None without logits: from dynamics/ entropy


def from_dynamics(run, params) -> np.ndarray:
    """The recorded entropy column at --epoch (``prune record --logits none``), mean over inits."""
    return dynamics_at(run, "entropy", params["epoch"]).mean(axis=0)


def pool(run, params) -> np.ndarray:
    """The pool's entropy from its eval-mode logits at --epoch (default the last), mean over inits."""
    return entropy(pool_logits_at(run, params, -1)).mean(axis=0)


METHOD = ScoreMethod(
    name="entropy",
    compute=or_dynamics(plan, from_dynamics),
    plan=plan,
    pool=pool,
    higher_is_harder=True,
    formula="−Σ_c p_c log p_c of p = softmax(z) at --epoch (default last), "
            "eval-pass logits where recorded; on the pool, its eval-mode logits",
    paper="Coleman et al., Selection via Proxy, ICLR 2020 (as DeepCore's Uncertainty/Entropy, Guo et al. 2022)",
    defaults={"epoch": None},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else training-pass logits, "
           "else dynamics/ entropy (--logits none)",
           "on the pool: pool_logits (prune record --manifest M --pool)"),
)
