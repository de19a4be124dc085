"""EL2N (Paul et al., NeurIPS 2021), as used by DRoP."""

from __future__ import annotations

import math

import numpy as np

from pipeline.score.methods._arrays import (dynamics_array, epoch_index, label_mode, needs_logits, pool_logits_at,
                                            preferred_source, softmax, training_label)
from pipeline.score.base import LogitsPlan, ScoreMethod


def el2n(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """‖softmax(z) − onehot(y)‖₂ per sample from logits (init, sample, class), mean over inits."""
    p = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    rows = np.arange(p.shape[1])
    p[:, rows, targets] -= 1.0
    return np.sqrt((p * p).sum(axis=-1)).mean(axis=0)


def el2n_free(logits: np.ndarray, mode: str) -> np.ndarray:
    """EL2N without a label (DRoP's code on unlabelled data), from logits (init, sample, class), mean over inits.

    ``max``: the label is the predicted class argmax_c p_c, so the score is
    ‖p − e_argmax‖₂. ``avg``: every class in turn is the label,
    mean_c ‖p − e_c‖₂. Both use ‖p − e_c‖₂² = Σ_k p_k² − 2 p_c + 1 (clipped
    at 0 against rounding), one pass over the classes.
    """
    p = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    sq = (p * p).sum(axis=-1, keepdims=True)
    if mode == "max":
        d2 = sq[..., 0] - 2.0 * p.max(axis=-1) + 1.0
        return np.sqrt(np.maximum(d2, 0.0)).mean(axis=0)
    d2 = sq - 2.0 * p + 1.0  # (init, sample, class): the squared distance to each corner
    return np.sqrt(np.maximum(d2, 0.0)).mean(axis=-1).mean(axis=0)


def default_epoch(epochs: int) -> int:
    """10% into training: the recorded epoch after which ceil(0.1·E) epochs have run."""
    return max(0, math.ceil(0.1 * epochs) - 1)


def plan(run, params) -> LogitsPlan | None:
    mode = training_label(params, "el2n")
    e = params["epoch"] = epoch_index(run, params["epoch"], default_epoch(run.epochs))  # the table records the epoch actually used
    if mode != "true":  # label-free: from the preferred pass's logits (dynamics/ hold the true-label EL2N only)
        needs_logits(run, "el2n", f" --label {mode}")
        return LogitsPlan(preferred_source(run), range(e, e + 1), lambda block, y: el2n_free(block[:, 0], mode))
    if not run.has("eval_logits"):
        return None  # scored from dynamics/ instead
    # the eval pass is what Paul et al. score: eval mode, no augmentation
    return LogitsPlan("eval_logits", range(e, e + 1), lambda block, y: el2n(block[:, 0], y))


def compute(run, params) -> np.ndarray:
    p = plan(run, params)
    if p is not None:
        from pipeline.score.stream import run_plans

        return run_plans(run, [p])[0][0]
    e = params["epoch"] = epoch_index(run, params["epoch"], default_epoch(run.epochs))  # the table records the epoch actually used
    return dynamics_array(run, "el2n", range(e, e + 1))[:, 0].astype(np.float64).mean(axis=0)


def pool(run, params) -> np.ndarray:
    """The pool's EL2N from its eval-mode logits at --epoch (default 10% into training), label ``max`` or ``avg``."""
    mode = params["label"] = label_mode(params.get("label"), "el2n", pool=True)  # the table records the rule used
    return el2n_free(pool_logits_at(run, params, default_epoch(run.epochs)), mode)


METHOD = ScoreMethod(
    name="el2n",
    compute=compute,
    plan=plan,
    pool=pool,
    higher_is_harder=True,
    formula="‖softmax(z) − onehot(y)‖₂ at --epoch (default 10% into training), eval-pass logits where recorded; "
            "--label max: y = argmax_c p_c, avg: mean over every class c as y (the pool's default is max)",
    paper="Paul et al., Deep Learning on a Data Diet: Finding Important Examples Early in Training, NeurIPS 2021",
    defaults={"epoch": None, "label": None},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else dynamics/",
           "on the pool: pool_logits (prune record --manifest M --pool)"),
)
