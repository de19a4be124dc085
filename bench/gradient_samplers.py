"""Gradient- and embedding-based samplers at DeepCore's scale: seconds and peak memory of one selection.

Each method runs in a process of its own (so its peak RSS is its own): random
Gaussian embeddings (N × dim, float32, as a recording stores them after the
float16 read), a random classifier head and labels, the last-layer gradients
built in factored form as `prune select` builds them, then one selection
through `pipeline.select.core.choose`. The peak includes the inputs
(embeddings and their float64 factors, about 3 × 4 × N × dim bytes).

    python bench/gradient_samplers.py [--n 50000] [--classes 10] [--dim 512] [--rate 0.9]
                                      [--quota proportional] [--methods craig,gradmatch,...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

DEFAULT = "herding,contextual,kcenter,graphcut,facility,logdet,craig,gradmatch,glister"


def one(method: str, n: int, classes: int, dim: int, rate: float, quota: str) -> dict:
    import numpy as np

    from pipeline.select.catalog import SAMPLERS
    from pipeline.select.core import choose
    from pipeline.select.lastlayer import LastLayer

    rng = np.random.default_rng(0)
    y = rng.integers(0, classes, n)
    emb = (rng.standard_normal((n, dim)) + y[:, None] * 0.1).astype(np.float32)
    W, b = rng.standard_normal((classes, dim)) / np.sqrt(dim), rng.standard_normal(classes)
    n_val = 10 * classes
    val_y = np.repeat(np.arange(classes), 10)
    val_emb = rng.standard_normal((n_val, dim)).astype(np.float32)
    needs = SAMPLERS[method].needs
    kw = {}
    if "embeddings" in needs:
        kw["emb"] = emb
    if "gradients" in needs:
        kw["grads"] = LastLayer.from_head(emb, W, b, y)
    if "val_gradients" in needs:
        kw.update(val_grads=LastLayer.from_head(val_emb, W, b, val_y), val_targets=val_y)
    t0 = time.perf_counter()
    sel = choose(targets=y, rate=rate, method=method, quota=quota, seed=0, **kw)
    seconds = time.perf_counter() - t0
    return {"method": method, "kept": int(len(sel.kept)), "seconds": seconds,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--rate", type=float, default=0.9)
    ap.add_argument("--quota", default="proportional")
    ap.add_argument("--methods", default=DEFAULT)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.n, a.classes, a.dim, a.rate, a.quota)))
        return
    print(f"N={a.n:,} classes={a.classes} dim={a.dim} rate={a.rate:g} quota={a.quota}")
    print(f"{'method':<12}{'kept':>8}{'seconds':>10}{'peak RSS':>12}")
    for m in a.methods.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", m, "--n", str(a.n), "--classes", str(a.classes),
                              "--dim", str(a.dim), "--rate", str(a.rate), "--quota", a.quota],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{m:<12} failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{m:<12}{r['kept']:>8,}{r['seconds']:>10.2f}{r['peak_mb']:>9.0f} MB")


if __name__ == "__main__":
    main()
