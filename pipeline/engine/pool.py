"""The pool hook: what a query model trained on a subset says about the samples it did not train on.

Active learning (DRoP's strategy 0) trains a query model on the labelled
set and ranks the unlabelled pool with a label-free score. ``prune record
--manifest M --pool`` trains on M and, through this hook, writes into
trajectories.zarr:

- ``pool_logits`` (init, epoch, pool, class): eval-mode, un-augmented
  logits of every pool sample after each epoch;
- ``pool_mc_logits`` (init, mc sample, pool, class): ``--mc-samples`` S
  forward passes with dropout sampling (the rest in eval mode) after the
  last epoch, for BALD and the variation ratio;
- ``pool_embeddings`` (init, snapshot, pool, dim): the pool's penultimate
  features at the ``--embeddings`` snapshots, for k-center (CoreSet).

Writes happen in ``on_epoch_end``, before the loop saves its resume state,
so a resumed recording never misses a pool epoch.
"""

from __future__ import annotations

import numpy as np
import torch

from pipeline.engine.hooks import Hook
from pipeline.io.run import sample_chunk

#: the MC-dropout masks' seed is the init's seed plus this (dropout never touches the training streams)
MC_SEED_OFFSET = 7919


def create_pool(group, *, pool_ids: np.ndarray, pool_targets: np.ndarray, inits: int, epochs: int, num_classes: int,
                dtype: str, mc_samples: int) -> None:
    """The pool arrays of a recording on a subset (embeddings are created at their first capture)."""
    P = len(pool_ids)
    for name, values in (("pool_samples", pool_ids), ("pool_targets", pool_targets)):
        a = group.create_array(name, shape=(P,), dtype="int64", chunks=(max(1, P),), dimension_names=("pool",))
        a[:] = values
    s = sample_chunk(num_classes, np.dtype(dtype).itemsize, max(1, P))
    dims = ("init", "epoch", "pool", "class")
    group.create_array("pool_logits", shape=(inits, epochs, P, num_classes), dtype=dtype, compressors=None,
                       chunks=(1, 1, s, num_classes), dimension_names=dims, fill_value=np.nan)
    if mc_samples:
        group.create_array("pool_mc_logits", shape=(inits, mc_samples, P, num_classes), dtype=dtype, compressors=None,
                           chunks=(1, 1, s, num_classes), dimension_names=("init", "mc_sample", "pool", "class"),
                           fill_value=np.nan)


class PoolHook(Hook):
    """Predicts one init's pool after every epoch (and samples MC dropout after the last)."""

    def __init__(self, *, group, init: int, pool, device: torch.device, epochs: int, dtype: str, mc_samples: int,
                 seed: int, snapshots: list[int], batch_size: int):
        self.group = group
        self.init = init
        self.pool = pool  # the pool's Split
        self.device = device
        self.epochs = epochs
        self.dtype = getattr(np, dtype)
        self.mc_samples = mc_samples
        self.seed = seed
        self.snapshots = list(snapshots)
        self.batch_size = batch_size

    def on_epoch_end(self, epoch: int, model: torch.nn.Module, evals: dict) -> None:
        from pipeline.engine.loop import predict

        z = predict(model, self.pool, None, self.device, self.batch_size)
        self.group["pool_logits"][self.init, epoch] = z.cpu().numpy().astype(self.dtype)
        if epoch + 1 in self.snapshots:
            self.capture(epoch + 1, model)
        if epoch + 1 == self.epochs and self.mc_samples:
            self.group["pool_mc_logits"][self.init] = self.mc_logits(model).astype(self.dtype)

    def capture(self, completed_epochs: int, model: torch.nn.Module) -> None:
        """The pool's embeddings after ``completed_epochs`` (0: the initial weights; ``record`` calls it)."""
        from pipeline.engine.embeddings import features
        from pipeline.io.run import CHUNK_BYTES

        h = features(model.to(self.device), self.pool, self.device, self.batch_size)
        if "pool_embeddings" not in set(self.group.array_keys()):
            P, dim = h.shape
            s = int(max(1, min(P, CHUNK_BYTES // max(1, dim * 2))))
            self.group.create_array("pool_embeddings", shape=(self.group["pool_logits"].shape[0], len(self.snapshots), P, dim),
                                    dtype="float16", compressors=None, chunks=(1, 1, s, dim),
                                    dimension_names=("init", "snapshot", "pool", "dim"), fill_value=np.nan)
        k = self.snapshots.index(completed_epochs)
        self.group["pool_embeddings"][self.init, k] = h.to(torch.float16).cpu().numpy()

    @torch.no_grad()
    def mc_logits(self, model: torch.nn.Module) -> np.ndarray:
        """(S, pool, class): S passes over the pool with dropout masks sampled, seeded, outside the training RNG."""
        from pipeline.engine.loop import resident
        from pipeline.models.base import mc_dropout

        was_training = model.training
        split = resident(self.pool, self.device)
        devices = [self.device] if self.device.type == "cuda" else []
        out = np.empty((self.mc_samples, len(self.pool), self.group["pool_logits"].shape[-1]), dtype=np.float32)
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed + MC_SEED_OFFSET)
            mc_dropout(model)
            for s in range(self.mc_samples):
                for start in range(0, len(self.pool), self.batch_size):
                    idx = np.arange(start, min(len(self.pool), start + self.batch_size))
                    out[s, idx] = model(split.take(idx, self.device)).float().cpu().numpy()
        model.train(was_training)
        return out
