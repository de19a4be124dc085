"""``prune score``: turn a recorded run into score tables, one method or every one the run allows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.io import PruneError, layout, open_run, write_scores
from pipeline.score.base import ScoreMethod
from pipeline.score.noise import label_noise_auroc
from pipeline.score.registry import METHODS, get_method


@dataclass
class ScoreResult:
    method: str
    path: Path
    values: np.ndarray
    params: dict[str, Any]
    seconds: float
    auroc: float | None  # at finding the --label-noise flips; None when the run has none
    flipped: int = 0


def score(*, run: Path, method: str, params: dict[str, Any], out: Path | None = None) -> tuple[Path, np.ndarray, dict]:
    """Score with one method; returns (table path, scores, full parameters)."""
    res = score_method(run=run, method=method, params=params, out=out)
    return res.path, res.values, res.params


def score_method(*, run: Path, method: str, params: dict[str, Any], out: Path | None = None) -> ScoreResult:
    m = get_method(method)  # validate the name before touching the run
    r = open_run(run)
    full = m.resolve(params, r)
    t0 = time.perf_counter()
    values = m.compute(r, full)
    return _write(r, m, full, values, time.perf_counter() - t0, out)


def score_all(*, run: Path, params: dict[str, Any], log: Callable[[str], None] | None = None
              ) -> tuple[list[ScoreResult], dict[str, str]]:
    """Every method the run's recordings allow, each written to RUN/scores/<method>.parquet.

    Options apply to every method that takes them. The logits-based methods
    share one streamed read of each logits array. Returns the results and,
    for each method left out, the one-line reason.
    """
    from pipeline.score.stream import run_plans

    r = open_run(run)
    skipped: dict[str, str] = {}
    planned, direct = [], []
    for m in METHODS.values():
        try:
            full = m.resolve({k: v for k, v in params.items() if k in m.defaults}, r)
            plan = m.plan(r, full) if m.plan is not None else None
        except PruneError as err:
            skipped[m.name] = str(err)
            continue
        (planned if plan is not None else direct).append((m, full, plan))
    done: dict[str, ScoreResult] = {}
    if planned:
        t0 = time.perf_counter()
        streamed = run_plans(r, [p for _, _, p in planned])
        read = (time.perf_counter() - t0 - sum(s for _, s in streamed)) / len(planned)  # the shared read, split evenly
        for (m, full, _), (values, spent) in zip(planned, streamed):
            done[m.name] = _write(r, m, full, values, spent + read, None)
            if log:
                log(_line(done[m.name], m))
    for m, full, _ in direct:
        t0 = time.perf_counter()
        try:
            values = m.compute(r, full)
        except PruneError as err:
            skipped[m.name] = str(err)
            continue
        done[m.name] = _write(r, m, full, values, time.perf_counter() - t0, None)
        if log:
            log(_line(done[m.name], m))
    return [done[name] for name in METHODS if name in done], skipped


def _write(r, m: ScoreMethod, full: dict[str, Any], values, seconds: float, out: Path | None) -> ScoreResult:
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (r.n,):
        raise PruneError(f"{m.name} returned {values.shape} scores for {r.n} samples")  # a bug, said plainly
    extra: dict[str, Any] = {"seconds": round(seconds, 3), "epochs_recorded": r.epochs, "inits": r.inits}
    flipped = r.flipped
    auc = None
    if flipped is not None:
        auc = label_noise_auroc(values, flipped, m.higher_is_harder)
        extra.update(label_noise_auroc=auc, label_noise_flipped=int(flipped.sum()))
    out = Path(out) if out is not None else layout.scores_table(r.path, m.name)
    write_scores(out, np.arange(r.n, dtype=np.int64), r.targets, values, method=m.name, parameters=full,
                 higher_is_harder=True if m.higher_is_harder is None else m.higher_is_harder,
                 fingerprint=r.fingerprint, source_run=str(r.path), extra=extra)
    return ScoreResult(m.name, out, values, full, seconds, auc, 0 if flipped is None else int(flipped.sum()))


def _line(res: ScoreResult, m: ScoreMethod) -> str:
    q = np.quantile(res.values, [0.0, 0.5, 1.0])
    auc = "" if res.auroc is None else f"  noise AUROC {res.auroc:.4f}"
    return (f"{res.method:<12} hard {'—' if m.higher_is_harder is None else ('high' if m.higher_is_harder else 'low'):<4}  "
            f"min {q[0]:<10.4g} median {q[1]:<10.4g} max {q[2]:<10.4g}{auc}  {res.seconds:6.2f}s")
