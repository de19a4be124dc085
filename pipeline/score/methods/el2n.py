"""EL2N (Paul et al., NeurIPS 2021), as used by DRoP."""

from __future__ import annotations

import math

import numpy as np

from pipeline.score.methods._arrays import dynamics_array, epoch_index, softmax
from pipeline.score.base import ScoreMethod


def el2n(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """‖softmax(z) − onehot(y)‖₂ per sample from logits (init, sample, class), mean over inits."""
    p = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    rows = np.arange(p.shape[1])
    p[:, rows, targets] -= 1.0
    return np.sqrt((p * p).sum(axis=-1)).mean(axis=0)


def default_epoch(epochs: int) -> int:
    """10% into training: the recorded epoch after which ceil(0.1·E) epochs have run."""
    return max(0, math.ceil(0.1 * epochs) - 1)


def compute(run, params) -> np.ndarray:
    e = epoch_index(run, params["epoch"], default_epoch(run.epochs))
    if run.has("eval_logits"):
        # the eval pass is what Paul et al. score: eval mode, no augmentation
        z = np.asarray(run.logits_array("eval_logits")[:, e], dtype=np.float32)
        return el2n(z, run.targets)
    return dynamics_array(run, "el2n", range(e, e + 1))[:, 0].astype(np.float64).mean(axis=0)


METHOD = ScoreMethod(
    name="el2n",
    compute=compute,
    higher_is_harder=True,
    formula="‖softmax(z) − onehot(y)‖₂ at --epoch (default 10% into training), eval-pass logits where recorded",
    paper="Paul et al., Deep Learning on a Data Diet: Finding Important Examples Early in Training, NeurIPS 2021",
    defaults={"epoch": None},
)
