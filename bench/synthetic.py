"""Synthetic but valid runs at any scale, for the scoring benchmarks.

Logits drift over epochs the way a training run's do: every sample starts from
noise and its true-class logit grows at a sample-specific speed (some samples
are learned early, some late, a few never), with fresh per-epoch jitter. The
run is written epoch by epoch through the same writers as `prune record`, so
memory stays at one epoch whatever N·E·C is.

    python bench/synthetic.py OUT --n 50000 --classes 100 --epochs 200
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pipeline.io import fingerprint
from pipeline.io.run import create_trajectories
from pipeline.io.runinfo import run_info, trajectory_attrs, write_run_info
from pipeline.io.tables import DYNAMICS_SCHEMA, EVAL_SCHEMA, write_table
from pipeline.engine.recording import dynamics_columns


def make_run(out: Path, n: int, classes: int, epochs: int, seed: int = 0, dtype: str = "float16") -> Path:
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, size=n)
    fp = fingerprint("synthetic", "train", targets)
    group = create_trajectories(out / "trajectories.zarr", inits=1, epochs=epochs, targets=targets, num_classes=classes,
                                dtype=dtype, eval_pass=False,
                                attrs=trajectory_attrs(fingerprint=fp, classes=[str(c) for c in range(classes)],
                                                       epochs=epochs, eval_pass=False))
    base = rng.standard_normal((n, classes), dtype=np.float32)
    speed = rng.gamma(2.0, 1.0, size=n).astype(np.float32) * 8.0 / epochs  # learned at different times
    speed[rng.random(n) < 0.02] = 0.0  # never learned (label noise, say)
    rows = np.arange(n)
    y = torch.from_numpy(targets)
    prev = None
    for e in range(epochs):
        z = base + 0.3 * rng.standard_normal((n, classes), dtype=np.float32)
        z[rows, targets] += speed * e
        z = z.astype(dtype)
        group["logits"][0, e] = z
        cols = dynamics_columns(torch.from_numpy(z.astype(np.float32)), y, prev)
        prev = torch.from_numpy(z.astype(np.float32))
        cols["sample"] = rows
        write_table(out / "dynamics" / "init=0" / f"epoch={e}" / "part-0.parquet", cols, DYNAMICS_SCHEMA)
    ev = {f.name: [] for f in EVAL_SCHEMA}
    for split in ("val", "test"):
        for c in range(classes):
            for k, v in (("init", 0), ("epoch", epochs - 1), ("split", split), ("class", c), ("n", 50), ("recall", 0.9),
                         ("precision", 0.9), ("f1", 0.9), ("loss", 0.3)):
                ev[k].append(v)
    write_table(out / "eval.parquet", ev, EVAL_SCHEMA)
    write_run_info(out, run_info(data="synthetic", n_train=n, classes=[str(c) for c in range(classes)], model="none",
                                 config={}, epochs=epochs, inits=1, seed=seed, record_pass="train", eval_pass=False,
                                 logits_dtype=dtype, checkpoints=[], snapshot_epochs=[], fingerprint=fp,
                                 synthetic=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    make_run(a.out, a.n, a.classes, a.epochs, a.seed)
    print(f"wrote {a.out}: N={a.n} C={a.classes} E={a.epochs} in {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
