"""Shared array access for score methods: per-sample dynamics as (init, epoch, sample) arrays."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError


def dynamics_array(run, column: str, epochs: range | None = None) -> np.ndarray:
    """Column of RUN/dynamics as an (init, epoch, sample) array, read with Polars.

    Rows are sorted by (init, epoch, sample) and must cover the full grid;
    a missing epoch file means a truncated run.
    """
    import polars as pl

    lf = run.dynamics().select("init", "epoch", "sample", column)
    if epochs is not None:
        lf = lf.filter(pl.col("epoch").is_in(list(epochs)))
    df = lf.sort("init", "epoch", "sample").collect()
    E = len(epochs) if epochs is not None else run.epochs
    shape = (run.inits, E, run.n)
    if df.height != shape[0] * shape[1] * shape[2]:
        raise PruneError(f"run {run.path} is truncated: dynamics/ holds {df.height} rows, expected "
                         f"{shape[0]}×{shape[1]}×{shape[2]} (init × epoch × sample)")
    values = df.get_column(column).to_numpy()
    return values.reshape(shape)


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    z = logits - logits.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def epoch_index(run, epoch: int | None, default: int, flag: str = "--epoch") -> int:
    """A 0-based recorded epoch; negative counts from the end (-1 = last)."""
    e = default if epoch is None else int(epoch)
    if e < 0:
        e += run.epochs
    if not 0 <= e < run.epochs:
        raise PruneError(f"{flag} {epoch} is outside the recorded epochs 0..{run.epochs - 1}")
    return e
