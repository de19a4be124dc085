"""`prune sweep --jobs`: the same grid with one training at a time and with N in parallel, timed and compared.

Records a run, then sweeps one grid three times into separate names:
``--jobs 1 --threads 1``, ``--jobs N --threads 1`` (their results must be
identical: CPU results depend on the thread count, not on the jobs) and
``--jobs 1`` with torch's default threads (what a bare ``--jobs 1`` does).
Prints the wall time of each and whether the first two give the same rows.

    python bench/sweep_jobs.py [--data mnist1d] [--epochs 10] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def prune(*args: str, cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="mnist1d")
    ap.add_argument("--epochs", type=int, default=10, help="epochs of the record run and of every training")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rates", default="0.5,0.9")
    ap.add_argument("--seeds", default="0,1")
    a = ap.parse_args()

    import polars as pl

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        env_cores = len(os.sched_getaffinity(0))
        prune("record", "--data", a.data, "--epochs", str(a.epochs), "--checkpoints", "final", cwd=d)
        prune("score", "--method", "tdds", cwd=d)
        grid = ["--scores", "tdds", "--methods", "ccs,random", "--rates", a.rates, "--seeds", a.seeds, "--quiet"]
        times = {
            "jobs 1, threads 1": prune("sweep", *grid, "--name", "j1", "--jobs", "1", "--threads", "1", cwd=d),
            f"jobs {a.jobs}, threads 1": prune("sweep", *grid, "--name", "jn", "--jobs", str(a.jobs), "--threads", "1",
                                               cwd=d),
            "jobs 1, default threads": prune("sweep", *grid, "--name", "jd", "--jobs", "1", cwd=d),
        }
        res = {n: pl.read_parquet(d / "runs" / "default" / "sweeps" / n / "results.parquet").drop("sweep", "seconds")
               for n in ("j1", "jn", "jd")}
        n = res["j1"].height
        print(f"{a.data}, {a.epochs} epochs, grid of {n} trainings, {env_cores} cores")
        for name, t in times.items():
            print(f"  {name:<24} {t:7.1f} s")
        print(f"  jobs 1 vs jobs {a.jobs} (threads 1): results identical: {res['j1'].equals(res['jn'])}")
        print(f"  threads 1 vs default threads: results identical: {res['j1'].equals(res['jd'])}")


if __name__ == "__main__":
    main()
