"""BALD: mutual information between the prediction and the weights, from MC-dropout passes."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import ScoreMethod, pool_only
from pipeline.score.methods._arrays import log_softmax, pool_mc_logits

HOW = "prune score --pool on a run recorded with --pool --mc-samples K"


def bald(mc_logits: np.ndarray) -> np.ndarray:
    """H(mean_s p_s) − mean_s H(p_s) over the S passes (pass, sample, class) of one init, in float64.

    The predictive entropy minus the expected entropy: high where the passes
    are each confident but disagree. One pass at a time, so memory stays at
    a (sample, class) array. Mathematically ≥ 0 (Jensen); rounding below
    zero is clipped to 0.
    """
    S, n, C = mc_logits.shape
    mean_p = np.zeros((n, C))
    expected = np.zeros(n)
    for s in range(S):
        logp = log_softmax(mc_logits[s])
        p = np.exp(logp)
        mean_p += p
        expected -= (p * logp).sum(axis=-1)
    mean_p /= S
    expected /= S
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(mean_p > 0, mean_p * np.log(mean_p), 0.0)  # 0·log 0 = 0
    return np.maximum(-plogp.sum(axis=-1) - expected, 0.0)


def pool(run, params) -> np.ndarray:
    z = pool_mc_logits(run)  # (init, pass, pool, class)
    return np.mean([bald(zi) for zi in z], axis=0)


METHOD = ScoreMethod(
    name="bald",
    compute=pool_only("bald", HOW),
    pool=pool,
    pool_only=True,
    higher_is_harder=True,
    formula="H(mean_s p_s) − mean_s H(p_s), p_s = softmax of MC-dropout pass s, per init in float64, mean over inits "
            "(pool only)",
    paper="Houlsby et al., Bayesian Active Learning for Classification and Preference Learning, 2011; "
          "Gal, Islam & Ghahramani, Deep Bayesian Active Learning with Image Data, ICML 2017",
    defaults={},
    needs=("pool_mc_logits (prune record --manifest M --pool --mc-samples K, a model with --dropout > 0)",),
)
