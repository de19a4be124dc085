"""``prune rounds``: DRoP's two strategies over several rounds, each round resumable.

``acquire`` (active learning, DRoP's ``--strategy 0``): start from a seeded
random ``start_frac`` of the training set (the labelled set); each round
records a query model on the labelled set with its pool predicted
(``record --manifest M --pool``), scores the pool with a label-free score,
and adds the sampler's choice of the pool to the labelled set.

``prune`` (iterative data pruning, ``--strategy 1`` with ``--iterations``):
each round records a query model on the current set, scores it, and keeps
a smaller set (a round only shrinks it).

Round sizes follow DRoP's schedules between ``start_frac`` and
``final_frac`` of the N training samples: ``linear`` f_k = s + (f − s)·k/K,
``exponential`` f_k = s·(f/s)^(k/K), each counted as round_half_up(f_k·N).
Then a final model trains on the last set.

On disk, ``RUN/rounds/<name>/``: ``rounds.json`` (the arguments; a rerun
must give the same ones), ``round=0/keep.parquet`` (the starting set,
unless it is the full data), ``round=K/{query/, scores.parquet,
keep.parquet, done.json}`` (``done.json`` is written last: the completion
marker), ``final/`` (a ``prune train`` result) and ``results.parquet``.
Rerunning the same command skips every finished round and redoes an
unfinished one from its start.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.cliutil import option_value
from pipeline.counts import round_half_up
from pipeline.io import PruneError, layout, read_json, write_json
from pipeline.io.errors import Interrupted

STRATEGIES = ("acquire", "prune")
SCHEDULES = ("linear", "exponential")
#: each round's query models get seeds ``seed + ROUND_SEED·k + init``: rounds never share an initialisation
ROUND_SEED = 1000
MC_METHODS = ("bald", "variation-ratio")  # scores that sample MC dropout at record time
DEFAULTS = {"acquire": ("entropy", "topk"), "prune": ("tdds", "ccs")}  # (score, sampler) when not given

RESULTS_COLUMNS = ("round", "model", "n_train", "fraction", "accuracy", "worst_class_accuracy",
                   "balanced_accuracy", "seconds")


def fractions(start: float, final: float, iterations: int, schedule: str) -> list[float]:
    """f_0 = start … f_K = final under DRoP's ``linear`` or ``exponential`` schedule."""
    K = iterations
    if schedule == "linear":
        return [start + (final - start) * k / K for k in range(K)] + [final]
    return [start * (final / start) ** (k / K) for k in range(K)] + [final]


def schedule_counts(n: int, start: float, final: float, iterations: int, schedule: str) -> list[int]:
    """Samples in the set after each round (index 0: the start), counted with the one rate rule's rounding."""
    return [round_half_up(f, n) for f in fractions(start, final, iterations, schedule)]


def check(*, strategy: str, iterations: int, start_frac: float | None, final_frac: float, schedule: str,
          method: str, mc_samples: int, dropout: float | None) -> float:
    """Every argument that needs no data, each with one line; returns the start fraction."""
    if strategy not in STRATEGIES:
        raise PruneError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if schedule not in SCHEDULES:
        raise PruneError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if iterations < 1:
        raise PruneError(f"--iterations must be at least 1, got {iterations}")
    start = (0.1 if strategy == "acquire" else 1.0) if start_frac is None else start_frac
    for flag, v in (("--start-frac", start), ("--final-frac", final_frac)):
        if not (isinstance(v, (int, float)) and 0.0 < v <= 1.0):
            raise PruneError(f"{flag} is a fraction of the training set in (0, 1], got {v}")
    if strategy == "acquire" and not final_frac > start:
        raise PruneError(f"--strategy acquire grows the labelled set: --final-frac ({final_frac}) must be larger "
                         f"than --start-frac ({start})")
    if strategy == "prune" and not final_frac < start:
        raise PruneError(f"--strategy prune shrinks the set: --final-frac ({final_frac}) must be smaller than "
                         f"--start-frac ({start})")
    if strategy == "acquire" and start >= 1.0:
        raise PruneError("--strategy acquire needs an unlabelled pool: --start-frac must be below 1")
    if method in MC_METHODS and (mc_samples < 1 or not (dropout or 0) > 0):
        raise PruneError(f"--method {method} samples MC dropout: give --mc-samples K (e.g. 10) and --dropout P "
                         "(e.g. 0.3)")
    return float(start)


