"""DUAL (Cho et al., "Lightweight Dataset Pruning without Full Training via Example Difficulty and Prediction
Uncertainty", ICML 2025; code behaapyy/dual-pruning): uncertainty times difficulty, early in training."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import LogitsPlan, ScoreMethod
from pipeline.score.methods._arrays import first_epochs, log_p_true, or_dynamics

#: The authors' T: DUAL scores from the first 30 epochs (of their 200-epoch runs, about 15%).
DUAL_EPOCHS = 30


def dual_of_p(p: np.ndarray, window: int = 10) -> np.ndarray:
    """DUAL of label probabilities p_y (init, epoch, sample) over all their T epochs, mean over inits.

    As the authors' ``dual()`` (exp_cifar/importance_evaluation.py): every window of J consecutive epochs,
    k = 0 … T − J (T − J + 1 windows), takes the unbiased std (torch's ``std``) and the mean of p_y over the
    window; the score is the mean over windows of std · (1 − mean): uncertain and still not learnt is hard.
    Their code multiplies the std by 10, which changes no ranking and no sampling weight, and is left out.

    Window sums are cumulative sums in float64 of p_y less its mean over the T epochs, so a block costs
    O(T · n) whatever J, and a nearly constant p_y (a sample learnt early) keeps an exact small std.
    """
    p = np.asarray(p, dtype=np.float64)
    T, J = p.shape[1], window
    centre = p.mean(axis=1, keepdims=True)
    q = p - centre
    zero = np.zeros(q[:, :1].shape)
    s1 = np.concatenate([zero, np.cumsum(q, axis=1)], axis=1)
    s2 = np.concatenate([zero, np.cumsum(q * q, axis=1)], axis=1)
    w1, w2 = s1[:, J:] - s1[:, :T - J + 1], s2[:, J:] - s2[:, :T - J + 1]  # (init, T − J + 1, n)
    mean_q = w1 / J
    std = np.sqrt(np.maximum(w2 - J * mean_q * mean_q, 0.0) / (J - 1))
    return (std * (1.0 - (mean_q + centre))).mean(axis=1).mean(axis=0)


def dual_score(logits: np.ndarray, targets: np.ndarray, window: int = 10) -> np.ndarray:
    """:func:`dual_of_p` of p_y = softmax(z)_y, from logits (init, epoch, sample, class)."""
    return dual_of_p(np.exp(log_p_true(logits, targets)), window)


def _epochs_and_window(run, params) -> tuple[int, int]:
    T = params["epochs"] = (first_epochs(run, params["epochs"]) if params["epochs"] is not None
                            else min(DUAL_EPOCHS, run.epochs))  # the table records the epochs used
    J = int(params["window"])
    if not 2 <= J <= T:
        raise PruneError(f"--window {J} must be between 2 and {T} (the epochs used); record more epochs or use a "
                         "smaller --window")
    return T, J


def plan(run, params) -> LogitsPlan | None:
    T, J = _epochs_and_window(run, params)
    if not run.stores_logits:
        return None  # scored from dynamics/ p_true instead
    # the training pass, as the authors record it (their train.py keeps the outputs of each training batch)
    return LogitsPlan("logits", range(0, T), lambda block, y: dual_score(block, y, J))


def from_dynamics(run, params) -> np.ndarray:
    """:func:`dual_of_p` from the recorded p_true column (``prune record --logits none``), J epochs held per init.

    Each window's mean and std are taken in two passes over its J epochs (as ``np.std``), so the values agree
    with the logits path to float32 rounding of the stored logits.
    """
    T, J = int(params["epochs"]), int(params["window"])
    total = np.zeros(run.n, dtype=np.float64)
    for i in range(run.inits):
        held: list[np.ndarray] = []
        acc = np.zeros(run.n, dtype=np.float64)
        for e in range(T):
            held.append(run.dynamics_epoch(i, e, ["p_true"])["p_true"].astype(np.float64))
            if len(held) > J:
                held.pop(0)
            if len(held) < J:
                continue
            mean = sum(held) / J
            var = sum(np.square(x - mean) for x in held) / (J - 1)
            acc += np.sqrt(var) * (1.0 - mean)
        total += acc / (T - J + 1)
    return total / run.inits


def p_true_mean(run, epochs: int) -> np.ndarray:
    """Each sample's mean label probability over the first ``epochs`` recorded epochs, mean over inits.

    The training pass's p_y from RUN/dynamics (every run has it, ``--logits none`` too), one epoch in memory:
    where DUAL's Beta sampler (``prune select --method dualbeta``) evaluates its pdf, the authors'
    ``pred_mean = target_probs[:30].mean(0)``.
    """
    return run.p_true_mean(epochs)


METHOD = ScoreMethod(
    name="dual",
    compute=or_dynamics(plan, from_dynamics),
    plan=plan,
    higher_is_harder=True,
    formula="mean over windows k = 0..T−J of std_{ddof=1}(p_y) · (1 − mean(p_y)) over epochs k..k+J−1, "
            "the first T = --epochs (default 30) epochs, J = --window, training pass",
    paper="Cho et al., Lightweight Dataset Pruning without Full Training via Example Difficulty and Prediction "
          "Uncertainty (DUAL), ICML 2025",
    defaults={"window": 10, "epochs": None},
    needs=("training-pass logits, or dynamics/ p_true (every run, --logits none too)",),
)
