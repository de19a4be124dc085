"""``prune select``: a score table + a sampler (+ a class quota) → a manifest of kept ids.

This module reads and writes files: a :class:`SelectSpec` checked at the door, its inputs read
(:func:`prepare`), the manifest written. The selection itself is :mod:`pipeline.select.core`
(:func:`~pipeline.select.core.choose` on arrays), which looks samplers and quotas up in
:mod:`pipeline.select.catalog`. ``--beta auto`` trains, so it lives above the stages
(:mod:`pipeline.api.tune`) and calls :func:`prepare` and :meth:`Prepared.write`.
"""

from __future__ import annotations

import operator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.counts import checked_keep_count
from pipeline.io import PruneError, file_sha256, layout, open_run, read_json, read_manifest, read_scores, write_manifest
from pipeline.io.tables import read_table_metadata
from pipeline.select import core
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


@dataclass(frozen=True)
class SelectSpec:
    """What one ``prune select`` does, checked once at the door (:meth:`build`); below it nothing is checked again.

    The CLI and the API build it from the user's words. ``given`` holds every
    option of the sampler and the quota as given (None: not given), flags and
    ``--opt KEY=VALUE`` alike; ``choice`` is the sampler and quota resolved with
    them (at rate 0.5 when ``--count`` is given: the real rate is known once
    the candidates are).
    """

    run: Path
    method: str
    quota: str
    rate: float | None
    count: int | None
    scores: str | None
    out: Path
    seed: int
    given: dict[str, Any]
    choice: core.Choice
    snapshot: int | None = None
    recalls: str | Path | None = None
    like: str | Path | None = None
    add_to: str | Path | None = None

    @classmethod
    def build(cls, *, run: Path, method: str, rate: float | None, scores: str | None, out: Path, quota: str = "none",
              seed: int = 0, keep: str = "hard", beta: float | None = None, strata: int | None = None,
              k: int | None = None, gamma: float | None = None, snapshot: str | int | None = None,
              recalls: str | Path | None = None, like: str | Path | None = None, count: int | None = None,
              add_to: str | Path | None = None, options: dict[str, Any] | None = None) -> "SelectSpec":
        if (rate is None) == (count is None):
            raise PruneError("give exactly one of --rate (the fraction to remove) and --count (the number to keep)")
        if isinstance(beta, str):
            raise PruneError("--beta auto trains: it is chosen above the select stage (prune select --beta auto, "
                             "or select(beta='auto'))")
        given = {"keep": keep, "beta": beta, "strata": strata, "k": k, "gamma": gamma,
                 "snapshot": snapshot, "recalls": recalls, "like": like}
        for key, value in (options or {}).items():  # --opt KEY=VALUE: any option a sampler or quota declares
            if given.get(key) is not None and key != "keep":  # (--keep always has a value: its default)
                raise PruneError(f"--{key.replace('_', '-')} is given twice (as a flag and as --opt)")
            given[key] = value
        choice = core.resolve(method, quota, rate=rate if rate is not None else 0.5, given=given)
        if "like" in choice.needs and like is None:
            raise PruneError(f"--quota {quota} copies class shares from another manifest: pass --like keep.parquet")
        return cls(run=Path(run), method=method, quota=quota, rate=rate, count=count, scores=scores, out=Path(out),
                   seed=seed, given=given, choice=choice, snapshot=parse_snapshot(snapshot), recalls=recalls,
                   like=like, add_to=add_to)


def select(*, log=print, **words: Any) -> dict[str, Any]:
    """``prune select``: the spec built from the user's words (:meth:`SelectSpec.build`), then :func:`run`."""
    return run(SelectSpec.build(**words), log=log)


def run(spec: SelectSpec, log=print) -> dict[str, Any]:
    """The stage: read what the sampler and quota need from the run (and --scores, --recalls, --like), select
    (:mod:`pipeline.select.core`), write the manifest ``spec.out``; returns its metadata.

    The candidates are the rows of the score table: every training sample
    of a full run, the trained subset of a ``--manifest`` run, or its pool
    for a ``prune score --pool`` table (active learning: the selected pool
    samples are the ones to label, and ``add_to`` writes them together with
    the labelled manifest).
    """
    from pipeline.io.atomic import probe_writable

    probe_writable(spec.out)  # a read-only or full place fails now, not after the selection
    p = prepare(spec)
    core.check(p.choice, p.n, p.n_keep)  # checked before anything is printed, rather than inside the sampler
    if p.choice.sampler.name == "ccs" and spec.given.get("beta") is None and p.choice.params.get("beta", 0) > 0:
        p.notes.append(f"note: β={p.choice.params['beta']:g} is CCS's CIFAR-10 setting for this rate; `--beta auto` "
                       "chooses β on this data by validation accuracy (5 trainings)")
    for line in p.notes:
        log(line)
    return p.write(p.choice, spec.method, spec.out)


