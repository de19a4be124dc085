"""Write a valid run folder from given logits, without training.

Tests use it to pin every score on hand-made trajectories; benchmarks use it
to build CIFAR-scale runs. It writes through the same functions as
``prune record``, so the files are the real artifacts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline.io import fingerprint, layout
from pipeline.io.run import create_trajectories
from pipeline.io.runinfo import run_info, trajectory_attrs, write_run_info
from pipeline.io.tables import DYNAMICS_SCHEMA, EVAL_SCHEMA, write_table
from pipeline.engine.recording import dynamics_columns


def write_run(path: str | Path, logits: np.ndarray, targets: np.ndarray, *, eval_logits: np.ndarray | None = None,
              data: str = "synthetic", classes: list[str] | None = None, val_recall: np.ndarray | None = None,
              dtype: str = "float32", embeddings: np.ndarray | None = None, snapshot_epochs: list[int] | None = None,
              clean_targets: np.ndarray | None = None, heads: np.ndarray | None = None,
              val_embeddings: np.ndarray | None = None, val_targets: np.ndarray | None = None) -> Path:
    """``logits``: (init, epoch, sample, class). ``val_recall``: per-class recall to put in eval.parquet (final epoch).

    ``embeddings``: (init, snapshot, sample, dim) at ``snapshot_epochs`` (default: after the last epoch). With
    them go the classifier ``heads`` (init, snapshot, class, 1 + dim: bias, then weight row) and the validation
    split's ``val_embeddings`` (init, snapshot, val, dim) with ``val_targets``, as ``prune record --embeddings``
    writes them; by default a fixed classifier and two validation samples per class, drawn with seed 0.
    ``clean_targets``: the labels before injected noise (``targets`` are then the noisy ones).
    """
    path = Path(path)
    logits = np.asarray(logits)
    I, E, N, C = logits.shape
    targets = np.asarray(targets, dtype=np.int64)
    classes = classes or [str(c) for c in range(C)]
    fp = fingerprint(data, "train", targets)
    snapshots: list[int] = []
    if embeddings is not None:
        snapshots = list(snapshot_epochs) if snapshot_epochs is not None else [E]
    label_noise = 0.0 if clean_targets is None else float(np.mean(np.asarray(clean_targets) != targets))
    group = create_trajectories(layout.trajectories(path), inits=I, epochs=E, targets=targets, num_classes=C, dtype=dtype,
                                eval_pass=eval_logits is not None,
                                attrs=trajectory_attrs(fingerprint=fp, classes=classes, epochs=E,
                                                       eval_pass=eval_logits is not None, snapshot_epochs=snapshots,
                                                       label_noise=label_noise))
    if embeddings is not None:
        from pipeline.io.run import create_embeddings

        from pipeline.io.run import create_heads

        embeddings = np.asarray(embeddings)
        D, S = embeddings.shape[-1], len(snapshots)
        create_embeddings(group, inits=I, snapshots=S, n=N, dim=D)[:] = embeddings
        rng = np.random.default_rng(0)
        if heads is None:
            heads = rng.normal(size=(I, S, C, D + 1))
        if val_targets is None:
            val_targets = np.repeat(np.arange(C), 2)
        if val_embeddings is None:
            val_embeddings = rng.normal(size=(I, S, len(val_targets), D))
        create_heads(group, inits=I, snapshots=S, num_classes=C, dim=D, val=len(val_targets))
        group["heads"][:] = np.asarray(heads, dtype=np.float32)
        group["val_embeddings"][:] = np.asarray(val_embeddings, dtype=np.float16)
        vt = group.create_array("val_targets", shape=(len(val_targets),), dtype="int64", chunks=(len(val_targets),),
                                dimension_names=("sample",))
        vt[:] = np.asarray(val_targets, dtype=np.int64)
    if clean_targets is not None:
        ct = group.create_array("clean_targets", shape=(N,), dtype="int64", chunks=(N,), dimension_names=("sample",))
        ct[:] = np.asarray(clean_targets, dtype=np.int64)
    y = torch.from_numpy(targets)
    for i in range(I):
        for e in range(E):
            z = logits[i, e].astype(dtype)
            group["logits"][i, e] = z
            if eval_logits is not None:
                group["eval_logits"][i, e] = np.asarray(eval_logits[i, e]).astype(dtype)
            prev = None if e == 0 else torch.from_numpy(logits[i, e - 1].astype(dtype).astype(np.float32))
            cols = dynamics_columns(torch.from_numpy(z.astype(np.float32)), y, prev)
            cols["sample"] = np.arange(N, dtype=np.int64)
            write_table(layout.dynamics_file(path, i, e), cols, DYNAMICS_SCHEMA)
    recall = np.ones(C) if val_recall is None else np.asarray(val_recall, dtype=np.float64)
    rows = {f.name: [] for f in EVAL_SCHEMA}
    for i in range(I):
        for split in ("val", "test"):
            for c in range(C):
                for k, v in (("init", i), ("epoch", E - 1), ("split", split), ("class", c), ("n", 10),
                             ("recall", float(recall[c])), ("precision", float(recall[c])), ("f1", float(recall[c])), ("loss", 0.0)):
                    rows[k].append(v)
    write_table(layout.eval_table(path), rows, EVAL_SCHEMA)
    write_run_info(path, run_info(
        data=data, n_train=N, classes=classes, model="none", config={}, epochs=E, inits=I, seed=0,
        record_pass="train", eval_pass=eval_logits is not None, logits_dtype=dtype, checkpoints=[],
        snapshot_epochs=snapshots, label_noise=label_noise, fingerprint=fp, synthetic=True))
    return path
