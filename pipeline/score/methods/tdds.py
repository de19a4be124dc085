"""TDDS: temporal dual-depth scoring (Zhang et al., CVPR 2024)."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.methods._arrays import softmax
from pipeline.score.base import LogitsPlan, ScoreMethod, streamed


def tdds(logits: np.ndarray, window: int = 10, decay: float = 0.9) -> np.ndarray:
    """TDDS of logits (init, epoch, sample, class) over all their T epochs, mean over inits.

    As the authors' code::

        d_t = Σ_c | p_{t+1,c} · (log(p_{t+1,c}+1e-8) − log(p_{t,c}+1e-8)) |     t = 0 .. T-2
        for k in 0 .. T-J:                     # windows of epochs k .. k+J-1
            v_k = ‖ d_{k..k+J-2} − mean(d_{k..k+J-2}) ‖₂
            score += v_k · β · (1−β)^(T−J−k)

    The deviation is an L2 norm (not a variance), and later windows weigh more.
    """
    logits = np.asarray(logits, dtype=np.float32)
    T = logits.shape[1]
    J = window
    # float32 as the authors' PyTorch code; one working copy, updated in place
    p = softmax(logits.copy(), axis=-1)
    logp = np.log(p + np.float32(1e-8))
    np.subtract(logp[:, 1:], logp[:, :-1], out=logp[:, 1:])
    d = np.abs(p[:, 1:] * logp[:, 1:]).sum(axis=-1, dtype=np.float64)  # (I, T-1, n)
    # windows k = 0 .. T−J over d_k .. d_{k+J−2}: J−1 shifted adds per pass instead of a (K, n, J−1)
    # window array; two passes (mean, then squared deviations) keep tiny late-training values exact
    m, K = J - 1, T - J + 1
    mean = np.zeros(d.shape[:1] + (K,) + d.shape[2:])
    for j in range(m):
        mean += d[:, j:j + K]
    mean /= m
    sq = np.zeros_like(mean)
    for j in range(m):
        sq += np.square(d[:, j:j + K] - mean)
    v = np.sqrt(sq)
    k = np.arange(T - J + 1)
    w = decay * (1.0 - decay) ** (T - J - k)
    return np.einsum("ikn,k->in", v, w).mean(axis=0)


def plan(run, params) -> LogitsPlan:
    T = run.epochs if params["epochs"] is None else int(params["epochs"])
    params["epochs"] = T  # the table records the epochs actually used
    J, beta = int(params["window"]), float(params["decay"])
    if not 1 <= T <= run.epochs:
        raise PruneError(f"--epochs {T} is outside 1..{run.epochs} (the epochs recorded)")
    if not 2 <= J <= T:
        raise PruneError(f"--window {J} must be between 2 and the epochs used ({T}); record more epochs or use a smaller --window")
    if not 0.0 < beta < 1.0:
        raise PruneError(f"--decay must be in (0, 1), got {beta}")
    return LogitsPlan("logits", range(0, T), lambda block, y: tdds(block, J, beta))


METHOD = ScoreMethod(
    name="tdds",
    compute=streamed(plan),
    plan=plan,
    higher_is_harder=True,
    formula="Σ_k β(1−β)^(T−J−k) ‖d − mean(d)‖₂ over windows of J epochs of d_t = Σ_c |p_{t+1,c} log(p_{t+1,c}/p_{t,c})|",
    paper="Zhang et al., Spanning Training Progress: Temporal Dual-Depth Scoring (TDDS) for Enhanced Dataset Pruning, CVPR 2024",
    defaults={"window": 10, "decay": 0.9, "epochs": None},
    needs=("training-pass logits (every run)",),
)
