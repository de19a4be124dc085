"""``prune select``: a score table + a sampler (+ a class quota) → a manifest of kept ids."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.io import PruneError, file_sha256, layout, open_run, read_json, read_manifest, read_scores, write_manifest
from pipeline.engine.counts import checked_keep_count, round_half_up
from pipeline.select.catalog import QUOTAS, SAMPLERS

#: Defaults of the options only some samplers read (None on the command line
#: means "not given", so an option given to a method that ignores it is an error).
D2_K = 5
D2_GAMMA = 0.1  # γ_r of the authors' CIFAR command (`--gamma 0.1`)
CCS_STRATA = 50


def find_scores(run, scores: str | None, needed: bool) -> Path | None:
    """``--scores`` as a path, or a method name in RUN/scores, or (default) the newest table there."""
    folder = layout.scores_dir(run.path)
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
    if not needed:
        return None
    tables = sorted(folder.glob("*.parquet"), key=lambda q: q.stat().st_mtime_ns) if folder.is_dir() else []
    if tables:
        return tables[-1]
    raise PruneError(f"no score table in {folder}: run `prune score --method tdds --run {run.path}` first, or pass --scores")


def sha256_in_background(path: str | Path) -> Future:
    """Start :func:`file_sha256` of ``path`` in a thread of its own; ``.result()`` waits for the digest.

    hashlib releases the GIL while it hashes, so the digest of a large input
    (a 10M-row score table is about 130 MB) is computed while the caller goes
    on reading and selecting, instead of adding to their time.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    try:
        return pool.submit(file_sha256, path)
    finally:
        pool.shutdown(wait=False)  # the thread ends once the digest is done


