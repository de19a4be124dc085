"""``prune score``: turn a recorded run into score tables, one method or every one the run allows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.io import PruneError, Run, Scores, layout, open_run, write_json, write_scores
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


@dataclass(frozen=True)
class ScoreSpec:
    """What one ``prune score --method`` does, checked once at the door (:meth:`build`): the method, its full
    parameters (each given value checked by its declaration), whether it scores the pool, where it writes."""

    run: Any  # a run folder, or an open Run
    method: ScoreMethod
    params: dict[str, Any]
    pool: bool = False
    out: Path | None = None
    prefix: int | None = None  # score from the first K recorded epochs only (an early query; Run.upto)

    @classmethod
    def build(cls, *, run, method: str, params: dict[str, Any], pool: bool = False,
              out: Path | None = None, prefix: int | None = None) -> "ScoreSpec":
        m = get_method(method)  # the name, then the options, before the run is touched
        if pool and m.pool is None:
            raise PruneError(f"--method {m.name} needs the labels (or training dynamics) of the samples it scores, "
                             f"which the pool has not got; label-free methods for --pool: {', '.join(label_free())}")
        if prefix is not None and (isinstance(prefix, bool) or not isinstance(prefix, int) or prefix < 1):
            raise PruneError(f"--prefix must be a positive number of epochs, got {prefix!r}")
        return cls(run=run, method=m, params=m.resolve(params, None), pool=pool,
                   out=None if out is None else Path(out), prefix=prefix)


def score(*, run: Path, method: str, params: dict[str, Any], out: Path | None = None, pool: bool = False,
          prefix: int | None = None) -> tuple[Path, np.ndarray, dict]:
    """Score with one method; returns (table path, scores, full parameters)."""
    res = score_method(run=run, method=method, params=params, out=out, pool=pool, prefix=prefix)
    return res.path, res.values, res.params


def score_method(*, run: Path, method: str, params: dict[str, Any], out: Path | None = None,
                 pool: bool = False, prefix: int | None = None) -> ScoreResult:
    """Score with one method and write the table (default RUN/scores/<method>.parquet, pool-<method> for the pool,
    <method>-first<K> from a prefix of K epochs)."""
    spec = ScoreSpec.build(run=run, method=method, params=params, pool=pool, out=out, prefix=prefix)
    if spec.out is not None:
        from pipeline.io.atomic import probe_writable

        probe_writable(spec.out)  # before the scoring, which may take minutes
    r, m, full, values, seconds = run_spec(spec)
    return _write(r, m, full, values, seconds, spec.out, pool=pool)


def label_free() -> list[str]:
    """The methods that can score the pool (they read no label)."""
    return [name for name, m in METHODS.items() if m.pool is not None]


def compute(*, run, method: str, params: dict[str, Any], pool: bool = False, prefix: int | None = None):
    """One method's scores of a run, not written: (Run, ScoreMethod, full parameters, values, seconds).

    ``run`` is a run folder or an open :class:`pipeline.io.Run`. With
    ``pool`` the method scores the run's pool (the samples a ``--manifest``
    run did not train on), which only label-free methods can.
    """
    return run_spec(ScoreSpec.build(run=run, method=method, params=params, pool=pool, prefix=prefix))


def run_spec(spec: ScoreSpec):
    """The stage below the door: open the run, compute, check the result's shape."""
    m = spec.method
    r = spec.run if isinstance(spec.run, Run) else open_run(spec.run)
    if spec.prefix is not None:
        r = r.upto(spec.prefix)  # one line when the run recorded fewer epochs
    if spec.pool:
        r.pool_ids  # one line when the run has no pool
    t0 = time.perf_counter()
    values = m.pool(r, spec.params) if spec.pool else m.compute(r, spec.params)
    return r, m, spec.params, _checked(r, m, values, spec.pool), time.perf_counter() - t0


def table(r, m: ScoreMethod, full: dict[str, Any], values: np.ndarray, pool: bool = False) -> Scores:
    """The score table of ``values`` as it is written: one row per sample (or pool sample), with its metadata.

    Rows carry the data set's sample ids: ``arange(n)`` for a run on the
    full data, the trained subset's ids for a ``--manifest`` run, the pool's
    ids for a pool table (its targets are the data set's labels, written for
    the table's schema; no pool score reads them).
    """
    meta: dict[str, Any] = {"artifact": "scores", "method": m.name, "parameters": full,
                            "higher_is_harder": True if m.higher_is_harder is None else m.higher_is_harder,
                            "fingerprint": r.fingerprint, "source_run": str(r.path),
                            "epochs_recorded": r.epochs, "inits": r.inits, "query": r.query_cost}
    if r.prefix is not None:
        meta["prefix"] = r.prefix  # scored from the first K of the run's epochs (epochs_recorded says K too)
    if pool:
        meta.update(scored="pool", n_total=r.n_total)
        return Scores(sample=r.pool_ids, target=r.pool_targets, score=values, meta=meta)
    if r.n_total != r.n:
        meta.update(scored="trained", n_total=r.n_total)
    flipped = r.flipped
    if flipped is not None:
        meta.update(label_noise_auroc=label_noise_auroc(values, flipped, m.higher_is_harder),
                    label_noise_flipped=int(flipped.sum()))
    return Scores(sample=r.sample_ids, target=r.targets, score=values, meta=meta)


def _checked(r, m: ScoreMethod, values, pool: bool = False) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    n = len(r.pool_ids) if pool else r.n
    if values.shape != (n,):
        raise PruneError(f"{m.name} returned {values.shape} scores for {n} samples")  # a bug, said plainly
    return values


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
        if m.pool_only:  # scores of a pool, not of training rows: never part of --all
            continue
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
        streamed = run_plans(r, [p for _, _, p in planned], log)
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


def train_methods() -> list[str]:
    """The methods that score training rows (all but the pool-only ones): what ``--all`` tries."""
    return [name for name, m in METHODS.items() if not m.pool_only]


def _write(r, m: ScoreMethod, full: dict[str, Any], values, seconds: float, out: Path | None,
           pool: bool = False) -> ScoreResult:
    t = table(r, m, full, _checked(r, m, values, pool), pool)
    stem = ("pool-" if pool else "") + m.name + ("" if r.prefix is None else f"-first{r.prefix}")
    out = Path(out) if out is not None else layout.scores_table(r.path, stem)
    meta = {k: v for k, v in t.meta.items() if k not in ("artifact", "method", "parameters", "higher_is_harder",
                                                          "fingerprint", "source_run")}
    write_scores(out, t.sample, t.target, t.score, method=m.name, parameters=full,
                 higher_is_harder=t.meta["higher_is_harder"], fingerprint=r.fingerprint, source_run=str(r.path),
                 extra=meta)
    # the time it took lives beside the table, so the same run and parameters give the same table bytes
    write_json(layout.log_sidecar(out), {"method": m.name, "seconds": round(seconds, 3)})
    return ScoreResult(m.name, out, t.score, full, seconds, t.meta.get("label_noise_auroc"),
                       int(t.meta.get("label_noise_flipped", 0)))


def _line(res: ScoreResult, m: ScoreMethod) -> str:
    q = np.quantile(res.values, [0.0, 0.5, 1.0])
    auc = "" if res.auroc is None else f"  noise AUROC {res.auroc:.4f}"
    return (f"{res.method:<12} hard {'—' if m.higher_is_harder is None else ('high' if m.higher_is_harder else 'low'):<4}  "
            f"min {q[0]:<10.4g} median {q[1]:<10.4g} max {q[2]:<10.4g}{auc}  {res.seconds:6.2f}s")
