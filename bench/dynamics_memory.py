"""Peak memory of the dynamics-based scores: `prune score --method aum` and `forgetting` on N samples x E epochs.

Writes a synthetic run (run.json, targets, and RUN/dynamics/ with one Parquet
file per epoch of random values, as `prune record` writes them; no logits:
these scores read only dynamics/), then runs each score as a subprocess and
prints its peak RSS (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a
wrapper that runs only that command) and wall time. ``--src`` runs the
package from another source tree (e.g. a ``git worktree`` of an older commit),
so before and after are measured on the same files.

    python bench/dynamics_memory.py --n 1000000 --epochs 100 --dir /tmp/dyn [--src /tmp/old]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WRAP = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
        "print(rc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t, "
        "repr(rc.stderr.strip().splitlines()[-1:] if rc.returncode else ''))")


def write_synthetic(run: Path, n: int, epochs: int, classes: int = 10, seed: int = 0) -> None:
    import numpy as np
    import zarr

    from pipeline.io import fingerprint, layout
    from pipeline.io.runinfo import run_info, write_run_info
    from pipeline.io.tables import DYNAMICS_DICTIONARY, DYNAMICS_SCHEMA, write_table

    if layout.run_json(run).exists():
        return
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n).astype(np.int64)
    g = zarr.open_group(str(layout.trajectories(run)), mode="w", zarr_format=3)
    g.create_array("targets", shape=(n,), dtype="int64", chunks=(n,), dimension_names=("sample",))[:] = y
    sample = np.arange(n, dtype=np.int64)
    for e in range(epochs):
        f = lambda: rng.random(n, dtype=np.float32)  # noqa: E731
        pred = np.where(rng.random(n) < 0.1 + 0.8 * e / max(1, epochs - 1), y, rng.integers(0, classes, size=n))
        cols = {"sample": sample, "target": y, "pred": pred, "loss": f(), "correct": pred == y, "p_true": f(),
                "margin": f() * 4 - 2, "prob_margin": f() * 2 - 1, "el2n": f(), "entropy": f(), "kl_step": f()}
        write_table(layout.dynamics_file(run, 0, e), cols, DYNAMICS_SCHEMA, use_dictionary=DYNAMICS_DICTIONARY)
    fp = fingerprint("synthetic", "train", y)
    write_run_info(run, run_info(data="synthetic", n_train=n, classes=[str(c) for c in range(classes)], model="none",
                                 config={}, epochs=epochs, inits=1, seed=0, record_pass="train", fingerprint=fp,
                                 checkpoints=[], snapshot_epochs=[], synthetic=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/prune-dynamics-bench"))
    ap.add_argument("--src", type=Path, default=Path(__file__).resolve().parent.parent,
                    help="source tree whose pipeline package is run (default: this one)")
    ap.add_argument("--methods", default="aum,forgetting")
    a = ap.parse_args()
    run = a.dir / f"run-{a.n}x{a.epochs}"
    t0 = time.perf_counter()
    write_synthetic(run, a.n, a.epochs)
    print(f"run {run}: {a.n} samples x {a.epochs} epochs ({time.perf_counter() - t0:.0f} s to write or find)")
    env = {**os.environ, "PYTHONPATH": str(a.src), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    for method in a.methods.split(","):
        out = a.dir / f"{method}-{a.n}x{a.epochs}.parquet"
        cmd = [sys.executable, "-c", WRAP, sys.executable, "-m", "pipeline.cli", "score", "--run", str(run),
               "--method", method, "--out", str(out)]
        rc, rss_kb, secs, err = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=a.src).stdout.split(" ", 3)
        print(json.dumps({"method": method, "n": a.n, "epochs": a.epochs, "src": str(a.src), "exit": int(rc),
                          "peak_rss_mb": round(int(rss_kb) / 1024), "seconds": round(float(secs), 1),
                          "error": eval(err)}))


if __name__ == "__main__":
    main()
