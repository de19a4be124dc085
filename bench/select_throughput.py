"""Selection at scale: every score-only sampler × quota at N = 10,000,000 synthetic scores.

Times the whole `select()` stage (read the score table, check it, select,
write the manifest) for every pair, `--repeats` times in a row, and prints
the median and the minimum. Embedding samplers (d2, kcenter) are
O(N·k)/O(N·budget) and are measured in docs/selection.md at smaller N.

    python bench/select_throughput.py [--n 10000000] [--rate 0.3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def make_run(path: Path, n: int, classes: int, seed: int = 0) -> None:
    from pipeline.io import fingerprint, write_scores
    from pipeline.io.run import create_trajectories
    from pipeline.io.runinfo import run_info, trajectory_attrs, write_run_info
    from pipeline.io.tables import EVAL_SCHEMA, write_table

    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, size=n)
    fp = fingerprint("synthetic", "train", targets)
    names = [str(c) for c in range(classes)]
    # one epoch of logits, never written: selection reads only targets, scores and eval.parquet
    create_trajectories(path / "trajectories.zarr", inits=1, epochs=1, targets=targets, num_classes=classes,
                        dtype="float16", eval_pass=False,
                        attrs=trajectory_attrs(fingerprint=fp, classes=names, epochs=1, eval_pass=False))
    recall = np.linspace(0.6, 0.95, classes)
    ev = {f.name: [] for f in EVAL_SCHEMA}
    for split in ("val", "test"):
        for c in range(classes):
            for k, v in (("init", 0), ("epoch", 0), ("split", split), ("class", c), ("n", 100), ("recall", recall[c]),
                         ("precision", 0.9), ("f1", 0.9), ("loss", 0.3)):
                ev[k].append(v)
    write_table(path / "eval.parquet", ev, EVAL_SCHEMA)
    write_run_info(path, run_info(data="synthetic", n_train=n, classes=names, model="none", config={}, epochs=1,
                                  inits=1, seed=seed, record_pass="train", fingerprint=fp, synthetic=True))
    write_scores(path / "scores" / "el2n.parquet", np.arange(n), targets, rng.normal(size=n), method="el2n",
                 parameters={}, higher_is_harder=True, fingerprint=fp, source_run=str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--repeats", type=int, default=1, help="runs of each pair (timings are noisy on a shared machine)")
    a = ap.parse_args()

    from pipeline.select.run import select

    with tempfile.TemporaryDirectory(dir=".") as tmp:
        run = Path(tmp) / "run"
        t0 = time.perf_counter()
        make_run(run, a.n, a.classes)
        print(f"synthetic run N={a.n:,} C={a.classes} in {time.perf_counter() - t0:.1f}s; rate {a.rate}")
        quiet = lambda _m: None  # noqa: E731
        like = Path(tmp) / "like.parquet"
        select(run=run, method="random", rate=0.5, scores=None, out=like, keep="hard", quota="balanced", beta=None,
               strata=None, seed=1, log=quiet)
        print(f"{'sampler':10s} {'quota':13s} {'stage s':>8s} {'min s':>6s}  (median and min of {a.repeats})")
        for method in ("topk", "random", "ccs", "moderate"):
            for quota in ("none", "proportional", "balanced", "drop", "normalize", "strategyq"):
                out = Path(tmp) / "keep.parquet"
                times = []
                for _ in range(a.repeats):
                    t0 = time.perf_counter()
                    select(run=run, method=method, rate=a.rate,
                           scores="el2n" if method != "random" or quota == "normalize" else None,
                           out=out, keep="hard", quota=quota, beta=None, strata=None, seed=0,
                           like=like if quota == "strategyq" else None, log=quiet)
                    times.append(time.perf_counter() - t0)
                print(f"{method:10s} {quota:13s} {statistics.median(times):8.2f} {min(times):6.2f}", flush=True)


if __name__ == "__main__":
    main()
