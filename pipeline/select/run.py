"""``prune select``: a score table + a sampler (+ a class quota) → a manifest of kept ids.

This module reads and writes files; the selection itself is :mod:`pipeline.select.core`
(:func:`~pipeline.select.core.choose` on arrays), which looks samplers and quotas up
in :mod:`pipeline.select.catalog`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

import operator

from pipeline.io import PruneError, file_sha256, layout, open_run, read_json, read_manifest, read_scores, write_manifest
from pipeline.io.tables import read_table_metadata
from pipeline.engine.counts import checked_keep_count
from pipeline.select import core, tune
from pipeline.select.base import Inputs


def find_scores(run, scores: str | None, needed: bool) -> Path | None:
    """``--scores`` as a path, or a method name in RUN/scores, or (default) the run's only table.

    Without ``--scores`` a run with one score table of its training rows
    uses it; with several, the choice is the user's (one line lists them):
    a selection never depends on which table happened to be written last.
    Pool tables (``pool-*``, from ``prune score --pool``) are only used when named.
    """
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
            how = (f"--pool --method {scores[5:]}" if scores.startswith("pool-") else f"--method {scores}")
            raise PruneError(f"--scores {scores}: no table {p}{hint}; run `prune score {how} --run {run.path}` first")
        return p
    if not needed:
        return None
    tables = sorted(q for q in folder.glob("*.parquet") if not q.name.startswith("pool-")) if folder.is_dir() else []
    if len(tables) == 1:
        return tables[0]
    if tables:
        raise PruneError(f"run {run.path} has {len(tables)} score tables ({', '.join(q.stem for q in tables)}): "
                         "name one with --scores NAME")
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


def run_recalls(r, how: str = "final") -> tuple[np.ndarray, str]:
    """Validation recall per class of the run's query model (from RUN/eval.parquet), mean over inits, ``how``:
    ``final`` (last epoch), ``best`` (each init's best-validation epoch) or ``mean`` (over every epoch)."""
    import polars as pl

    ev = r.eval_table()
    have = ev.filter((pl.col("split") == "val") & (pl.col("epoch") == r.epochs - 1))["class"].unique().to_list()
    missing = sorted(set(range(r.num_classes)) - set(have))
    if missing:
        raise PruneError(f"run {r.path}: eval.parquet has no validation recall at the last epoch for class(es) "
                         f"{', '.join(r.classes[c] for c in missing)}; pass --recalls metrics.json")
    rec = np.asarray(r.val_recalls(how), dtype=np.float64)
    if not np.all(np.isfinite(rec)):
        raise PruneError(f"run {r.path}: eval.parquet holds NaN recalls; pass --recalls metrics.json")
    where = {"final": f"epoch {r.epochs - 1}", "best": "best-validation epoch of each init",
             "mean": f"mean over epochs 0..{r.epochs - 1}"}[how]
    return rec, f"{r.path / 'eval.parquet'} (val, {where}, mean over {r.inits} init(s))"


def select(*, run: Path, method: str, rate: float | None, scores: str | None, out: Path, keep: str, quota: str,
           beta: float | None, strata: int | None, seed: int, k: int | None = None, gamma: float | None = None,
           snapshot: str | int | None = None, recalls: str | Path | None = None, like: str | Path | None = None,
           log=print, count: int | None = None, add_to: str | Path | None = None, beta_grid=None,
           tune_epochs: int | None = None, device: str = "auto", options: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """The stage: read what the sampler and quota need from the run (and --scores, --recalls, --like), select
    (:mod:`pipeline.select.core`), write the manifest ``out``; returns its metadata.

    The candidates are the rows of the score table: every training sample
    of a full run, the trained subset of a ``--manifest`` run, or its pool
    for a ``prune score --pool`` table (active learning: the selected pool
    samples are the ones to label, and ``add_to`` writes them together with
    the labelled manifest).
    """
    if (rate is None) == (count is None):
        raise PruneError("give exactly one of --rate (the fraction to remove) and --count (the number to keep)")
    beta = tune.parse_beta(beta)
    auto = beta == tune.AUTO
    if auto:
        beta = None  # each β of the grid is given in turn below
        grid = tune.parse_grid(beta_grid)
        if add_to is not None:
            raise PruneError("--beta auto trains on the kept samples alone; it does not apply to --add-to")
        if tune_epochs is not None and tune_epochs < 1:
            raise PruneError(f"--tune-epochs must be at least 1, got {tune_epochs}")
    elif beta_grid is not None or tune_epochs is not None:
        raise PruneError("--beta-grid and --tune-epochs go with --beta auto")
    # Names, rate and options are checked before the run is opened.
    given = {"keep": keep, "beta": beta, "strata": strata, "k": k, "gamma": gamma,
             "snapshot": snapshot, "recalls": recalls, "like": like}
    for key, value in (options or {}).items():  # --opt KEY=VALUE: any option a sampler or quota declares
        if given.get(key) is not None and key != "keep":  # (--keep always has a value: its default)
            raise PruneError(f"--{key.replace('_', '-')} is given twice (as a flag and as --opt)")
        given[key] = value
    # with --count the rate is known once the candidates are: names and options are checked now all the same
    choice = core.resolve(method, quota, rate=rate if rate is not None else 0.5, given=given)
    if auto and "beta" not in choice.params:
        from pipeline.select.catalog import SAMPLERS

        raise PruneError(f"--beta auto: --method {method} has no β to choose (samplers with a hard cutoff: "
                         f"{', '.join(n for n, e in SAMPLERS.items() if 'beta' in e.accepts)})")
    snap = parse_snapshot(snapshot)
    needs = choice.needs
    if "like" in needs and like is None:
        raise PruneError(f"--quota {quota} copies class shares from another manifest: pass --like keep.parquet")
    base = read_manifest(add_to) if add_to is not None else None

    r = open_run(run)
    table_path = find_scores(r, scores, needed="scores" in needs)
    on_pool = table_path is not None and read_table_metadata(table_path).get("scored") == "pool"
    ids = r.pool_ids if on_pool else r.sample_ids  # the candidates, by data-set id
    n = len(ids)
    if count is not None:
        n_keep = operator.index(count) if isinstance(count, int) else count
        if not 1 <= n_keep < n:
            raise PruneError(f"--count must be in [1, {n - 1}] (there are {n} candidates), got {count}")
        rate = (n - n_keep) / n
        choice = core.resolve(method, quota, rate=rate, given=given)  # rate-dependent defaults (CCS's beta)
    else:
        n_keep = checked_keep_count(n, rate)  # a rate that keeps 0 or all is refused
    targets = r.pool_targets if on_pool else r.targets
    C = r.num_classes
    if base is not None:
        if base.fingerprint is not None and base.fingerprint != r.fingerprint:
            raise PruneError(f"--add-to {add_to} selects from other data (fingerprint {str(base.fingerprint)[:12]}…, "
                             f"run {r.fingerprint[:12]}…)")
        if np.intersect1d(base.ids, ids, assume_unique=True).size:
            raise PruneError(f"--add-to {add_to} already holds some of the candidates in {table_path}: acquire from "
                             "the pool of a run recorded on that manifest (prune record --manifest M --pool)")
    if on_pool and "embeddings" in needs:
        raise PruneError(f"--method {method} reads the embeddings of trained samples; to rank the pool by embeddings "
                         "use `prune score --pool --method kcenter`, then --method topk")
    # Every input is read and checked before anything is said, computed or written.
    notes: list[str] = []
    sources: dict[str, Any] = {}  # where each input came from, recorded in the manifest
    rec = like_counts = None
    if "recalls" in needs:
        from pipeline.io.run import DEFAULT_RECALLS, RECALL_SOURCES

        if recalls is None or str(recalls) in RECALL_SOURCES:
            rec, sources["recalls"] = run_recalls(r, DEFAULT_RECALLS if recalls is None else str(recalls))
        else:
            if not Path(recalls).exists():
                raise PruneError(f"--recalls {recalls} does not exist (give a metrics.json, or one of "
                                 f"{', '.join(RECALL_SOURCES)})")
            rec, sources["recalls"] = read_recalls(recalls, r.classes, r.dataset)
        notes.append(f"recalls: {sources['recalls']}")
    if "like" in needs:
        ref = read_manifest(like)
        if ref.fingerprint != r.fingerprint:
            raise PruneError(f"--like {like} selects from other data (fingerprint {str(ref.fingerprint)[:12]}…, "
                             f"run {r.fingerprint[:12]}…)")
        rows = np.searchsorted(ids, ref.sample)
        if not np.array_equal(ids[np.minimum(rows, n - 1)], ref.sample):
            raise PruneError(f"--like {like} keeps samples that are not among this run's {n} candidates")
        like_sha = sha256_in_background(like)
        like_counts = np.bincount(targets[rows], minlength=C)
    table_path = find_scores(r, scores, needed="scores" in needs)
    values = None
    hard_high = True
    score_meta: dict[str, Any] = {}
    if table_path is not None:
        table_sha = sha256_in_background(table_path)  # the sha256 goes into the manifest
        table = read_scores(table_path)
        if table.fingerprint is None:
            # a table written by the user's own code: accepted when its ids are exactly this run's
            notes.append(f"note: {table_path} carries no fingerprint (not written by prune score); its provenance is "
                         "unknown, so its ids are taken to be this run's samples")
        elif table.fingerprint != r.fingerprint:
            raise PruneError(f"{table_path} was scored on other data (fingerprint {str(table.fingerprint)[:12]}…, "
                             f"run {r.fingerprint[:12]}…)")
        if not np.array_equal(table.sample, ids):
            what = "pool samples" if on_pool else "samples"
            raise PruneError(f"{table_path} has {len(table.sample)} scores for ids {int(table.sample[0]) if len(table.sample) else '-'}"
                             f"..{int(table.sample[-1]) if len(table.sample) else '-'}, but the run has {n} {what} "
                             f"{int(ids[0])}..{int(ids[-1])}")
        if table.target is not None and not np.array_equal(table.target, targets):
            raise PruneError(f"{table_path}: its targets differ from the run's")
        if not np.all(np.isfinite(table.score)):
            raise PruneError(f"{table_path} holds NaN or infinite scores")
        if table.higher_is_harder is None:
            raise PruneError(f"{table_path} does not say which end of its scores is hard: add the Parquet metadata "
                             "key higher_is_harder (true or false), e.g. with pyarrow "
                             "table.replace_schema_metadata({'higher_is_harder': 'true'})")
        values, hard_high = table.score, table.higher_is_harder
        score_meta = {"path": str(table_path), "sha256": None, "method": table.method,  # sha256: filled in below
                      "parameters": table.meta.get("parameters", {}), "higher_is_harder": hard_high}
        notes.append(f"scores: {table_path} ({table.method}, {'higher' if hard_high else 'lower'} is harder)")
        own = choice.sampler.score_options.get(table.method, {})  # CCS: AUM in probability space
        differ = {k: v for k, v in own.items() if score_meta["parameters"].get(k) != v}
        if differ:
            # measured on MNIST-1D (README, bench/RESULTS.md §11): CCS on AUM's logit margin stayed below random
            flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in differ.items())
            want = ", ".join(f"{k}={v}" for k, v in differ.items())
            have = ", ".join(f"{k}={score_meta['parameters'][k]}" if k in score_meta["parameters"]
                             else f"no {k} recorded" for k in differ)
            notes.append(f"note: {choice.sampler.name} was made for {table.method} with {want} "
                         f"(`prune score --method {table.method} {flags}`; sweeps, rounds and --dynamic "
                         f"{table.method}+{choice.sampler.name} read it so by themselves); this table has {have}")

    emb = None
    if "embeddings" in needs:
        emb = r.embedding_features(snap)  # (sample, init·dim); names `prune record --embeddings` when missing
        used = snap if snap is not None else r.snapshot_epochs[-1]
        dim = emb.shape[1] // r.inits
        sources["embeddings"] = {"snapshot": used, "inits": r.inits, "dim": dim}
        notes.append(f"embeddings: after epoch {used}, {r.inits} init(s) × {dim} dims")
    if "like" in needs:
        sources["like"] = {"path": str(like), "sha256": like_sha.result(), "n_kept": int(len(ref.sample))}

    inputs = Inputs(targets=targets, num_classes=C, classes=tuple(r.classes), scores=values,
                    higher_is_harder=hard_high, emb=emb, recalls=rec, like_counts=like_counts, sources=sources)
    if auto:
        choices = {}
        for b in grid:  # the β a rate allows: a global cutoff must leave the samples to keep
            c = core.resolve(method, quota, rate=rate, given={**given, "beta": b})
            try:
                core.check(c, n, n_keep)
            except PruneError:
                continue
            choices[b] = c
        if not choices:
            raise PruneError(f"--beta-grid {','.join(f'{b:g}' for b in grid)}: every β drops more than rate "
                             f"{rate:.4g} removes; give values of at most {(n - n_keep) / n:.4g}")
        grid = tuple(choices)
    else:
        core.check(choice, n, n_keep)  # checked before anything is printed, rather than inside the sampler
        if choice.sampler.name == "ccs" and beta is None and choice.params.get("beta", 0) > 0:
            notes.append(f"note: β={choice.params['beta']:g} is CCS's CIFAR-10 setting for this rate; `--beta auto` "
                         "chooses β on this data by validation accuracy (5 trainings)")
    for line in notes:
        log(line)
    all_files = None
    if layout.files_table(r.path).exists():  # a file-backed data set: each kept sample's file goes along
        from pipeline.io.files import read_files

        all_files = read_files(layout.files_table(r.path), r.n_total)

    def manifest(how: core.Choice, name: str, path: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        kept, parameters, detail = core.run(how, inputs, n_keep, seed)  # rows of the candidates
        meta = {
            **describe(method=name, quota=quota, rate=rate, kept=kept, targets=targets, classes=r.classes,
                       parameters=parameters, detail=detail, seed=seed),
            "scores": score_meta or None,
            "fingerprint": r.fingerprint,
            "source_run": str(r.path),
            "data": r.dataset,
        }
        if on_pool:
            meta["candidates"] = "pool"
        if r.n_total != r.n:
            meta["n_data"] = r.n_total  # the whole training set; n_total counts the candidates
        chosen, chosen_y = ids[kept], targets[kept]
        if base is not None:
            meta["added_to"] = {"path": str(add_to), "n": int(len(base.ids)), "sha256": file_sha256(add_to)}
            meta["n_chosen"] = int(len(chosen))
            all_ids = np.concatenate([base.ids, chosen])
            order = np.argsort(all_ids, kind="stable")
            chosen, chosen_y = all_ids[order], np.concatenate([base.target, chosen_y])[order]
            meta["n_kept"] = int(len(chosen))
        meta.update(extra or {})
        write_manifest(path, chosen, chosen_y, meta, files=None if all_files is None else all_files[chosen])
        return meta

    if score_meta:
        score_meta["sha256"] = table_sha.result()
    if not auto:
        return manifest(choice, method, out)

    baseline = core.resolve("random", quota, rate=rate, given={})

    def trial(b: float | None, path: Path) -> None:
        manifest(baseline if b is None else choices[b], "random" if b is None else method, path)

    best, trials = tune.search(run=r.path, grid=grid, write=trial, seed=seed, epochs=tune_epochs, device=device,
                               log=log)
    rand = next(t for t in trials if t.beta is None)
    top = max(t.val_accuracy for t in trials if t.beta is not None)
    log(f"--beta auto: chose β={best:g} (val accuracy {top:.4f})")
    if rand.val_accuracy > top:
        log(f"warning: random pruning at this rate reached a higher val accuracy ({rand.val_accuracy:.4f}) than "
            f"{method} with every β tried; consider --method random, or another score table")
    # the same selection the chosen trial trained on, with what the search found
    return manifest(choices[best], method, out, {"beta_auto": tune.summary(grid, trials, best, seed)})


def describe(*, method: str, quota: str, rate: float | None, kept: np.ndarray, targets: np.ndarray,
             classes, parameters: dict[str, Any], detail: dict[str, Any] | None, seed: int) -> dict[str, Any]:
    """What every manifest records of a selection: method, parameters, rate, counts (kept and full) per class."""
    C = len(classes)
    class_counts = np.bincount(targets, minlength=C)
    kept_counts = np.bincount(targets[kept], minlength=C)
    return {
        "method": method,
        "parameters": parameters,
        "rate": rate,
        "n_total": int(len(targets)),
        "n_kept": int(len(kept)),
        "class_counts_total": {classes[c]: int(class_counts[c]) for c in range(C)},
        "class_counts_kept": {classes[c]: int(kept_counts[c]) for c in range(C)},
        "quota": quota,
        "quota_detail": detail,
        "seed": seed,
    }
