"""Training data path: `prune train` time on kept fractions 1.0, 0.5, 0.1.

If the subset is indexed directly (not loaded or iterated at full size), the
training part scales with the kept fraction. Each epoch also evaluates val and
test, a fixed cost, so the table splits the time: `train` is the optimiser
loop, `eval` the per-epoch evaluation (timed separately on the same model).

    python bench/train_scaling.py [--data mnist1d] [--epochs 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="mnist1d")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()

    import torch

    from pipeline.engine.loop import fit, predict
    from pipeline.engine.setup import build, load_data, train_config

    bundle = load_data(a.data, None, False)
    cfg = train_config(a.data, None, epochs=a.epochs)
    dev = torch.device(a.device)
    n = len(bundle.train)
    rng = np.random.default_rng(0)
    # warm-up, untimed
    fit(build(cfg.model, bundle, 0), bundle, np.arange(min(n, 2048)), cfg, epochs=1, device=dev, seed=0, eval_splits=())
    rows = []
    for frac in (1.0, 0.5, 0.1):
        ids = np.sort(rng.choice(n, size=int(round(frac * n)), replace=False))
        net = build(cfg.model, bundle, 0)
        t0 = time.perf_counter()
        fit(net, bundle, ids, cfg, epochs=a.epochs, device=dev, seed=0, eval_splits=())
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(a.epochs):
            for split in (bundle.val, bundle.test):
                predict(net, split, None, dev, max(256, 2 * cfg.batch_size))
        eval_s = time.perf_counter() - t0
        rows.append((frac, len(ids), train_s, eval_s))
    base = rows[0][2]
    print(f"data={a.data} model={cfg.model} epochs={a.epochs} device={a.device} torch_threads={torch.get_num_threads()}")
    print(f"{'kept':>5s} {'samples':>8s} {'train s':>8s} {'× full':>7s} {'ideal':>6s} {'eval s':>7s}")
    for frac, k, tr, ev in rows:
        print(f"{frac:5.1f} {k:8d} {tr:8.2f} {tr / base:7.3f} {frac:6.2f} {ev:7.2f}")


if __name__ == "__main__":
    main()
