"""Variation ratio over MC-dropout passes (Gal, Islam & Ghahramani, ICML 2017): how often the passes disagree."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import ScoreMethod, pool_only
from pipeline.score.methods._arrays import pool_mc_logits

HOW = "prune score --pool on a run recorded with --pool --mc-samples K"


def variation_ratio(mc_logits: np.ndarray) -> np.ndarray:
    """1 − (passes predicting the modal class) / T over the T passes of one init, per sample.

    ``mc_logits`` is (pass, sample, class). A pass predicts argmax_c z_c (the
    softmax keeps the order; ties go to the lower class). Counting one class
    at a time keeps memory at a few sample vectors.
    """
    T, n, C = mc_logits.shape
    pred = mc_logits.argmax(axis=-1)  # (pass, sample)
    modal = np.zeros(n, dtype=np.int64)
    for c in range(C):  # a loop over classes; every sample is counted in bulk
        np.maximum(modal, (pred == c).sum(axis=0), out=modal)
    return 1.0 - modal / T


def pool(run, params) -> np.ndarray:
    z = pool_mc_logits(run)  # (init, pass, pool, class)
    return np.mean([variation_ratio(zi) for zi in z], axis=0)


METHOD = ScoreMethod(
    name="variation-ratio",
    compute=pool_only("variation-ratio", HOW),
    pool=pool,
    pool_only=True,
    higher_is_harder=True,
    formula="1 − (number of the T MC-dropout passes that predict the modal class) / T, per init, mean over inits "
            "(pool only)",
    paper="Gal, Islam & Ghahramani, Deep Bayesian Active Learning with Image Data, ICML 2017 (Freeman 1965)",
    defaults={},
    needs=("pool_mc_logits (prune record --manifest M --pool --mc-samples K, a model with --dropout > 0)",),
)
