"""Seconds of one selection per method on a recorded run: the cost of selecting, apart from scoring and training.

Reads the run's inputs once (score tables, embeddings, last-layer gradients), then times
`pipeline.select.core.choose` for each sampler at each rate, class by class (the proportional quota, DeepCore's
`balance`), one thread. Score-based methods are timed on their sampler (topk) and their scoring separately.

    python bench/select_seconds.py --run R [--rates 0.5,0.9,0.99] [--methods herding,craig,...]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

SAMPLERS = "herding,kcenter,contextual,craig,gradmatch,glister,graphcut,facility,logdet"
SCORES = "forgetting,grand,least-confidence,entropy,margin,deepfool,cal"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--rates", default="0.5,0.9,0.99")
    ap.add_argument("--methods", default=SAMPLERS)
    ap.add_argument("--scores", default=SCORES)
    a = ap.parse_args()
    from pipeline.api.functions import model_inputs
    from pipeline.io import open_run
    from pipeline.score.run import compute
    from pipeline.select.core import choose

    r = open_run(a.run)
    rates = [float(x) for x in a.rates.split(",")]
    t0 = time.perf_counter()
    inputs = model_inputs(r, ("embeddings", "gradients", "val_gradients"), r.targets)
    print(f"run {a.run}: N={r.n:,}; inputs (embeddings, gradients) read in {time.perf_counter() - t0:.2f}s")
    print(f"{'method':<18}" + "".join(f"{f'rate {x:g}':>12}" for x in rates))
    for m in a.methods.split(","):
        cells = []
        for rate in rates:
            t0 = time.perf_counter()
            choose(targets=r.targets, rate=rate, method=m, quota="proportional", seed=0, **inputs)
            cells.append(time.perf_counter() - t0)
        print(f"{m:<18}" + "".join(f"{c:>11.2f}s" for c in cells))
    for s in a.scores.split(","):
        t0 = time.perf_counter()
        _, _, _, values, _ = compute(run=r, method=s, params={})
        t_score = time.perf_counter() - t0
        t0 = time.perf_counter()
        choose(targets=r.targets, values=values, rate=rates[0], method="topk", quota="proportional", seed=0)
        print(f"{s + ' (score)':<18}{t_score:>11.2f}s   (+ topk {time.perf_counter() - t0:.3f}s)")


if __name__ == "__main__":
    main()
