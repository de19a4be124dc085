"""DUAL (Cho et al., "Lightweight Dataset Pruning without Full Training via Example Difficulty and Prediction
Uncertainty", ICML 2025; code behaapyy/dual-pruning): uncertainty times difficulty, early in training."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import LogitsPlan, ScoreMethod
from pipeline.score.methods._arrays import first_epochs, log_p_true, preferred_source
from pipeline.score.stream import streamed

#: The authors' T: DUAL scores from the first 30 epochs (of their 200-epoch runs, about 15%).
DUAL_EPOCHS = 30


def dual_score(logits: np.ndarray, targets: np.ndarray, window: int = 10) -> np.ndarray:
    """Mean over sliding windows of std(p_y) · (1 − mean(p_y)), from logits (init, epoch, sample, class).

    As the authors' ``dual()`` (exp_cifar/importance_evaluation.py): every window of J consecutive epochs,
    k = 0 … T − J (T − J + 1 windows), takes the unbiased std (torch's ``std``) and the mean of p_y over
    the window; the score is the mean over windows of std · (1 − mean): uncertain and still not learnt is
    hard. Their code multiplies the std by 10, which changes no ranking and is left out here. Mean over inits.
    Window sums are cumulative sums in float64, so a block costs O(T · n) whatever J.
    """
    T, J = logits.shape[1], window
    p = np.exp(log_p_true(logits, targets))  # (init, T, n)
    zero = np.zeros(p[:, :1].shape)
    s1 = np.concatenate([zero, np.cumsum(p, axis=1)], axis=1)
    s2 = np.concatenate([zero, np.cumsum(p * p, axis=1)], axis=1)
    w1, w2 = s1[:, J:] - s1[:, :T - J + 1], s2[:, J:] - s2[:, :T - J + 1]  # (init, T − J + 1, n)
    mean = w1 / J
    std = np.sqrt(np.maximum(w2 - J * mean * mean, 0.0) / (J - 1))
    return (std * (1.0 - mean)).mean(axis=1).mean(axis=0)


def plan(run, params) -> LogitsPlan:
    T = params["epochs"] = (first_epochs(run, params["epochs"]) if params["epochs"] is not None
                            else min(DUAL_EPOCHS, run.epochs))  # the table records the epochs used
    J = int(params["window"])
    if not 2 <= J <= T:
        raise PruneError(f"--window {J} must be between 2 and {T} (the epochs used); record more epochs or use a "
                         "smaller --window")
    if not run.stores_logits:
        raise PruneError(f"dual reads the recorded logits and run {run.path} keeps none (--logits none); record "
                         "with --logits float16")
    return LogitsPlan(preferred_source(run), range(0, T), lambda block, y: dual_score(block, y, J))


METHOD = ScoreMethod(
    name="dual",
    compute=streamed(plan),
    plan=plan,
    higher_is_harder=True,
    formula="mean over windows k = 0..T−J of std_{ddof=1}(p_y) · (1 − mean(p_y)) over epochs k..k+J−1, "
            "the first T = --epochs (default 30) epochs, J = --window",
    paper="Cho et al., Lightweight Dataset Pruning without Full Training via Example Difficulty and Prediction "
          "Uncertainty (DUAL), ICML 2025",
    defaults={"window": 10, "epochs": None},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else training-pass logits "
           "(not a --logits none run)",),
)