@dataclass
class Prepared:
    """A selection's inputs, read and checked: the run, its candidates, the arrays the sampler and quota read,
    what the manifest records of them. :meth:`write` selects with a :class:`~pipeline.select.core.Choice`
    (``--beta auto`` writes one per β of its grid) and writes the manifest."""

    spec: SelectSpec
    r: Any  # the open Run
    choice: core.Choice  # resolved at the real rate
    ids: np.ndarray  # the candidates, by data-set id
    targets: np.ndarray
    n_keep: int
    rate: float
    inputs: Inputs | None = None
    base: Any = None  # --add-to's manifest
    score_meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    all_files: Any = None
    on_pool: bool = False
    query: dict[str, Any] | None = None  # the recording the selection read, with its cost (None: unknown)
    table_meta: dict[str, Any] = field(default_factory=dict)  # the score table's metadata, as written

    @property
    def n(self) -> int:
        return len(self.ids)

    def resolve(self, **given: Any) -> core.Choice:
        """The spec's sampler and quota at this rate with ``given`` over its options (β of ``--beta auto``)."""
        s = self.spec
        return core.resolve(s.method, s.quota, rate=self.rate, given={**s.given, **given})

    def write(self, how: core.Choice, name: str, path: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        s, r = self.spec, self.r
        kept, parameters, detail, weights = core.run(how, self.inputs, self.n_keep, s.seed)  # rows of the candidates
        meta = {
            **describe(method=name, quota=s.quota, rate=self.rate, kept=kept, targets=self.targets, classes=r.classes,
                       parameters=parameters, detail=detail, seed=s.seed),
            "scores": self.score_meta or None,
            "fingerprint": r.fingerprint,
            "source_run": str(r.path),
            "data": r.dataset,
            "query": self.query,
        }
        if self.on_pool:
            meta["candidates"] = "pool"
        if r.n_total != r.n:
            meta["n_data"] = r.n_total  # the whole training set; n_total counts the candidates
        chosen, chosen_y = self.ids[kept], self.targets[kept]
        if weights is not None:
            meta["weighted"] = "normalized per batch: sum(w·loss) / sum(w), as DeepCore trains a weighted subset"
        if self.base is not None:
            if weights is not None:
                raise PruneError(f"--add-to: --method {name} weighs its samples, the labelled manifest does not")
            meta["added_to"] = {"path": str(s.add_to), "n": int(len(self.base.ids)), "sha256": file_sha256(s.add_to)}
            meta["n_chosen"] = int(len(chosen))
            all_ids = np.concatenate([self.base.ids, chosen])
            order = np.argsort(all_ids, kind="stable")
            chosen, chosen_y = all_ids[order], np.concatenate([self.base.target, chosen_y])[order]
            meta["n_kept"] = int(len(chosen))
        meta.update(extra or {})
        write_manifest(path, chosen, chosen_y, meta, files=None if self.all_files is None else self.all_files[chosen],
                       weight=weights)
        return meta


def prepare(spec: SelectSpec) -> Prepared:
    """Open the run and read, check and describe every input the spec's sampler and quota read."""
    base = read_manifest(spec.add_to) if spec.add_to is not None else None
    r = open_run(spec.run)
    table_path = find_scores(r, spec.scores, needed="scores" in spec.choice.needs)
    on_pool = table_path is not None and read_table_metadata(table_path).get("scored") == "pool"
    ids = r.pool_ids if on_pool else r.sample_ids  # the candidates, by data-set id
    n = len(ids)
    rate, choice = spec.rate, spec.choice
    if spec.count is not None:
        n_keep = operator.index(spec.count) if isinstance(spec.count, int) else spec.count
        if not 1 <= n_keep < n:
            raise PruneError(f"--count must be in [1, {n - 1}] (there are {n} candidates), got {spec.count}")
        rate = (n - n_keep) / n
        choice = core.resolve(spec.method, spec.quota, rate=rate, given=spec.given)  # rate-dependent defaults (β)
    else:
        n_keep = checked_keep_count(n, rate)  # a rate that keeps 0 or all is refused
    p = Prepared(spec=spec, r=r, choice=choice, ids=ids, targets=r.pool_targets if on_pool else r.targets,
                 n_keep=n_keep, rate=rate, base=base, on_pool=on_pool)
    _check_candidates(p, table_path)
    sources: dict[str, Any] = {}  # where each input came from, recorded in the manifest
    rec = _read_recalls(p, sources) if "recalls" in choice.needs else None
    like_counts, like_sha, ref = _read_like(p) if "like" in choice.needs else (None, None, None)
    values, hard_high, table_sha = _read_table(p, table_path)
    emb = _read_embeddings(p, sources) if "embeddings" in choice.needs else None
    grads, val_grads, val_y = _read_gradients(p, sources, choice.needs)
    p_mean = _read_p_true_mean(p, sources) if "p_true_mean" in choice.needs else None
    if ref is not None:
        sources["like"] = {"path": str(spec.like), "sha256": like_sha.result(), "n_kept": int(len(ref.sample))}
    p.inputs = Inputs(targets=p.targets, num_classes=r.num_classes, classes=tuple(r.classes), scores=values,
                      higher_is_harder=hard_high, emb=emb, grads=grads, val_grads=val_grads, val_targets=val_y,
                      recalls=rec, like_counts=like_counts, p_true_mean=p_mean, sources=sources)
    if layout.files_table(r.path).exists():  # a file-backed data set: each kept sample's file goes along
        from pipeline.io.files import read_files

        p.all_files = read_files(layout.files_table(r.path), r.n_total)
    if p.score_meta:
        p.score_meta["sha256"] = table_sha.result()
    p.query = _query(p, choice, spec)
    return p


def _query(p: Prepared, choice: core.Choice, spec: SelectSpec) -> dict[str, Any] | None:
    """The recording this selection paid for (docs/cost.md): the score table's, the run's where the sampler or
    quota reads its model (embeddings, gradients, validation recalls), none for a selection that reads nothing of
    it (random, with a label-only quota): then its query costs 0 sample passes."""
    if "scores" in choice.needs and p.score_meta:
        q = p.score_meta.pop("query", None)
        if q is not None:
            return q
        return p.r.query_cost if p.score_meta.get("source_run") == str(p.r.path) else None
    reads_model = any(n in choice.needs for n in ("embeddings", "gradients", "val_gradients"))
    reads_recalls = "recalls" in choice.needs and (spec.recalls is None or str(spec.recalls) in ("final", "best", "mean"))
    if reads_model or reads_recalls:
        return p.r.query_cost
    return {"run": None, "sample_passes": 0}


def _check_candidates(p: Prepared, table_path: Path | None) -> None:
    s, r = p.spec, p.r
    if p.base is not None:
        if p.base.fingerprint is not None and p.base.fingerprint != r.fingerprint:
            raise PruneError(f"--add-to {s.add_to} selects from other data (fingerprint {str(p.base.fingerprint)[:12]}…, "
                             f"run {r.fingerprint[:12]}…)")
        if np.intersect1d(p.base.ids, p.ids, assume_unique=True).size:
            raise PruneError(f"--add-to {s.add_to} already holds some of the candidates in {table_path}: acquire from "
                             "the pool of a run recorded on that manifest (prune record --manifest M --pool)")
    if p.on_pool and "p_true_mean" in p.choice.sampler.needs:
        raise PruneError(f"--method {s.method} reads the label probabilities of trained samples, which the pool has "
                         "not got; rank the pool with a label-free score and --method topk")
    if p.on_pool and p.choice.sampler.needs_model_outputs:
        raise PruneError(f"--method {s.method} reads the embeddings of trained samples; to rank the pool by "
                         "embeddings use `prune score --pool --method kcenter`, then --method topk")


def _read_recalls(p: Prepared, sources: dict[str, Any]) -> np.ndarray:
    from pipeline.io.run import DEFAULT_RECALLS, RECALL_SOURCES

    recalls = p.spec.recalls
    if recalls is None or str(recalls) in RECALL_SOURCES:
        rec, sources["recalls"] = run_recalls(p.r, DEFAULT_RECALLS if recalls is None else str(recalls))
    else:
        if not Path(recalls).exists():
            raise PruneError(f"--recalls {recalls} does not exist (give a metrics.json, or one of "
                             f"{', '.join(RECALL_SOURCES)})")
        rec, sources["recalls"] = read_recalls(recalls, p.r.classes, p.r.dataset)
    p.notes.append(f"recalls: {sources['recalls']}")
    return rec


def _read_like(p: Prepared):
    like, r = p.spec.like, p.r
    ref = read_manifest(like)
    if ref.fingerprint != r.fingerprint:
        raise PruneError(f"--like {like} selects from other data (fingerprint {str(ref.fingerprint)[:12]}…, "
                         f"run {r.fingerprint[:12]}…)")
    rows = np.searchsorted(p.ids, ref.sample)
    if not np.array_equal(p.ids[np.minimum(rows, p.n - 1)], ref.sample):
        raise PruneError(f"--like {like} keeps samples that are not among this run's {p.n} candidates")
    return np.bincount(p.targets[rows], minlength=r.num_classes), sha256_in_background(like), ref


def _read_table(p: Prepared, table_path: Path | None):
    """The score table's values and hard end (None, True without one), checked against the candidates."""
    if table_path is None:
        return None, True, None
    r, ids, n = p.r, p.ids, p.n
    table_sha = sha256_in_background(table_path)  # the sha256 goes into the manifest
    table = read_scores(table_path)
    if table.fingerprint is None:
        # a table written by the user's own code: accepted when its ids are exactly this run's
        p.notes.append(f"note: {table_path} carries no fingerprint (not written by prune score); its provenance is "
                       "unknown, so its ids are taken to be this run's samples")
    elif table.fingerprint != r.fingerprint:
        raise PruneError(f"{table_path} was scored on other data (fingerprint {str(table.fingerprint)[:12]}…, "
                         f"run {r.fingerprint[:12]}…)")
    if not np.array_equal(table.sample, ids):
        what = "pool samples" if p.on_pool else "samples"
        first, last = (int(table.sample[0]), int(table.sample[-1])) if len(table.sample) else ("-", "-")
        raise PruneError(f"{table_path} has {len(table.sample)} scores for ids {first}..{last}, but the run has {n} "
                         f"{what} {int(ids[0])}..{int(ids[-1])}")
    if table.target is not None and not np.array_equal(table.target, p.targets):
        raise PruneError(f"{table_path}: its targets differ from the run's")
    if not np.all(np.isfinite(table.score)):
        raise PruneError(f"{table_path} holds NaN or infinite scores")
    if table.higher_is_harder is None:
        raise PruneError(f"{table_path} does not say which end of its scores is hard: add the Parquet metadata "
                         "key higher_is_harder (true or false), e.g. with pyarrow "
                         "table.replace_schema_metadata({'higher_is_harder': 'true'})")
    p.table_meta = dict(table.meta)
    p.score_meta = {"path": str(table_path), "sha256": None, "method": table.method,  # sha256: filled in by prepare
                    "parameters": table.meta.get("parameters", {}), "higher_is_harder": table.higher_is_harder,
                    "source_run": table.meta.get("source_run"), "query": table.meta.get("query")}
    p.notes.append(f"scores: {table_path} ({table.method}, {'higher' if table.higher_is_harder else 'lower'} is harder)")
    _note_score_options(p, table.method)
    return table.score, table.higher_is_harder, table_sha


def _note_score_options(p: Prepared, method: str) -> None:
    """A note where the sampler's paper reads this score another way than the table was computed (CCS: AUM)."""
    sampler, have = p.choice.sampler, p.score_meta["parameters"]
    differ = {k: v for k, v in sampler.score_options.get(method, {}).items() if have.get(k) != v}
    if differ:
        # measured on MNIST-1D (bench/RESULTS.md §11): CCS on AUM's logit margin stayed below random
        flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in differ.items())
        want = ", ".join(f"{k}={v}" for k, v in differ.items())
        got = ", ".join(f"{k}={have[k]}" if k in have else f"no {k} recorded" for k in differ)
        p.notes.append(f"note: {sampler.name} was made for {method} with {want} (`prune score --method {method} "
                       f"{flags}`; sweeps, rounds and --dynamic {method}+{sampler.name} read it so by themselves); "
                       f"this table has {got}")


