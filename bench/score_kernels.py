"""The per-block kernels of the logits scores, timed alone (no I/O): which TDDS kernel suits which class count.

Times, per 50,000 samples × E epochs of random float32 logits (fed in blocks
of 2,000 samples): TDDS's KL-step kernel in numpy (class axis first) and in
torch, the import of torch, log p_y, dynamic uncertainty and variability.
TDDS picks numpy up to ``NUMPY_MAX_CLASSES`` classes and torch above.

    python bench/score_kernels.py [--epochs 200] [--classes 10,100]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--classes", default="10,100")
    a = ap.parse_args()

    import numpy as np

    from pipeline.score.methods import tdds as T
    from pipeline.score.methods._arrays import log_p_true
    from pipeline.score.methods.dynunc import dynamic_uncertainty
    from pipeline.score.methods.variability import variability

    imp = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); import torch; "
                          "print(time.perf_counter() - t)"], capture_output=True, text=True, check=True)
    print(f"import torch: {float(imp.stdout):.2f} s (fresh process)")
    n, N = 2000, 50_000
    rng = np.random.default_rng(0)
    for C in (int(c) for c in a.classes.split(",")):
        z = (rng.standard_normal((1, a.epochs, n, C)) * 3).astype(np.float32)
        y = rng.integers(0, C, n)

        def per_50k(fn) -> float:
            fn()  # warm-up (and the torch import, for the torch kernel)
            t0 = time.perf_counter()
            fn()
            return (time.perf_counter() - t0) * N / n

        limit = T.NUMPY_MAX_CLASSES
        try:
            T.NUMPY_MAX_CLASSES = 10**9
            numpy_kl = per_50k(lambda: T.kl_steps(z))
            T.NUMPY_MAX_CLASSES = 0
            torch_kl = per_50k(lambda: T.kl_steps(z))
        finally:
            T.NUMPY_MAX_CLASSES = limit
        print(f"C={C:<4d} E={a.epochs}: TDDS KL steps numpy {numpy_kl:.2f} s, torch {torch_kl:.2f} s "
              f"(TDDS uses {'numpy' if C <= limit else 'torch'}); log p_y {per_50k(lambda: log_p_true(z, y)):.2f} s; "
              f"dynunc {per_50k(lambda: dynamic_uncertainty(z, y)):.2f} s; variability {per_50k(lambda: variability(z, y)):.2f} s")


if __name__ == "__main__":
    main()
