"""Top-2 probability margin at one epoch (DeepCore's Uncertainty/Margin)."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import ScoreMethod
from pipeline.score.stream import streamed
from pipeline.score.methods._arrays import log_softmax, pool_logits_at, single_epoch_plan


def top2_margin(logits: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
    """p_(1) − p_(2), the gap between the two largest probabilities, per (init, sample).

    Label-free (unlike AUM's margin, which is taken against the label). Low = hard.
    """
    p = np.exp(log_softmax(logits))
    top2 = np.partition(p, p.shape[-1] - 2, axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


def plan(run, params):
    if run.num_classes < 2:
        raise PruneError("margin needs at least two classes")
    # p_(1) − p_(2) is not in dynamics/ (prob_margin is taken against the label): no scalar-tier fallback
    return single_epoch_plan(run, params, top2_margin, "margin")


def pool(run, params) -> np.ndarray:
    """The pool's top-2 margin from its eval-mode logits at --epoch (default the last), mean over inits."""
    if run.num_classes < 2:
        raise PruneError("margin needs at least two classes")
    return top2_margin(pool_logits_at(run, params, -1)).mean(axis=0)


METHOD = ScoreMethod(
    name="margin",
    compute=streamed(plan),
    plan=plan,
    pool=pool,
    higher_is_harder=False,
    formula="p_(1) − p_(2), the two largest softmax probabilities, at --epoch (default last), "
            "eval-pass logits where recorded; on the pool, its eval-mode logits",
    paper="Coleman et al., Selection via Proxy, ICLR 2020 (as DeepCore's Uncertainty/Margin, Guo et al. 2022)",
    defaults={"epoch": None},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else training-pass logits "
           "(not a --logits none run)",
           "on the pool: pool_logits (prune record --manifest M --pool)"),
)
