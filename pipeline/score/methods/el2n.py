"""EL2N (Paul et al., NeurIPS 2021), as used by DRoP."""

from __future__ import annotations

import math

import numpy as np

from pipeline.score.methods._arrays import dynamics_array, epoch_index, softmax
from pipeline.score.base import LogitsPlan, ScoreMethod


def el2n(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """‖softmax(z) − onehot(y)‖₂ per sample from logits (init, sample, class), mean over inits."""
    p = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    rows = np.arange(p.shape[1])
    p[:, rows, targets] -= 1.0
    return np.sqrt((p * p).sum(axis=-1)).mean(axis=0)


def default_epoch(epochs: int) -> int:
    """10% into training: the recorded epoch after which ceil(0.1·E) epochs have run."""
    return max(0, math.ceil(0.1 * epochs) - 1)


def plan(run, params) -> LogitsPlan | None:
    e = params["epoch"] = epoch_index(run, params["epoch"], default_epoch(run.epochs))  # the table records the epoch actually used
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


METHOD = ScoreMethod(
    name="el2n",
    compute=compute,
    plan=plan,
    higher_is_harder=True,
    formula="‖softmax(z) − onehot(y)‖₂ at --epoch (default 10% into training), eval-pass logits where recorded",
    paper="Paul et al., Deep Learning on a Data Diet: Finding Important Examples Early in Training, NeurIPS 2021",
    defaults={"epoch": None},
    needs=("eval-pass logits where recorded (prune record --eval-pass), else dynamics/",),
)
