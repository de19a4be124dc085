"""Start-up: `prune --help` and `prune select` on a small run, and whether they import torch.

Paths that do not train must not import torch (about a second and 300+ MB).

    python bench/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = r"""
import sys, runpy
sys.argv = ["prune"] + sys.argv[1:]
try:
    from pipeline.cli import app
    app()
except SystemExit:
    pass
print("TORCH_IMPORTED=" + str("torch" in sys.modules), file=sys.stderr)
"""


def timed(args: list[str], cwd: Path, repeats: int) -> tuple[float, bool]:
    times, torch_seen = [], False
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        torch_seen |= "TORCH_IMPORTED=True" in out.stderr
    return statistics.median(times), torch_seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    import numpy as np

    from pipeline.record.synthetic import write_run

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        write_run(tmp / "runs" / "default", rng.normal(size=(1, 12, 2000, 10)).astype(np.float32), rng.integers(0, 10, 2000))
        subprocess.run([sys.executable, "-m", "pipeline.cli", "score", "--method", "aum"], cwd=tmp, check=True, capture_output=True)
        print(f"{'command':48s} {'median s':>9s}  torch imported")
        for args in (["--help"], ["select", "--help"], ["score", "--help"],
                     ["select", "--method", "ccs", "--rate", "0.3"], ["score", "--method", "aum"]):
            med, torch_seen = timed(args, tmp, a.repeats)
            print(f"{'prune ' + ' '.join(args):48s} {med:9.3f}  {'yes' if torch_seen else 'no'}")


if __name__ == "__main__":
    main()
