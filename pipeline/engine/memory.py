"""A recorded run held in memory: the training logits of a trajectory, readable by every logits-based score.

Dynamic pruning with a trajectory score (``prune train --dynamic tdds+ccs``)
scores the epochs trained so far without writing them anywhere: the score
methods read this object exactly as they read a run folder (its Zarr arrays
live in a ``MemoryStore``, its dynamics table is computed from the logits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.io.run import LOGITS_DIMS, Run, sample_chunk
from pipeline.io.runinfo import run_info


class MemoryRun(Run):
    """``logits`` (init, epoch, sample, class) float32 and ``targets`` (sample,) as a :class:`pipeline.io.Run`."""

    def __init__(self, logits: np.ndarray, targets: np.ndarray, *, classes: Sequence[str] | None = None,
                 data: str = "memory"):
        import zarr

        from pipeline.io.fingerprint import fingerprint

        logits = np.asarray(logits, dtype=np.float32)
        targets = np.asarray(targets, dtype=np.int64)
        I, E, N, C = logits.shape
        group = zarr.open_group(zarr.storage.MemoryStore(), mode="w", zarr_format=3)
        arr = group.create_array("logits", shape=logits.shape, dtype="float32", compressors=None,
                                 chunks=(1, 1, sample_chunk(C, 4, N), C), dimension_names=LOGITS_DIMS)
        arr[:] = logits
        t = group.create_array("targets", shape=(N,), dtype="int64", chunks=(N,), dimension_names=("sample",))
        t[:] = targets
        names = [str(c) for c in range(C)] if classes is None else list(classes)
        super().__init__(path=Path("<memory>"), info=run_info(
            data=data, n_train=N, classes=names, model=None, config={}, epochs=E, inits=I, seed=None,
            record_pass="train", checkpoints=[], snapshot_epochs=[], fingerprint=fingerprint(data, "train", targets)))
        self.__dict__["zarr"] = group  # the cached property, filled in
        self._logits = logits
        self._dynamics = None

    def dynamics_epoch(self, init: int, epoch: int, columns) -> dict[str, np.ndarray]:
        """One epoch's per-sample scalars (as RUN/dynamics holds them), computed from the logits."""
        import torch

        from pipeline.engine.recording import dynamics_columns

        prev = torch.from_numpy(self._logits[init, epoch - 1]) if epoch > 0 and "kl_step" in columns else None
        cols = dynamics_columns(torch.from_numpy(self._logits[init, epoch]), torch.from_numpy(self.targets), prev)
        return {c: cols[c] for c in columns}

    def dynamics(self):
        """The per-sample scalars of every epoch (as RUN/dynamics holds them), computed from the logits once."""
        import polars as pl
        import torch

        from pipeline.engine.recording import dynamics_columns

        if self._dynamics is None:
            I, E, N, _ = self._logits.shape
            y = torch.from_numpy(self.targets)
            frames = []
            for i in range(I):
                for e in range(E):
                    prev = torch.from_numpy(self._logits[i, e - 1]) if e > 0 else None
                    cols = dynamics_columns(torch.from_numpy(self._logits[i, e]), y, prev)
                    frames.append(pl.DataFrame({"init": np.full(N, i), "epoch": np.full(N, e),
                                                "sample": np.arange(N), **cols}))
            self._dynamics = pl.concat(frames)
        return self._dynamics.lazy()
