"""Scoring throughput: wall time, ratio to one sequential read of the inputs, peak RSS.

Each score runs in a fresh subprocess (so peak RSS is its own), on a synthetic
run made by bench/synthetic.py. The baseline of a method is one sequential read
of what it reads: the Zarr logits streamed by chunks of samples (methods that
call `run.iter_logits`), or the Polars scan of the dynamics columns (methods
that read `dynamics/`).

    python bench/score_throughput.py --n 50000 --classes 10 --epochs 200
    python bench/score_throughput.py --n 50000 --classes 100 --epochs 200
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from pathlib import Path
run, what = Path(sys.argv[1]), sys.argv[2]
t0 = time.perf_counter()
if what == "read:logits":
    from pipeline.io import open_run
    total = 0.0
    for _, _, block in open_run(run).iter_logits():
        total += float(block[..., :1].sum())
elif what == "read:dynamics":
    import polars as pl
    from pipeline.io import open_run
    r = open_run(run)
    df = r.dynamics().select("init", "epoch", "sample", "correct", "margin").sort("init", "epoch", "sample").collect()
else:
    from pipeline.score.run import score
    score(run=run, method=what, params={}, out=run / "scores" / f"bench-{what}.parquet")
seconds = time.perf_counter() - t0
# VmHWM, not ru_maxrss: the latter survives exec and would report the parent's peak
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "peak_rss_mb": hwm / 1024}))
"""


def child(run: Path, what: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(run), what], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def source_of(method) -> str:
    if getattr(method, "plan", None) is not None:  # streamed over the Zarr logits
        return "logits"
    src = inspect.getsource(inspect.getmodule(method.compute))
    return "logits" if "iter_logits" in src else "dynamics" if "dynamics_array" in src or "dynamics()" in src else "other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="an existing run (default: make a synthetic one)")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--methods", default=None, help="comma-separated (default: every method the run allows)")
    a = ap.parse_args()

    from pipeline.io import open_run
    from pipeline.score.registry import METHODS

    with tempfile.TemporaryDirectory(dir=".") as tmp:
        run = a.run
        if run is None:
            sys.path.insert(0, str(Path(__file__).parent))
            from synthetic import make_run

            t0 = time.perf_counter()
            run = make_run(Path(tmp) / "run", a.n, a.classes, a.epochs)
            print(f"synthetic run N={a.n} C={a.classes} E={a.epochs} written in {time.perf_counter() - t0:.1f}s")
        r = open_run(run)
        logits_mb = r.inits * r.epochs * r.n * r.num_classes * 2 / 2**20
        print(f"run {run}: N={r.n} C={r.num_classes} E={r.epochs} inits={r.inits}, logits {logits_mb:.0f} MiB on disk (fp16, uncompressed)")
        base = {s: child(run, f"read:{s}") for s in ("logits", "dynamics")}
        for s, b in base.items():
            print(f"  sequential read of {s}: {b.get('seconds', float('nan')):.2f}s, peak RSS {b.get('peak_rss_mb', float('nan')):.0f} MB")
        names = a.methods.split(",") if a.methods else list(METHODS)
        print(f"{'method':14s} {'source':9s} {'seconds':>8s} {'× read':>7s} {'peak RSS MB':>12s}")
        for name in names:
            m = METHODS[name]
            if any(not r.has(need) if need in ("eval_logits", "embeddings") else False for need in m.needs):
                print(f"{name:14s} skipped: needs {', '.join(m.needs)}")
                continue
            res = child(run, name)
            if "error" in res:
                print(f"{name:14s} {'':9s} error: {res['error']}")
                continue
            src = source_of(m)
            ratio = res["seconds"] / base[src]["seconds"] if src in base and "seconds" in base[src] else float("nan")
            print(f"{name:14s} {src:9s} {res['seconds']:8.2f} {ratio:7.2f} {res['peak_rss_mb']:12.0f}")


if __name__ == "__main__":
    main()
