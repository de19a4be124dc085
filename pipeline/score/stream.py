"""One streamed read of the recorded logits, shared by every score that needs them."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Callable

import numpy as np

from pipeline.score.base import LogitsPlan


def run_plans(run, plans: list[LogitsPlan], log=None) -> list[tuple[np.ndarray, float]]:
    """Scores of every plan, reading each logits array once, in sample chunks.

    Plans on the same array share one read over the union of their epochs;
    each gets its own epoch slice of every chunk. Returns (scores, seconds
    spent in the plan's own function) per plan, in order. Progress over the
    chunks shows as :mod:`pipeline.engine.progress` is set (through ``log`` in plain mode).
    """
    from pipeline.engine.progress import CountProgress

    out = [np.empty(run.n, dtype=np.float64) for _ in plans]
    spent = [0.0] * len(plans)
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(plans):
        by_source[p.source].append(i)
    targets = run.targets
    for source, members in by_source.items():
        lo = min(plans[i].epochs.start for i in members)
        hi = max(plans[i].epochs.stop for i in members)
        with CountProgress(f"scoring from {source}", run.n, log or (lambda _m: None)) as bar:
            for start, stop, block in run.iter_logits(source, epochs=slice(lo, hi)):
                y = targets[start:stop]
                for i in members:
                    e = plans[i].epochs
                    t0 = time.perf_counter()
                    out[i][start:stop] = plans[i].fn(block[:, e.start - lo:e.stop - lo], y)
                    spent[i] += time.perf_counter() - t0
                bar.advance(stop - start)
    return list(zip(out, spent))


def streamed(plan: Callable[[Any, dict[str, Any]], LogitsPlan]) -> Callable[[Any, dict[str, Any]], np.ndarray]:
    """A ``compute`` that runs ``plan`` alone through the streaming driver."""

    def compute(run, params) -> np.ndarray:
        return run_plans(run, [plan(run, params)])[0][0]

    return compute
