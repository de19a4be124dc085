"""What the checksum check on read costs: a score's wall time with PRUNE_VERIFY on (the default) and off.

A synthetic run (bench/synthetic.py) gets a checksums.json as `prune record` writes one; each score then runs in
a fresh subprocess, the two settings alternating, and the medians are printed. The page cache is warm after the
first run, as it is when a stage reads a run that was just recorded or read.

    python bench/verify_on_read.py [--n 50000] [--classes 10] [--epochs 200] [--methods aum,el2n] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys
from pipeline.score.run import compute
compute(run=sys.argv[1], method=sys.argv[2], params={})
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--methods", default="aum,el2n")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import make_run

    from pipeline.io.checksums import write_checksums

    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp) / "run", a.n, a.classes, a.epochs)
        write_checksums(run)
        size = sum(p.stat().st_size for p in (run / "trajectories.zarr" / "logits").rglob("*") if p.is_file())
        print(f"N={a.n:,} C={a.classes} E={a.epochs}: logits {size / 2**20:.0f} MiB; median of {a.repeats}")
        print(f"{'method':<10}{'verify on':>12}{'verify off':>12}{'overhead':>10}")
        for m in a.methods.split(","):
            times = {"1": [], "0": []}
            for _ in range(a.repeats):
                for flag in ("1", "0"):
                    t0 = time.perf_counter()
                    subprocess.run([sys.executable, "-c", CHILD, str(run), m], check=True,
                                   env={**os.environ, "PRUNE_VERIFY": flag})
                    times[flag].append(time.perf_counter() - t0)
            on, off = statistics.median(times["1"]), statistics.median(times["0"])
            print(f"{m:<10}{on:>11.2f}s{off:>11.2f}s{100 * (on - off) / off:>9.0f}%")


if __name__ == "__main__":
    main()
