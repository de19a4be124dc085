"""Scores and selections as functions: the code paths of ``prune score`` and ``prune select``, returning values."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.io import PruneError, Run, Scores


def score(run: str | os.PathLike | Run, method: str, *, out: str | os.PathLike | bool | None = None,
          pool: bool = False, prefix: int | None = None, **params: Any) -> Scores:
    """Per-sample scores of a recorded run with one method (``prune score --method``), as a :class:`Scores`.

    ``.score`` is in sample order (``.sample`` = 0..N-1), ``.meta`` holds the
    method, its full parameters, ``higher_is_harder`` and the run's
    fingerprint, exactly as a written table's metadata. Parameters are the
    method's options (``window=10, decay=0.9`` for TDDS; ``prune score --list``
    shows them all). ``out=True`` also writes RUN/scores/<method>.parquet,
    ``out=PATH`` writes there; by default nothing is written.

    ``.sample`` holds the data set's ids: for a run recorded on a manifest's
    subset, the trained samples' ids. ``pool=True`` scores the run's pool
    instead (``prune record --manifest M --pool``; label-free methods only),
    written to RUN/scores/pool-<method>.parquet with ``out=True``. ``prefix=K`` scores
    from the run's first K epochs only, as if its recording had stopped there
    (an early, cheaper query; RUN/scores/<method>-first<K>.parquet with ``out=True``).
    """
    from pipeline.score.run import _write, compute, table

    r, m, full, values, seconds = compute(run=run, method=method, params=params, pool=pool, prefix=prefix)
    t = table(r, m, full, values, pool)
    if out is not None and out is not False:
        t.path = _write(r, m, full, values, seconds, None if out is True else Path(out), pool=pool).path
    return t


def register_score(name: str, fn=None, **metadata: Any):
    """Add your own score: ``register_score("mine", fn, higher_is_harder=True)`` or as a decorator.

    ``fn(run, **params)`` gets an open :class:`pipeline.io.Run` (its
    ``iter_logits()``, ``dynamics()``, ``targets``, ...) and returns one float
    per sample in sample order. Then ``score(run, "mine")`` and, in the same
    process, ``prune score --method mine`` use it; from the shell use
    ``--method package.module:function`` or a ``prune.scores`` entry point.
    """
    from pipeline.score.registry import register_score as register

    return register(name, fn, **metadata)


def model_inputs(run, needs, targets, snapshot: int | None = None) -> dict[str, Any]:
    """What samplers read of a recorded model (embeddings, last-layer gradients), as ``select(...)`` takes them:
    :func:`pipeline.select.run.model_inputs` on an open run."""
    from pipeline.select.run import model_inputs as read

    return read(run, needs, targets, snapshot)


@dataclass
class Selection:
    """Kept sample ids (sorted, unique) and what a manifest records of them."""

    ids: np.ndarray
    targets: np.ndarray
    meta: dict[str, Any]
    path: Path | None = None
    weights: np.ndarray | None = None  # a weighted sampler's loss weight per kept id (craig, gradmatch)

    @property
    def sample(self) -> np.ndarray:
        """The kept ids (as a manifest's ``sample`` column)."""
        return self.ids

    @property
    def fingerprint(self) -> str | None:
        return self.meta.get("fingerprint")

    def __len__(self) -> int:
        return len(self.ids)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the manifest (``keep.parquet``) that ``prune train --manifest`` and :func:`read_manifest` read."""
        from pipeline.io import write_manifest

        write_manifest(path, self.ids, self.targets, self.meta, weight=self.weights)
        self.path = Path(path)
        return self.path


def select(scores=None, rate: float | None = None, *, method: str = "topk", quota: str = "none", targets=None,
           higher_is_harder: bool | None = None, n_keep: int | None = None, seed: int = 0, keep: str | None = None,
           beta: float | None = None, strata: int | None = None, k: int | None = None, gamma: float | None = None,
           embeddings=None, grads=None, val_grads=None, val_targets=None, recalls=None, like=None, classes=None,
           p_true_mean=None, out: str | os.PathLike | None = None,
           beta_grid=None, tune_epochs: int | None = None, device: str = "auto", **options: Any) -> Selection:
    """Which samples to keep (``prune select`` on values in memory): exactly N − round(rate·N) ids.

    ``scores`` is what :func:`score` returns, a score table's path, a plain
    array of one score per sample (then ``higher_is_harder`` defaults to True
    and ``targets`` must be given for class quotas), or None for samplers that
    need no scores (random, kcenter). ``method`` and ``quota`` are any
    registered sampler and quota; ``embeddings`` (N, dim) feed d2/kcenter/herding,
    ``grads`` and ``val_grads`` (:class:`pipeline.select.lastlayer.LastLayer`, with
    ``val_targets``) the gradient-based samplers (craig, gradmatch, glister, …),
    ``recalls`` (one per class, or ``"final"``/``"best"``/``"mean"``: the score's run's validation recalls
    taken that way) the DRoP quota, ``like`` (a manifest, its path
    or kept counts per class) strategyq, ``p_true_mean`` (each sample's mean
    label probability over the scored epochs; read from the table's run when
    ``scores`` is a table) dualbeta. ``out`` writes the manifest too.

    ``beta="auto"`` (scores from a recorded run: a table's path or what
    :func:`score` returns) chooses CCS's β by validation accuracy, training one
    model per value of ``beta_grid`` (``prune select --beta auto``).
    """
    from pipeline.io import read_manifest, read_scores
    from pipeline.select.core import choose
    from pipeline.select.run import describe

    if isinstance(beta, str):
        return _select_auto(scores, rate, method=method, quota=quota, n_keep=n_keep, seed=seed, keep=keep, beta=beta,
                            strata=strata, k=k, gamma=gamma, recalls=recalls, like=like, out=out,
                            beta_grid=beta_grid, tune_epochs=tune_epochs, device=device,
                            unused=[name for name, v in (("targets", targets), ("higher_is_harder", higher_is_harder),
                                                         ("embeddings", embeddings), ("classes", classes))
                                    if v is not None] + list(options))
    if beta_grid is not None or tune_epochs is not None:
        raise PruneError("beta_grid= and tune_epochs= go with beta='auto'")

    meta_extra: dict[str, Any] = {}
    values = None
    if isinstance(scores, (str, os.PathLike)):
        scores = read_scores(scores)
    ids = None  # the candidates' sample ids when they are not 0..N-1 (a subset run's rows, a pool)
    if isinstance(scores, Scores):
        values, ids, targets, higher_is_harder, recalls, meta_extra = _from_table(scores, quota, targets,
                                                                                  higher_is_harder, recalls)
        if p_true_mean is None:
            p_true_mean = _p_true_mean_from_table(scores, method)
    elif scores is not None:
        try:
            values = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError):
            raise PruneError("scores must be a score table (what score() returns, or its path) or numbers, one per "
                             f"sample; got {type(scores).__name__} that holds something else") from None
    if targets is None:
        if values is None:
            raise PruneError("give targets= (one label per sample), or scores that carry them")
        targets = np.zeros(len(values), dtype=np.int64)  # one class: only global selection needs no labels
        if quota != "none":
            raise PruneError(f"quota {quota!r} needs the class of every sample: pass targets=")
    if higher_is_harder is None:
        higher_is_harder = True  # plain arrays: higher is harder unless said otherwise
    like_counts = None
    if like is not None:
        ref = read_manifest(like) if isinstance(like, (str, os.PathLike)) else like
        y = np.asarray(targets)
        if ids is not None and hasattr(ref, "sample"):
            raise PruneError("like= with scores of a subset or a pool: pass the kept counts per class instead")
        like_counts = np.bincount(y[ref.sample], minlength=int(y.max()) + 1) if hasattr(ref, "sample") else ref
    kept, parameters, detail, weights = choose(
        targets=targets, values=values, higher_is_harder=higher_is_harder, classes=classes, n_keep=n_keep,
        rate=rate, method=method, quota=quota, keep=keep, beta=beta, strata=strata, k=k, gamma=gamma,
        emb=embeddings, grads=grads, val_grads=val_grads, val_targets=val_targets, recalls=recalls,
        like_counts=like_counts, p_true_mean=p_true_mean, seed=seed, options=options or None)
    y = np.asarray(targets, dtype=np.int64)
    names = [str(c) for c in range(int(y.max()) + 1)] if classes is None else [str(c) for c in classes]
    meta = {**describe(method=method, quota=quota, rate=rate, kept=kept, targets=y, classes=names,
                       parameters=parameters, detail=detail, seed=seed), **meta_extra}
    if ids is not None:
        meta["candidates"] = scores.meta.get("scored", "subset")
    if "query" not in meta:
        # the recording a selection paid for (docs/cost.md): none when it reads nothing but the labels; unknown
        # (None) for arrays given here, whose provenance only the caller knows
        from pipeline.select.catalog import get_quota, get_sampler

        reads = {*get_sampler(method).needs, *get_quota(quota).needs} - {"like"}
        meta["query"] = None if reads else {"run": None, "sample_passes": 0}
    sel = Selection(ids=kept if ids is None else ids[kept], targets=y[kept], meta=meta, weights=weights)
    if out is not None:
        sel.write(out)
    return sel


def _from_table(scores: Scores, quota: str, targets, higher_is_harder, recalls):
    """What a score table gives a selection: its values, its ids (None: 0..N-1), labels and hard end where not
    given, DRoP's recalls from the run it came from, and what the manifest records of it."""
    ids = None
    if len(scores.sample) and not np.array_equal(scores.sample, np.arange(len(scores.sample))):
        ids = np.asarray(scores.sample, dtype=np.int64)
    if targets is None:
        targets = scores.target
    if higher_is_harder is None:
        higher_is_harder = scores.higher_is_harder
        if higher_is_harder is None:
            raise PruneError(f"{scores.path or 'the score table'} does not say which end of its scores is hard: "
                             "pass higher_is_harder=True/False, or add the metadata key higher_is_harder")
    source = scores.meta.get("source_run")
    if (recalls is None or isinstance(recalls, str)) and source and (Path(source) / "run.json").exists():
        from pipeline.select.catalog import get_quota

        if "recalls" in get_quota(quota).needs:  # DRoP: the recalls of the run the scores came from
            from pipeline.io import open_run
            from pipeline.io.run import DEFAULT_RECALLS

            recalls = open_run(source).val_recalls(DEFAULT_RECALLS if recalls is None else recalls)
    sha = None
    if scores.path is not None:
        from pipeline.io import file_sha256

        sha = file_sha256(scores.path)
    meta = {"scores": {"path": None if scores.path is None else str(scores.path), "sha256": sha,
                       "method": scores.meta.get("method"), "parameters": scores.meta.get("parameters", {}),
                       "higher_is_harder": higher_is_harder},
            "fingerprint": scores.fingerprint, "source_run": source, "query": scores.meta.get("query")}
    return scores.score, ids, targets, higher_is_harder, recalls, meta


def _p_true_mean_from_table(scores: Scores, method: str):
    """DUAL's Beta sampler reads each sample's mean label probability over the epochs the table was scored from:
    from the run the table came from (as ``prune select`` reads it), None where it needs none or there is none."""
    from pipeline.select.catalog import get_sampler

    source = scores.meta.get("source_run")
    if ("p_true_mean" not in get_sampler(method).needs or scores.meta.get("scored") == "pool" or not source
            or not (Path(source) / "run.json").exists()):
        return None
    from pipeline.io import open_run
    from pipeline.select.run import p_true_mean_of

    return p_true_mean_of(open_run(source), scores.meta)[0]


def _select_auto(scores, rate, *, method, quota, n_keep, seed, keep, beta, strata, k, gamma, recalls, like, out,
                 beta_grid, tune_epochs, device, unused) -> Selection:
    """``select(..., beta="auto")``: the file-based selection of ``prune select --beta auto`` (it trains on the run)."""
    import tempfile

    from pipeline.api.tune import select_words
    from pipeline.io import read_manifest, read_scores

    if unused:
        raise PruneError(f"beta='auto' selects from a score table and its run; {', '.join(unused)} do not apply")
    if isinstance(scores, (str, os.PathLike)):
        scores = read_scores(scores)
    if not isinstance(scores, Scores) or scores.path is None or not scores.meta.get("source_run"):
        raise PruneError("beta='auto' trains on the run the scores came from: pass a score table written by "
                         "prune score (its path, or what score(..., out=True) returns)")
    if isinstance(like, Selection):
        like = like.path
    with tempfile.TemporaryDirectory(prefix="prune-select-") as tmp:
        path = Path(out) if out is not None else Path(tmp) / "keep.parquet"
        select_words(run=Path(scores.meta["source_run"]), method=method, rate=rate, count=n_keep,
                     scores=str(scores.path), out=path, keep=keep or "hard", quota=quota, beta=beta, strata=strata,
                     seed=seed, k=k, gamma=gamma, recalls=recalls, like=like, log=_quiet, beta_grid=beta_grid,
                     tune_epochs=tune_epochs, device=device)
        m = read_manifest(path)
    return Selection(ids=m.ids, targets=m.target, meta=m.meta, path=None if out is None else Path(out))


def sampler_entry(name: str):
    """The registered sampler ``name`` (a :class:`pipeline.Sampler`: what it reads, ``.needs``, and its
    ``.options``); one line naming the known ones for an unknown name."""
    from pipeline.select.catalog import get_sampler

    return get_sampler(name)


def quota_entry(name: str):
    """The registered class quota ``name`` (``.needs``: e.g. ``recalls`` for DRoP's); one line for an unknown name."""
    from pipeline.select.catalog import get_quota

    return get_quota(name)


def dynamic_entry(name: str):
    """The dynamic pruning rule ``name`` (``prune train --dynamic``: built-in, registered, installed, or
    SCORE+SAMPLER); one line naming the known ones for an unknown name."""
    from pipeline.train.dynamic import get_dynamic

    return get_dynamic(name)


def register_sampler(entry, *, replace: bool = False):
    """Add your own sampler: a :class:`pipeline.Sampler` entry (``fn(pool, n_keep, rng, **params)`` → positions).

    See docs/api.md for the contract; bad entries are one-line errors.
    """
    from pipeline.select.catalog import register_sampler as register

    try:
        return register(entry, replace=replace)
    except (TypeError, ValueError) as err:
        raise PruneError(str(err)) from None


def register_quota(entry, *, replace: bool = False):
    """Add your own class quota: a :class:`pipeline.Quota` entry (``fn(inputs, n_keep, **params)`` → budgets)."""
    from pipeline.select.catalog import register_quota as register

    try:
        return register(entry, replace=replace)
    except (TypeError, ValueError) as err:
        raise PruneError(str(err)) from None


def record(run: str | os.PathLike = "runs/default", *, data: str = "mnist1d", data_dir: str | None = None,
           download: bool = False, model: str | None = None, epochs: int | None = None, inits: int = 1, seed: int = 0,
           batch_size: int | None = None, lr: float | None = None, device: str = "auto", eval_pass: bool = False,
           checkpoints: str = "0,10%,final", embeddings: str = "", label_noise: float = 0.0,
           logits_dtype: str = "float16", force: bool = False, log=None, manifest: str | os.PathLike | None = None,
           pool: bool = False, mc_samples: int = 0, dropout: float | None = None, resume: bool = False,
           imbalance: float = 1.0, imbalance_seed: int | None = None):
    """``prune record``: train the query model on the full data (or ``manifest``'s subset) and write a run
    folder; returns the open run.

    The options are the command's (``prune record --help``); ``log`` receives
    its progress lines (default: silent).
    """
    from pipeline.io import open_run
    from pipeline.record.run import record as stage

    path = stage(run=Path(run), data=data, data_dir=data_dir, download=download, model=model, epochs=epochs,
                 inits=inits, seed=seed, batch_size=batch_size, lr=lr, device=device, eval_pass=eval_pass,
                 checkpoints=checkpoints, logits_dtype=logits_dtype, force=force, log=log or _quiet,
                 embeddings=embeddings, label_noise=label_noise, manifest=manifest, pool=pool, mc_samples=mc_samples,
                 dropout=dropout, resume=resume, imbalance=imbalance, imbalance_seed=imbalance_seed)
    return open_run(path)


def pool_scores() -> list[str]:
    """The score methods that can rank a pool (label-free): what ``prune score --pool`` accepts."""
    from pipeline.score.run import label_free

    return label_free()


def train(manifest: str | os.PathLike | None = None, *, run: str | os.PathLike = "runs/default",
          data: str | None = None, data_dir: str | None = None, model: str | None = None, epochs: int | None = None,
          batch_size: int | None = None, lr: float | None = None, seed: int = 0, seeds: list[int] | None = None,
          device: str = "auto", name: str | None = None, out: str | os.PathLike | None = None,
          budget: str = "epochs", cdbw: bool = False, dynamic: str | None = None, rate: float | None = None,
          force: bool = False, log=None, **dynamic_options: Any) -> dict[str, Any]:
    """``prune train``: train a fresh model on a manifest's samples (or full data, or ``dynamic`` pruning).

    Returns metrics.json's contents (with ``seeds``: summary.json's), plus
    ``out``, the result folder. ``dynamic_options``: the rule's own options
    (rcap: beta, clip; rs2: with_replacement, stratify; SCORE+SAMPLER:
    every, warmup, history, and the score's and sampler's), each checked by
    the option the rule declares.
    """
    from pipeline.train.run import train as stage

    # every option goes to the rule as given: its Option checks the value (stratify="false" is refused, not truthy)
    return stage(manifest=None if manifest is None else Path(manifest), run=Path(run), data=data, data_dir=data_dir,
                 model=model, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device, name=name,
                 out=None if out is None else Path(out), log=log or _quiet, budget=budget, cdbw=cdbw, dynamic=dynamic,
                 rate=rate, seeds=seeds, dynamic_options=dynamic_options or None, force=force)


def _quiet(_msg: str) -> None:
    pass