def parse_snapshot(snapshot: str | int | None) -> int | None:
    """``--snapshot``: a recorded epoch count, or ``final``/``last`` (the default: the last snapshot)."""
    if snapshot is None or isinstance(snapshot, int):
        return snapshot
    text = str(snapshot).strip().lower()
    if text in ("final", "last", ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise PruneError(f"--snapshot must be an epoch count or 'final', got {snapshot!r}") from None


def read_recalls(path: str | Path, classes: list[str], data: str) -> tuple[np.ndarray, str]:
    """Per-class recalls from a ``prune train`` metrics.json (``--recalls``).

    ``val.recall`` {class name: recall} (validation split, what DRoP uses) is
    read when present; otherwise ``per_class`` {class name: {recall}} (in a
    ``prune train`` metrics.json that is the *test* split).
    """
    path = Path(path)
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise PruneError(f"--recalls {path}: expected a metrics.json object with val.recall or per_class")
    if doc.get("data") not in (None, data):
        raise PruneError(f"--recalls {path} comes from data set {doc['data']!r}, the run is {data!r}")
    val = doc.get("val")
    if isinstance(val, dict) and isinstance(val.get("recall"), dict):
        table, source = val["recall"], f"{path} (val.recall)"
    elif isinstance(doc.get("per_class"), dict):
        try:
            table = {c: v["recall"] for c, v in doc["per_class"].items()}
        except (TypeError, KeyError):
            raise PruneError(f"--recalls {path}: per_class entries must each hold a 'recall'") from None
        source = f"{path} (per_class)"
    else:
        raise PruneError(f"--recalls {path} holds neither val.recall nor per_class (write it with `prune train`)")
    missing = [c for c in classes if c not in table]
    extra = [c for c in table if c not in classes]
    if missing or extra:
        what = f"no recall for class(es) {', '.join(missing)}" if missing else f"unknown class(es) {', '.join(extra)}"
        raise PruneError(f"--recalls {path}: {what} (the run's classes: {', '.join(classes)})")
    try:
        out = np.array([float(table[c]) for c in classes])
    except (TypeError, ValueError):
        raise PruneError(f"--recalls {path}: recalls must be numbers") from None
    if not np.all(np.isfinite(out)) or (out < 0).any() or (out > 1).any():
        raise PruneError(f"--recalls {path}: recalls must be in [0, 1]")
    return out, source


def run_recalls(r) -> tuple[np.ndarray, str]:
    """Validation recall per class at the run's last epoch, mean over inits (from RUN/eval.parquet)."""
    import polars as pl

    ev = r.eval_table()
    have = ev.filter((pl.col("split") == "val") & (pl.col("epoch") == r.epochs - 1))["class"].unique().to_list()
    missing = sorted(set(range(r.num_classes)) - set(have))
    if missing:
        raise PruneError(f"run {r.path}: eval.parquet has no validation recall at the last epoch for class(es) "
                         f"{', '.join(r.classes[c] for c in missing)}; pass --recalls metrics.json")
    rec = np.asarray(r.final_val_recalls(), dtype=np.float64)
    if not np.all(np.isfinite(rec)):
        raise PruneError(f"run {r.path}: eval.parquet holds NaN recalls; pass --recalls metrics.json")
    return rec, f"{r.path / 'eval.parquet'} (val, epoch {r.epochs - 1}, mean over {r.inits} init(s))"


def select(*, run: Path, method: str, rate: float, scores: str | None, out: Path, keep: str, quota: str,
           beta: float | None, strata: int | None, seed: int, k: int | None = None, gamma: float | None = None,
           snapshot: str | int | None = None, recalls: str | Path | None = None, like: str | Path | None = None,
           log=print) -> dict[str, Any]:
    from pipeline.select import quotas as Q
    from pipeline.select import samplers as S

    if method not in SAMPLERS:
        raise PruneError(f"unknown selection method {method!r}; valid methods: {', '.join(SAMPLERS)}")
    if quota not in QUOTAS:
        raise PruneError(f"unknown quota {quota!r}; valid quotas: {', '.join(QUOTAS)}")
    sampler_info, quota_info = SAMPLERS[method], QUOTAS[quota]
    if not 0.0 < rate < 1.0:
        raise PruneError(f"--rate is the fraction removed and must be in (0, 1), got {rate}")
    if keep not in ("hard", "easy"):
        raise PruneError(f"--keep must be 'hard' or 'easy', got {keep!r}")
    # The options added with the catalog are refused where they would be
    # silently ignored (--beta, --strata and --keep keep their old leniency).
    given = {"k": k, "gamma": gamma, "snapshot": snapshot, "recalls": recalls, "like": like}
    accepted = set(sampler_info.options) | set(quota_info.options)
    extra = [name for name, v in given.items() if v is not None and name not in accepted]
    if extra:
        flags = ", ".join("--" + e for e in extra)
        raise PruneError(f"{flags} does not apply to --method {method} --quota {quota}")
    if strata is None:
        strata = {"ccs": CCS_STRATA}.get(method, 1)
    if strata < 1:
        raise PruneError(f"--strata must be at least 1, got {strata}")
    k = D2_K if k is None else k
    gamma = D2_GAMMA if gamma is None else gamma
    if k < 1:
        raise PruneError(f"--k must be at least 1, got {k}")
    if not (np.isfinite(gamma) and gamma >= 0):
        raise PruneError(f"--gamma must be a number >= 0, got {gamma}")
    snap = parse_snapshot(snapshot)
    if method in ("ccs", "d2"):
        if beta is None:
            beta = S.ccs_default_beta(rate) if method == "ccs" else 0.0
        if not 0.0 <= beta < 1.0:
            raise PruneError(f"--beta must be in [0, 1), got {beta}")
    if quota == "strategyq" and like is None:
        raise PruneError("--quota strategyq copies class shares from another manifest: pass --like keep.parquet")

    r = open_run(run)
    n = r.n
    n_keep = checked_keep_count(n, rate)  # before any table is read: a rate that keeps 0 or all is refused
    targets = r.targets
    C = r.num_classes
    # Every input is read and checked before anything is said, computed or written.
    notes: list[str] = []
    if quota == "drop":
        rec, source = read_recalls(recalls, r.classes, r.dataset) if recalls is not None else run_recalls(r)
        notes.append(f"recalls: {source}")
    if quota == "strategyq":
        ref = read_manifest(like)
        if ref.fingerprint != r.fingerprint:
            raise PruneError(f"--like {like} selects from other data (fingerprint {str(ref.fingerprint)[:12]}…, "
                             f"run {r.fingerprint[:12]}…)")
        if ref.sample[-1] >= n:
            raise PruneError(f"--like {like} keeps sample {int(ref.sample[-1])}, but the run has {n} samples")
        like_sha = sha256_in_background(like)
    needs_scores = sampler_info.needs_scores or quota_info.needs_scores
    table_path = find_scores(r, scores, needed=needs_scores)
    values = None
    hard_high = True
    score_meta: dict[str, Any] = {}
    if table_path is not None:
        table_sha = sha256_in_background(table_path)  # the sha256 goes into the manifest
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
        score_meta = {"path": str(table_path), "sha256": None, "method": table.method,  # sha256: filled in below
                      "parameters": table.meta.get("parameters", {}), "higher_is_harder": hard_high}
        notes.append(f"scores: {table_path} ({table.method}, {'higher' if hard_high else 'lower'} is harder)")

    emb = None
    emb_meta: dict[str, Any] = {}
    if sampler_info.needs_embeddings:
        stack = r.embeddings(snap)  # (init, sample, dim); names `prune record --embeddings` when missing
        used = snap if snap is not None else r.snapshot_epochs[-1]
        # Embeddings of independently trained inits live in unrelated spaces,
        # so they are concatenated (squared distances add up over inits), not
        # averaged (which would mix unrelated coordinates).
        emb = np.ascontiguousarray(np.transpose(stack, (1, 0, 2)).reshape(n, -1))
        emb_meta = {"snapshot": used, "inits": int(stack.shape[0]), "dim": int(stack.shape[2])}
        notes.append(f"embeddings: after epoch {used}, {stack.shape[0]} init(s) × {stack.shape[2]} dims")

    rng = np.random.default_rng(seed)
    if method in ("ccs", "d2") and quota == "none":
        try:  # checked before anything is printed, rather than inside the sampler
            S.cutoff_size(beta, n, n_keep, method)
        except ValueError as err:
            raise PruneError(str(err)) from None  # the message names the method
    for line in notes:
        log(line)

    def cutoff(size: int, budget: int) -> float:
        # Inside a class the hard cutoff may not eat into the class's budget:
        # a class that keeps more than 1 - beta of its samples (a small or a
        # DRoP-favoured class) drops only what its budget leaves. Globally a
        # too-large --beta stays an error.
        if quota == "none" or round_half_up(beta, size) <= size - budget:
            return beta
        return (size - budget) / size

    def sampler(pos: np.ndarray | None, budget: int) -> np.ndarray:
        """Kept sample ids among ``pos`` (one class's ids, sorted), or among all n samples when None."""
        from pipeline.select import embedding as G

        def sub(a: np.ndarray) -> np.ndarray:  # all samples: the arrays as they are, no gather
            return a if pos is None else a[pos]

        size = n if pos is None else len(pos)
        try:
            if method == "random":
                chosen = S.select_random(size, budget, rng)
            elif method == "topk":
                chosen = S.select_topk(sub(values), budget, higher_is_harder=hard_high, keep=keep)
            elif method == "ccs":
                chosen = S.select_ccs(sub(values), budget, higher_is_harder=hard_high, beta=cutoff(size, budget),
                                      strata=strata, rng=rng)
            elif method == "moderate":
                chosen = S.select_moderate(sub(values), budget, higher_is_harder=hard_high)
            elif method == "kcenter":
                chosen = G.select_kcenter(sub(emb), budget)
            else:
                chosen = G.select_d2(sub(values), sub(emb), budget, higher_is_harder=hard_high, keep=keep, k=k,
                                     gamma=gamma, beta=cutoff(size, budget), strata=strata)
        except ValueError as err:
            raise PruneError(f"{method}: {err}") from None
        return chosen if pos is None else pos[chosen]

    class_counts = np.bincount(targets, minlength=C)
    detail: dict[str, Any] = {}
    if quota == "none":
        kept = sampler(None, n_keep)
    else:
        if quota == "proportional":
            budgets = Q.quota_proportional(class_counts, n_keep)
        elif quota == "balanced":
            budgets = Q.quota_balanced(class_counts, n_keep)
        elif quota == "drop":
            budgets = Q.quota_drop(class_counts, rec, n_keep)
            detail = {"recalls": {r.classes[c]: float(rec[c]) for c in range(C)}, "recalls_from": source,
                      "floor": Q.DROP_FLOOR, "rule": "paper (Algorithm 1): densities ∝ 1 − recall"}
        elif quota == "strategyq":
            like_counts = np.bincount(targets[ref.sample], minlength=C)
            try:
                budgets = Q.quota_like(class_counts, like_counts, n_keep)
            except ValueError as err:
                raise PruneError(f"--like {like}: {err}") from None
            detail = {"like": {"path": str(like), "sha256": like_sha.result(), "n_kept": int(len(ref.sample)),
                               "class_counts_kept": {r.classes[c]: int(like_counts[c]) for c in range(C)}}}
        else:  # normalize
            budgets = Q.quota_normalize(values, targets, n_keep, higher_is_harder=hard_high, keep=keep, num_classes=C)
        kept = Q.select_with_quota(budgets, targets, sampler)
    kept = np.asarray(kept, dtype=np.int64)
    assert len(kept) == n_keep and np.all(kept[1:] > kept[:-1]), "a sampler broke the exact-count contract"
    kept_targets = targets[kept]
    kept_counts = np.bincount(kept_targets, minlength=C)
    if score_meta:
        score_meta["sha256"] = table_sha.result()

    parameters: dict[str, Any] = {}
    if method == "topk":
        parameters = {"keep": keep}
    elif method == "ccs":
        parameters = {"beta": beta, "strata": strata}
    elif method == "d2":
        parameters = {"keep": keep, "k": k, "gamma": gamma, "gamma_forward": 1.0, "beta": beta, "strata": strata,
                      "embeddings": emb_meta}
    elif method == "kcenter":
        parameters = {"embeddings": emb_meta}
    if quota == "normalize":
        detail = {"keep": keep}
    meta = {
        "method": method,
        "parameters": parameters,
        "rate": rate,
        "n_total": n,
        "n_kept": int(n_keep),
        "class_counts_total": {r.classes[c]: int(class_counts[c]) for c in range(C)},
        "class_counts_kept": {r.classes[c]: int(kept_counts[c]) for c in range(C)},
        "quota": quota,
        "quota_detail": detail or None,
        "seed": seed,
        "scores": score_meta or None,
        "fingerprint": r.fingerprint,
        "source_run": str(r.path),
        "data": r.dataset,
    }
    write_manifest(out, kept, kept_targets, meta)
    return meta
