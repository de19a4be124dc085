"""What the progress display costs per optimiser step, beside what a step of training costs.

``fit`` calls ``on_step(done, total)`` after every optimiser step; record and
train pass :meth:`EpochProgress.step`. This times that call alone, in each
mode (``bar``: a rich bar drawn to a terminal that is thrown away; ``lines``:
the plain-log mode; ``off``), over many calls, and then trains the default
data set's model for a few epochs with and without it, to put the per-call
cost beside the cost of one step.

    python bench/progress_overhead.py [--calls 200000] [--epochs 10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def per_call(mode: str, calls: int) -> float:
    """Seconds per ``step`` call in ``mode``."""
    import rich

    from pipeline.engine import progress

    rich.reconfigure(file=io.StringIO(), force_terminal=True)  # the bar draws, into a buffer
    progress.configure(quiet=mode == "off", terminal=mode == "bar")
    total = 1000
    with progress.EpochProgress("bench  ", epochs=1, log=lambda line: None) as bar:
        t0 = time.perf_counter()
        for i in range(calls):
            bar.step(i % total + 1, total)
        return (time.perf_counter() - t0) / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data", default="mnist1d")
    a = ap.parse_args()

    import numpy as np
    import torch

    from pipeline.engine import progress
    from pipeline.engine.loop import fit
    from pipeline.engine.setup import build, load_data, train_config

    costs = {m: per_call(m, a.calls) for m in progress.MODES}
    bundle = load_data(a.data, None, False)
    cfg = train_config(a.data, None)
    n = len(bundle.train)
    steps = a.epochs * -(-n // cfg.batch_size)
    fit(build(cfg.model, bundle, 0), bundle, np.arange(n), cfg, epochs=1, device=torch.device("cpu"), seed=0)  # warm-up
    runs: dict[str, list[float]] = {"no on_step": [], "bar on_step": []}
    progress.configure(terminal=True)
    for _ in range(a.repeats):  # alternating, so drift on the machine hits both alike
        for kind in runs:
            net = build(cfg.model, bundle, 0)
            with progress.EpochProgress("bench  ", epochs=a.epochs, log=lambda line: None) as bar:
                t0 = time.perf_counter()
                fit(net, bundle, np.arange(n), cfg, epochs=a.epochs, device=torch.device("cpu"), seed=0,
                    on_step=bar.step if kind == "bar on_step" else None)
                runs[kind].append(time.perf_counter() - t0)
    step_s = statistics.median(runs["no on_step"]) / steps
    print(f"data={a.data} n={n} batch={cfg.batch_size} torch_threads={torch.get_num_threads()} calls={a.calls}")
    for m, c in costs.items():
        print(f"step() in mode {m:5s}: {c * 1e6:7.2f} µs per call  ({100 * c / step_s:.3f}% of a training step)")
    print(f"one training step ({a.epochs} epochs, {steps} steps, median of {a.repeats}): {step_s * 1e3:.2f} ms")
    base = statistics.median(runs["no on_step"])
    for kind, ts in runs.items():
        med = statistics.median(ts)
        print(f"fit {kind:12s}: median {med:.2f}s  (runs: {', '.join(f'{t:.2f}' for t in ts)})  "
              f"{100 * (med / base - 1):+.1f}%")


if __name__ == "__main__":
    main()
