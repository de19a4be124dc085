"""Disk per sample-epoch of the two storage tiers of `prune record`, and what an ImageNet-scale run would take.

(a) `--logits float16` (the default): trajectories.zarr/logits + dynamics/;
(b) `--logits none`: dynamics/ only (the per-sample scalars, kl_step included).

Measured twice: a real recording (digits, 10 classes, through `prune record`)
and a synthetic one at ImageNet's 1000 classes, written through the recorder's
own writer (`TrajectoryWriter`: the same logits rounding, dynamics columns and
Parquet files as `prune record`) from drifting logits as bench/synthetic.py
makes them. Logits are stored uncompressed, so their bytes are exactly
E·N·C·2 whatever the values; dynamics/ are snappy-compressed Parquet, whose
size per row depends a little on the values and on the files' fixed overhead
(small N), so the projection uses the large synthetic run.

    OMP_NUM_THREADS=1 python bench/storage_tiers.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

IMAGENET = {"n": 1_281_167, "classes": 1000, "epochs": 90}


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def sizes(run: Path) -> dict[str, int]:
    z = run / "trajectories.zarr"
    logits = folder_bytes(z / "logits") + folder_bytes(z / "eval_logits")
    return {"logits": logits, "dynamics": folder_bytes(run / "dynamics")}


def real_runs(root: Path, epochs: int) -> dict[str, tuple[dict[str, int], int, int]]:
    """Record digits once per tier; (bytes, sample-epochs, samples) per tier."""
    from pipeline.io import open_run
    from pipeline.record.run import record

    out = {}
    for tier in ("float16", "none"):
        run = root / f"digits-{tier}"
        record(run=run, data="digits", data_dir=None, download=False, model=None, epochs=epochs, inits=1, seed=0,
               batch_size=None, lr=None, device="cpu", eval_pass=False, checkpoints="final", logits_dtype=tier,
               force=False, log=lambda _m: None)
        r = open_run(run)
        out[tier] = (sizes(run), r.n * r.epochs * r.inits, r.n)
    return out


def synthetic_runs(root: Path, n: int, classes: int, epochs: int, seed: int = 0) -> dict[str, tuple[dict[str, int], int, float]]:
    """Write E epochs of drifting (n, classes) logits through TrajectoryWriter in each tier; (bytes, sample-epochs, s)."""
    from pipeline.engine.recording import TrajectoryWriter
    from pipeline.io import layout
    from pipeline.io.run import create_trajectories

    out = {}
    for tier in ("float16", "none"):
        rng = np.random.default_rng(seed)  # the same logits in both tiers
        targets = rng.integers(0, classes, size=n)
        base = rng.standard_normal((n, classes), dtype=np.float32)
        speed = rng.gamma(2.0, 1.0, size=n).astype(np.float32) * 8.0 / epochs
        run = root / f"synthetic-{tier}"
        group = create_trajectories(layout.trajectories(run), inits=1, epochs=epochs, targets=targets,
                                    num_classes=classes, dtype=tier, eval_pass=False,
                                    attrs={"classes": [str(c) for c in range(classes)]})
        writer = TrajectoryWriter(run_dir=run, group=group, init=0, targets=targets, device=torch.device("cpu"),
                                  dtype=tier, every_epoch=True)
        ids = torch.arange(n)
        t0 = time.perf_counter()
        for e in range(epochs):
            z = base + 0.3 * rng.standard_normal((n, classes), dtype=np.float32)
            z[np.arange(n), targets] += speed * e
            writer.scatter(ids, torch.from_numpy(z))
            writer.end_epoch(e)
        writer.close()
        out[tier] = (sizes(run), n * epochs, time.perf_counter() - t0)
    return out


def human(b: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if b < 1000 or unit == "TB":
            break
        b /= 1000
    return f"{b:,.1f} {unit}" if unit != "B" else f"{b:,.0f} B"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digits-epochs", type=int, default=10)
    ap.add_argument("--n", type=int, default=20_000, help="samples of the synthetic run")
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=4, help="epochs of the synthetic run")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        root = Path(tmp)
        real = real_runs(root, a.digits_epochs)
        synth = synthetic_runs(root, a.n, a.classes, a.epochs)
    print("bytes per sample-epoch")
    print("| run | tier | logits | dynamics/ | total |")
    print("|---|---|---|---|---|")
    rows = [(f"digits, C=10, N={real['none'][2]:,}, E={a.digits_epochs} (prune record)", real),
            (f"synthetic, C={a.classes}, N={a.n:,}, E={a.epochs} (TrajectoryWriter)", synth)]
    per = {}
    for name, res in rows:
        for tier, (b, se, *_) in res.items():
            lo, dy = b["logits"] / se, b["dynamics"] / se
            per[(name, tier)] = (lo, dy)
            label = "(a) --logits float16" if tier == "float16" else "(b) --logits none"
            print(f"| {name} | {label} | {lo:,.1f} | {dy:,.1f} | {lo + dy:,.1f} |")
    N, C, E = IMAGENET["n"], IMAGENET["classes"], IMAGENET["epochs"]
    dyn = per[(rows[1][0], "none")][1]  # dynamics bytes per sample-epoch at C = 1000, large N
    print()
    print(f"projected ImageNet-scale run: N={N:,}, C={C}, E={E} (one init)")
    print("| tier | logits | dynamics/ | total |")
    print("|---|---|---|---|")
    for tier, lo in (("(a) --logits float16", 2 * C), ("(b) --logits none", 0)):
        print(f"| {tier} | {human(lo * N * E)} | {human(dyn * N * E)} | {human((lo + dyn) * N * E)} |")
    print()
    print(f"kl_step state on the training device (and, with --logits none, in resume.pt): N·C·4 = {human(N * C * 4)}")
    for tier, (_, se, s) in synth.items():
        print(f"synthetic {tier}: {s / a.epochs:.2f} s per epoch written ({se // a.epochs:,} samples)")


if __name__ == "__main__":
    main()