def scored_epochs(meta: dict[str, Any], run) -> int:
    """How many first epochs of ``run`` a score table was computed from: its parameter ``epochs`` (dual, tdds,
    dynunc, variability record the T they used), else the epochs its run showed it (``epochs_recorded``: a
    ``--prefix``'s K), else every epoch the run recorded."""
    for value in ((meta.get("parameters") or {}).get("epochs"), meta.get("epochs_recorded")):
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= run.epochs:
                raise PruneError(f"the score table was computed from {value} epochs, but run {run.path} recorded "
                                 f"{run.epochs}")
            return value
    return run.epochs


def p_true_mean_of(run, meta: dict[str, Any]) -> tuple[np.ndarray, int]:
    """Each sample's mean label probability over the epochs the table ``meta`` was scored from, and that count:
    the point where DUAL's Beta sampler evaluates its pdf (the authors' mean over their T = 30 epochs)."""
    T = scored_epochs(meta, run)
    return run.p_true_mean(T), T


def _read_p_true_mean(p: Prepared, sources: dict[str, Any]) -> np.ndarray:
    r = p.r
    values, T = p_true_mean_of(r, p.table_meta)
    sources["p_true_mean"] = {"epochs": T, "inits": r.inits, "from": "dynamics p_true (training pass)"}
    p.notes.append(f"mean label probability: the first {T} epoch(s) of the training pass, {r.inits} init(s)")
    return values


