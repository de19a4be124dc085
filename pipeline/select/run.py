"""``prune select``: a score table + a sampler (+ a class quota) → a manifest of kept ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.io import PruneError, file_sha256, open_run, read_scores, write_manifest

SAMPLERS = ("topk", "random", "ccs")
QUOTAS = ("none", "proportional", "balanced")


def find_scores(run, scores: str | None, needed: bool) -> Path | None:
    """``--scores`` as a path, or a method name in RUN/scores, or (default) the newest table there."""
    folder = run.path / "scores"
    if scores is not None:
        p = Path(scores)
        if p.suffix == ".parquet" or p.exists():
            if not p.exists():
                raise PruneError(f"--scores {scores}: no such file")
            return p
        p = folder / f"{scores}.parquet"
        if not p.exists():
            have = sorted(q.stem for q in folder.glob("*.parquet")) if folder.is_dir() else []
            hint = f" (this run has: {', '.join(have)})" if have else ""
            raise PruneError(f"--scores {scores}: no table {p}{hint}; run `prune score --method {scores} --run {run.path}` first")
        return p
    tables = sorted(folder.glob("*.parquet"), key=lambda q: q.stat().st_mtime_ns) if folder.is_dir() else []
    if tables:
        return tables[-1]
    if needed:
        raise PruneError(f"no score table in {folder}: run `prune score --method tdds --run {run.path}` first, or pass --scores")
    return None


def select(*, run: Path, method: str, rate: float, scores: str | None, out: Path, keep: str, quota: str,
           beta: float | None, strata: int, seed: int, log=print) -> dict[str, Any]:
    from pipeline.select import quotas as Q
    from pipeline.select import samplers as S

    if method not in SAMPLERS:
        raise PruneError(f"unknown selection method {method!r}; valid methods: {', '.join(SAMPLERS)}")
    if quota not in QUOTAS:
        raise PruneError(f"unknown quota {quota!r}; valid quotas: {', '.join(QUOTAS)}")
    if not 0.0 < rate < 1.0:
        raise PruneError(f"--rate is the fraction removed and must be in (0, 1), got {rate}")
    if keep not in ("hard", "easy"):
        raise PruneError(f"--keep must be 'hard' or 'easy', got {keep!r}")
    if strata < 1:
        raise PruneError(f"--strata must be at least 1, got {strata}")
    r = open_run(run)
    n = r.n
    targets = r.targets
    table_path = find_scores(r, scores, needed=method != "random")
    values = None
    hard_high = True
    score_meta: dict[str, Any] = {}
    if table_path is not None:
        table = read_scores(table_path)
        if table.fingerprint != r.fingerprint:
            raise PruneError(f"{table_path} was scored on other data (fingerprint {str(table.fingerprint)[:12]}…, "
                             f"run {r.fingerprint[:12]}…)")
        if len(table.sample) != n or table.sample[0] != 0 or table.sample[-1] != n - 1:
            raise PruneError(f"{table_path} has {len(table.sample)} scores but the run has {n} samples")
        if not np.array_equal(table.target, targets):
            raise PruneError(f"{table_path}: its targets differ from the run's")
        if not np.all(np.isfinite(table.score)):
            raise PruneError(f"{table_path} holds NaN or infinite scores")
        values, hard_high = table.score, table.higher_is_harder
        score_meta = {"path": str(table_path), "sha256": file_sha256(table_path), "method": table.method,
                      "parameters": table.meta.get("parameters", {}), "higher_is_harder": hard_high}
        log(f"scores: {table_path} ({table.method}, {'higher' if hard_high else 'lower'} is harder)")
    if method == "ccs" and beta is None:
        beta = S.ccs_default_beta(rate)
    if beta is not None and not 0.0 <= beta < 1.0:
        raise PruneError(f"--beta must be in [0, 1), got {beta}")

    rng = np.random.default_rng(seed)
    n_keep = S.n_keep_for(n, rate)

    def sampler(pos: np.ndarray, budget: int) -> np.ndarray:
        if method == "random":
            return pos[S.select_random(len(pos), budget, rng)]
        if method == "topk":
            return pos[S.select_topk(values[pos], budget, higher_is_harder=hard_high, keep=keep)]
        try:
            return pos[S.select_ccs(values[pos], budget, higher_is_harder=hard_high, beta=beta, strata=strata, rng=rng)]
        except ValueError as err:
            raise PruneError(f"ccs: {err}") from None

    C = r.num_classes
    class_counts = np.bincount(targets, minlength=C)
    if quota == "none":
        kept = sampler(np.arange(n, dtype=np.int64), n_keep)
    else:
        budgets = Q.quota_proportional(class_counts, n_keep) if quota == "proportional" else Q.quota_balanced(class_counts, n_keep)
        kept = Q.select_with_quota(budgets, targets, sampler)
    kept = np.asarray(kept, dtype=np.int64)
    assert len(kept) == n_keep and np.all(np.diff(kept) > 0), "a sampler broke the exact-count contract"
    kept_counts = np.bincount(targets[kept], minlength=C)
    parameters: dict[str, Any] = {"keep": keep} if method == "topk" else {}
    if method == "ccs":
        parameters = {"beta": beta, "strata": strata}
    meta = {
        "method": method,
        "parameters": parameters,
        "rate": rate,
        "n_total": n,
        "n_kept": int(n_keep),
        "class_counts_total": {r.classes[c]: int(class_counts[c]) for c in range(C)},
        "class_counts_kept": {r.classes[c]: int(kept_counts[c]) for c in range(C)},
        "quota": quota,
        "seed": seed,
        "scores": score_meta or None,
        "fingerprint": r.fingerprint,
        "source_run": str(r.path),
        "data": r.dataset,
    }
    write_manifest(out, kept, targets[kept], meta)
    return meta
