"""TDDS: temporal dual-depth scoring (Zhang et al., CVPR 2024)."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import LogitsPlan, ScoreMethod
from pipeline.score.methods._arrays import dynamics_windows, or_dynamics, window_sq_dev


#: Samples per kernel call: a (I, T, SUB, C) float32 slice of about 4 MiB stays in cache across the
#: kernel's passes (softmax, log, difference, product, sum) instead of streaming each pass through memory.
SUB_BYTES = 4 << 20
#: Up to this many classes the kernel runs in numpy with the class axis first (every reduction over
#: classes is then an elementwise pass over C rows); above it, in torch's multi-threaded softmax.
#: `python bench/score_kernels.py` times both at C = 10 and 100 (bench/RESULTS.md §2).
NUMPY_MAX_CLASSES = 32


def kl_steps(logits: np.ndarray) -> np.ndarray:
    """d_t = Σ_c |p_{t+1,c} · (log(p_{t+1,c}+1e-8) − log(p_{t,c}+1e-8))| of float32 logits (I, T, n, C), as float64 (I, T−1, n).

    Computed in float32, as the authors' code, over slices of samples small
    enough to stay in cache.
    """
    I, T, n, C = logits.shape
    out = np.empty((I, T - 1, n), dtype=np.float64)
    sub = max(1, SUB_BYTES // max(1, I * T * C * 4))
    if C <= NUMPY_MAX_CLASSES:
        eps = np.float32(1e-8)
        for s in range(0, n, sub):
            p = np.moveaxis(logits[:, :, s:s + sub], 3, 0).copy()  # (C, I, T, m): class axis first
            p -= p.max(axis=0)
            np.exp(p, out=p)
            p /= p.sum(axis=0)
            step = p + eps
            np.log(step, out=step)
            np.subtract(step[:, :, 1:], step[:, :, :-1], out=step[:, :, 1:])
            np.multiply(step[:, :, 1:], p[:, :, 1:], out=step[:, :, 1:])
            np.abs(step, out=step)
            out[:, :, s:s + sub] = step[:, :, 1:].sum(axis=0)
        return out
    import torch

    src, dst = torch.from_numpy(logits), torch.from_numpy(out)
    eps = torch.tensor(1e-8, dtype=torch.float32)
    with torch.inference_mode():
        for s in range(0, n, sub):
            p = torch.softmax(src[:, :, s:s + sub], dim=-1)
            logp = torch.log(p + eps)
            step = logp[:, 1:] - logp[:, :-1]
            step.mul_(p[:, 1:]).abs_()
            dst[:, :, s:s + sub] = step.sum(dim=-1)
    return out


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
    d = kl_steps(logits)  # (I, T-1, n)
    # windows k = 0 .. T−J over d_k .. d_{k+J−2}; the deviation is an L2 norm, not a std
    v = np.sqrt(window_sq_dev(d, J - 1, T - J + 1))
    k = np.arange(T - J + 1)
    w = decay * (1.0 - decay) ** (T - J - k)
    return np.einsum("ikn,k->in", v, w).mean(axis=0)


def plan(run, params) -> LogitsPlan | None:
    T = run.epochs if params["epochs"] is None else int(params["epochs"])
    params["epochs"] = T  # the table records the epochs actually used
    J, beta = int(params["window"]), float(params["decay"])
    if not 1 <= T <= run.epochs:
        raise PruneError(f"--epochs {T} is outside 1..{run.epochs} (the epochs recorded)")
    if not 2 <= J <= T:
        raise PruneError(f"--window {J} must be between 2 and the epochs used ({T}); record more epochs or use a smaller --window")
    if not 0.0 < beta < 1.0:
        raise PruneError(f"--decay must be in (0, 1), got {beta}")
    if not run.stores_logits:
        return None  # scored from dynamics/ kl_step instead
    return LogitsPlan("logits", range(0, T), lambda block, y: tdds(block, J, beta))


def from_dynamics(run, params) -> np.ndarray:
    """TDDS from the recorded kl_step column (``prune record --logits none``): kl_step of epoch t is d_{t−1} above,
    so the windows run over epochs 1 .. T−1, J−1 steps each; the same values as from the logits."""
    T, J, beta = int(params["epochs"]), int(params["window"]), float(params["decay"])
    return dynamics_windows(run, "kl_step", range(1, T), J - 1, T - J + 1,
                            lambda sq, k: np.sqrt(sq) * (beta * (1.0 - beta) ** (T - J - k)))


METHOD = ScoreMethod(
    name="tdds",
    compute=or_dynamics(plan, from_dynamics),
    plan=plan,
    higher_is_harder=True,
    formula="Σ_k β(1−β)^(T−J−k) ‖d − mean(d)‖₂ over windows of J epochs of d_t = Σ_c |p_{t+1,c} log(p_{t+1,c}/p_{t,c})|",
    paper="Zhang et al., Spanning Training Progress: Temporal Dual-Depth Scoring (TDDS) for Enhanced Dataset Pruning, CVPR 2024",
    defaults={"window": 10, "decay": 0.9, "epochs": None},
    needs=("training-pass logits, or dynamics/ kl_step (every run, --logits none too)",),
)