def _read_embeddings(p: Prepared, sources: dict[str, Any]) -> np.ndarray:
    r, snap = p.r, p.spec.snapshot
    emb = r.embedding_features(snap)  # (sample, init·dim); names `prune record --embeddings` when missing
    used = snap if snap is not None else r.snapshot_epochs[-1]
    dim = emb.shape[1] // r.inits
    sources["embeddings"] = {"snapshot": used, "inits": r.inits, "dim": dim}
    p.notes.append(f"embeddings: after epoch {used}, {r.inits} init(s) × {dim} dims")
    return emb


def model_inputs(r, needs, targets: np.ndarray, snapshot: int | None = None) -> dict[str, Any]:
    """What a sampler reads of the recorded model at ``snapshot`` (None: the last), as :func:`pipeline.select.core.choose`
    takes it: ``emb`` (sample, init·dim), ``grads`` (the last-layer gradients of the samples labelled ``targets``),
    ``val_grads`` and ``val_targets`` (of the validation split); only the keys ``needs`` asks for."""
    from pipeline.select.lastlayer import LastLayer

    out: dict[str, Any] = {}
    if "embeddings" in needs:
        out["emb"] = r.embedding_features(snapshot)
    if "gradients" in needs or "val_gradients" in needs:
        weight, bias = r.heads(snapshot)
        if "gradients" in needs:
            out["grads"] = LastLayer.from_head(r.embeddings(snapshot), weight, bias, targets)
        if "val_gradients" in needs:
            hv, out["val_targets"] = r.val_embeddings(snapshot)
            out["val_grads"] = LastLayer.from_head(hv, weight, bias, out["val_targets"])
    return out


def _read_gradients(p: Prepared, sources: dict[str, Any], needs: tuple[str, ...]):
    """Last-layer gradients of the candidates (and of the validation split), from the recorded embeddings and
    the classifier head of the same snapshot: (grads, val_grads, val_targets), None where not needed."""
    if "gradients" not in needs and "val_gradients" not in needs:
        return None, None, None
    r, snap = p.r, p.spec.snapshot
    got = model_inputs(r, needs, p.targets, snap)
    used = snap if snap is not None else r.snapshot_epochs[-1]
    dim = r.heads(snap)[0].shape[2]
    sources["gradients"] = {"snapshot": used, "inits": r.inits, "dim": int(dim)}
    val = got.get("val_grads")
    p.notes.append(f"last-layer gradients: after epoch {used}, {r.inits} init(s), {r.num_classes} classes × "
                   f"{int(dim) + 1} weights" + (f"; validation: {val.n} samples" if val is not None else ""))
    return got.get("grads"), val, got.get("val_targets")


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