def parse_options(items: list[str] | None, flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (numbers as numbers, true/false as booleans) for the score's or the sampler's options."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not eq or not key:
            raise PruneError(f"{flag} takes KEY=VALUE (e.g. {flag} window=5), got {item!r}")
        out[key] = option_value(value)
    return out


def _quality(run) -> dict[str, float]:
    """The query model's test figures after its last epoch, mean over inits (from its eval.parquet)."""
    import polars as pl

    ev = run.eval_table().filter((pl.col("split") == "test") & (pl.col("epoch") == run.epochs - 1))
    per_init = ev.group_by("init").agg(
        worst=pl.col("recall").min(), balanced=pl.col("recall").mean(),
        accuracy=(pl.col("recall") * pl.col("n")).sum() / pl.col("n").sum())
    return {"accuracy": float(per_init["accuracy"].mean()), "worst_class_accuracy": float(per_init["worst"].mean()),
            "balanced_accuracy": float(per_init["balanced"].mean())}


def rounds(*, run: Path, name: str, strategy: str, iterations: int, start_frac: float | None, final_frac: float,
           schedule: str = "linear", method: str | None = None, sampler: str | None = None, quota: str = "none",
           data: str = "mnist1d", data_dir: str | None = None, model: str | None = None, epochs: int | None = None,
           inits: int = 1, seed: int = 0, batch_size: int | None = None, lr: float | None = None,
           final_epochs: int | None = None, budget: str = "epochs", cdbw: bool = False, mc_samples: int = 0,
           dropout: float | None = None, score_options: dict[str, Any] | None = None,
           select_options: dict[str, Any] | None = None, device: str = "auto", force: bool = False,
           log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run (or resume) the rounds; returns the results table's rows (also written to results.parquet)."""
    from pipeline.api.functions import pool_scores, sampler_entry

    method = method or DEFAULTS.get(strategy, ("", ""))[0]
    sampler = sampler or DEFAULTS.get(strategy, ("", ""))[1]
    start = check(strategy=strategy, iterations=iterations, start_frac=start_frac, final_frac=final_frac,
                  schedule=schedule, method=method, mc_samples=mc_samples, dropout=dropout)
    if strategy == "acquire" and method not in pool_scores():
        raise PruneError(f"--method {method} needs the labels of the samples it scores, which the pool has not got; "
                         f"acquisition scores: {', '.join(pool_scores())}")
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise PruneError(f"--name {name!r} must be a plain folder name (it goes under {Path(run) / layout.ROUNDS})")
    # the sampler's own reading of the score where the user set none (CCS: AUM in probability space)
    score_options, select_options = sampler_entry(sampler).score_params(method, score_options), dict(select_options or {})

    from pipeline.engine.setup import load_data
    from pipeline.io import fingerprint

    bundle = load_data(data, data_dir, False)
    y = bundle.train.y
    N, C = len(y), len(bundle.classes)
    fp = fingerprint(bundle.name, "train", y, bundle.identity)
    counts = schedule_counts(N, start, final_frac, iterations, schedule)
    for k in range(1, len(counts)):
        if counts[k] == counts[k - 1]:
            verb = "acquires" if strategy == "acquire" else "removes"
            raise PruneError(f"the {schedule} schedule {verb} 0 samples in round {k} ({counts[k - 1]} → {counts[k]} of "
                             f"{N}): use fewer --iterations or fractions further apart")
    if counts[0] < 1 or counts[-1] < 1:
        raise PruneError(f"--start-frac {start} and --final-frac {final_frac} of {N} samples must keep at least one")
    if strategy == "acquire" and counts[-1] >= N:
        raise PruneError(f"--final-frac {final_frac} labels every sample: nothing would be left to acquire from")

    spec = {"strategy": strategy, "iterations": iterations, "start_frac": start, "final_frac": final_frac,
            "schedule": schedule, "method": method, "sampler": sampler, "quota": quota, "data": data,
            "data_dir": data_dir, "model": model, "epochs": epochs, "inits": inits, "seed": seed,
            "batch_size": batch_size, "lr": lr, "final_epochs": final_epochs, "budget": budget, "cdbw": cdbw,
            "mc_samples": mc_samples, "dropout": dropout, "score_options": score_options,
            "select_options": select_options, "fingerprint": fp, "counts": counts}
    folder = layout.rounds_dir(run, name)
    _claim(folder, spec, force)

    rows: list[dict[str, Any]] = []
    try:
        manifest = _start(folder, strategy, counts[0], N, y, fp, seed, log)
        for k in range(1, iterations + 1):
            manifest, row = _round(folder, k, spec, manifest, counts, N, y, fp, device, log)
            rows.append(row)
        rows.append(_final(folder, spec, manifest, counts[-1], N, device, log))
    except KeyboardInterrupt as err:
        raise Interrupted.of(err).with_kept(folder, "rerun the same command to resume at the first unfinished "
                                                    "round (finished rounds are not redone)") from None
    _write_results(folder, rows)
    return rows


def _claim(folder: Path, spec: dict[str, Any], force: bool) -> None:
    """Start ``folder`` or check that it was made by the same arguments (then it is resumed)."""
    spec_path = folder / layout.ROUNDS_SPEC
    if folder.exists() and not folder.is_dir():
        raise PruneError(f"{folder} is a file, not a rounds folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not spec_path.exists():
            raise PruneError(f"{folder} exists and is not a rounds folder (no {layout.ROUNDS_SPEC}); it is left "
                             "alone: choose another --name")
        if force:
            shutil.rmtree(folder)
        else:
            old = read_json(spec_path)
            if not isinstance(old, dict):
                raise PruneError(f"{spec_path} is damaged; start again with --force or another --name")
            differ = [k for k in sorted(set(old) | set(spec)) if old.get(k) != _plain(spec.get(k))]
            if differ:
                raise PruneError(f"{folder} was made with other arguments (they differ in: {', '.join(differ)}); "
                                 "rerun it with the same ones to resume, use another --name, or --force to start again")
            return
    folder.mkdir(parents=True, exist_ok=True)
    write_json(spec_path, spec)


def _plain(v: Any) -> Any:
    """A value as it reads back from JSON (tuples become lists)."""
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _start(folder: Path, strategy: str, n0: int, N: int, y: np.ndarray, fp: str, seed: int, log) -> Path | None:
    """round=0/keep.parquet: a seeded random n0 of the N samples (None: the start is the full data)."""
    from pipeline.io import write_manifest

    if n0 >= N:
        return None
    path = layout.round_dir(folder, 0) / "keep.parquet"
    if path.exists():
        return path
    ids = np.sort(np.random.default_rng(seed).choice(N, size=n0, replace=False)).astype(np.int64)
    meta = {"method": "random", "parameters": {}, "rate": (N - n0) / N, "n_total": N, "n_kept": n0, "seed": seed,
            "quota": "none", "fingerprint": fp, "round": 0,
            "what": "labelled start" if strategy == "acquire" else "starting subset"}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(path, ids, y[ids], meta)
    log(f"round 0: a random {n0} of {N} samples to start from ({path})")
    return path


def _round(folder: Path, k: int, spec: dict[str, Any], manifest: Path | None, counts: list[int], N: int,
           y: np.ndarray, fp: str, device: str, log) -> tuple[Path, dict[str, Any]]:
    """Round k: record a query model on the current set, score, select; skipped when its done.json exists."""
    from pipeline.api.functions import record, score, select
    from pipeline.io import read_manifest, write_manifest

    rd = layout.round_dir(folder, k)
    done = rd / layout.ROUND_DONE
    keep = rd / "keep.parquet"
    if done.exists():
        row = read_json(done)
        log(f"round {k}: finished before ({row['n_train']} → {counts[k]} samples), not redone")
        return keep, row
    if rd.exists():
        shutil.rmtree(rd)  # an interrupted round starts again from its beginning
    rd.mkdir(parents=True)
    acquire = spec["strategy"] == "acquire"
    n_now, n_next = counts[k - 1], counts[k]
    K = spec["iterations"]
    log(f"round {k}/{K}: query model on {n_now} of {N} samples" + (f", pool of {N - n_now}" if acquire else ""))
    method = spec["method"]
    seed = spec["seed"] + ROUND_SEED * k
    q = record(rd / "query", data=spec["data"], data_dir=spec["data_dir"], model=spec["model"], epochs=spec["epochs"],
               inits=spec["inits"], seed=seed, batch_size=spec["batch_size"], lr=spec["lr"], device=device,
               manifest=manifest, pool=acquire, mc_samples=spec["mc_samples"] if acquire else 0,
               dropout=spec["dropout"], embeddings="final" if method == "kcenter" else "",
               checkpoints="0,10%,final", log=lambda line: log("  " + line))
    quality = _quality(q)
    options = dict(spec["score_options"])
    if method == "kcenter" and "picks" not in options:
        options["picks"] = n_next - n_now  # rank exactly the greedy batch this round acquires
    s = score(q, method, pool=acquire, out=rd / "scores.parquet", **options)
    if acquire:
        sel = select(s, n_keep=n_next - n_now, method=spec["sampler"], quota=spec["quota"], seed=seed,
                     **spec["select_options"])
        labelled = read_manifest(manifest).ids
        if np.intersect1d(labelled, sel.ids, assume_unique=True).size:  # pragma: no cover - the pool excludes them
            raise PruneError(f"round {k} acquired samples that were already labelled: a bug, please report it")
        ids = np.union1d(labelled, sel.ids)
    else:
        sel = select(s, n_keep=n_next, method=spec["sampler"], quota=spec["quota"], seed=seed,
                     **spec["select_options"])
        ids = np.sort(sel.ids)
        if manifest is not None and not np.isin(ids, read_manifest(manifest).ids, assume_unique=True).all():
            raise PruneError(f"round {k} kept samples outside the current set: a bug, please report it")  # pragma: no cover
    if len(ids) != n_next:  # pragma: no cover - select keeps exactly its count
        raise PruneError(f"round {k} ends with {len(ids)} samples, the schedule says {n_next}")
    meta = {**sel.meta, "fingerprint": fp, "round": k, "strategy": spec["strategy"], "n_total": N, "n_kept": n_next,
            "rate": (N - n_next) / N, "source_run": str(q.path),
            "class_counts_kept": {str(c): int(v) for c, v in zip(q.classes, np.bincount(y[ids], minlength=q.num_classes))}}
    write_manifest(keep, ids, y[ids], meta)
    row = {"round": k - 1, "model": "query", "n_train": n_now, "fraction": n_now / N, **quality,
           "seconds": float(read_json(layout.run_log(q.path)).get("seconds", float("nan")))}
    log(f"round {k}/{K}: query test accuracy {quality['accuracy']:.4f} (worst class "
        f"{quality['worst_class_accuracy']:.4f}); {'acquired' if acquire else 'kept'} "
        f"{n_next - n_now if acquire else n_next} → {n_next} samples ({n_next / N:.1%})")
    write_json(done, row)  # the completion marker, last
    return keep, row


def _final(folder: Path, spec: dict[str, Any], manifest: Path, n_final: int, N: int, device: str, log) -> dict[str, Any]:
    """The final model on the last set (``final/``, a ``prune train`` result); reused when it finished before."""
    from pipeline.api.functions import train

    out = folder / "final"
    metrics_path = out / layout.METRICS_JSON
    if metrics_path.exists():
        m = read_json(metrics_path)
        log(f"final model: finished before, not redone ({out})")
    else:
        last_query = layout.round_dir(folder, spec["iterations"]) / "query"
        log(f"final model on {n_final} of {N} samples")
        m = train(manifest, run=last_query, epochs=spec["final_epochs"], seed=spec["seed"], device=device, out=out,
                  budget=spec["budget"], cdbw=spec["cdbw"], force=True, log=lambda line: log("  " + line))
    return {"round": spec["iterations"], "model": "final", "n_train": n_final, "fraction": n_final / N,
            "accuracy": float(m["accuracy"]), "worst_class_accuracy": float(m["worst_class_accuracy"]),
            "balanced_accuracy": float(m["balanced_accuracy"]), "seconds": float(m.get("seconds", float("nan")))}


def _write_results(folder: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    from pipeline.io.tables import write_table

    schema = pa.schema([("round", pa.int64()), ("model", pa.string()), ("n_train", pa.int64()),
                        ("fraction", pa.float64()), ("accuracy", pa.float64()), ("worst_class_accuracy", pa.float64()),
                        ("balanced_accuracy", pa.float64()), ("seconds", pa.float64())])
    write_table(folder / layout.ROUNDS_RESULTS, {c: [r[c] for r in rows] for c in RESULTS_COLUMNS}, schema,
                metadata={"artifact": "rounds", "spec": read_json(folder / layout.ROUNDS_SPEC)})


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    """The rounds' figures: labelled (or kept) fraction, test accuracy and worst-class accuracy per round."""
    import sys

    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for col in ("round", "model", "samples", "fraction", "test accuracy", "worst-class acc", "balanced acc"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        t.add_row(str(r["round"]), r["model"], str(r["n_train"]), f"{r['fraction']:.4f}", f"{r['accuracy']:.4f}",
                  f"{r['worst_class_accuracy']:.4f}", f"{r['balanced_accuracy']:.4f}")
    Console(width=None if sys.stdout.isatty() else 140).print(t)
