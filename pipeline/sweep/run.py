"""``prune sweep``: a grid of selections × seeds from one recorded run, each trained and evaluated (docs/design.md §11).

Layout::

    RUN/sweeps/<name>/
      sweep.json                   the grid, the run's fingerprint, the training epochs
      cells/<cell-id>/seed=S/
        keep.parquet               the cell's manifest for seed S (none for the full-data cell)
        train/                     the `prune train` result (metrics.json, history.parquet)
        done.json                  completion marker: the cell's row of results.parquet
      results.parquet              one row per cell and seed: parameters and every metric

The stage calls the public API only (``score``, ``select``, ``train``), never
another stage. Selections are cheap and made in this process before any
training, so every bad name or option fails before minutes of work; the
trainings then run one per process (``--jobs``). A (cell, seed) with its
``done.json`` is never trained again, so a killed sweep rerun picks up where
it stopped.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from pipeline.io import PruneError, open_run, read_json, read_manifest, write_json
from pipeline.io.layout import SWEEP_CELLS as CELLS, SWEEP_DONE as DONE, SWEEP_JSON, SWEEP_RESULTS as RESULTS, sweep_dir
from pipeline.io.tables import summarise_sweep, write_sweep_results
from pipeline.sweep.grid import Cell, Spec

MANIFEST = "keep.parquet"
TRAIN = "train"

#: The metric columns of results.parquet, each read from a prune train metrics.json.
METRICS = ("accuracy", "val_accuracy", "balanced_accuracy", "worst_class_accuracy", "val_worst_class_accuracy",
           "n_kept", "n_total", "sample_passes", "query_passes", "cost", "steps", "epochs", "seconds")


def unit_dir(folder: Path, cell: Cell, seed: int) -> Path:
    return folder / CELLS / cell.id / f"seed={seed}"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        return os.cpu_count() or 1


def default_threads(jobs: int) -> int:
    """torch threads per training: the cores shared by the jobs, so N jobs never oversubscribe them."""
    return max(1, cores() // jobs)


# -------------------------------------------------------------------------- what a sampler reads

class Reads(NamedTuple):
    """What a sampler reads: scores, β, γ, embeddings, and the options it reads a score with (CCS: AUM in probability space)."""

    scores: bool
    beta: bool
    gamma: bool
    model: tuple[str, ...]  # what it reads of the recorded model: embeddings, gradients, val_gradients
    score_options: Mapping[str, Mapping[str, Any]] = MappingProxyType({})


class Probe:
    """What samplers and quotas read, from their registry entries (``pipeline.api``); unknown names are errors.

    ``probe(method)`` → :class:`Reads`; ``probe.quota(name)`` → whether the quota reads class recalls.
    The grid multiplies β, γ and recalls only over the cells they change (:func:`pipeline.sweep.grid.expand`).
    """

    def __call__(self, method: str) -> Reads:
        """``method`` may carry options, ``mine:alpha=0.3`` (an axis of a sampler's own option); each is
        checked by the sampler's declaration of it."""
        from pipeline.api.functions import sampler_entry
        from pipeline.sweep.grid import parse_score

        if method == "full":
            raise PruneError("--methods: 'full' is not a sampler; the full-data reference is in every sweep "
                             "(--no-full leaves it out)")
        name, opts = parse_score(method)
        s = sampler_entry(name)
        declared = {o.name: o for o in s.options}
        for key, value in opts.items():
            if key not in declared:
                raise PruneError(f"--methods {method}: {name} has no option {key!r} "
                                 f"(it takes {', '.join(declared) or 'no options'})")
            declared[key].check(value, f"--methods {name}")
        # what it reads of the recorded model; the mean label probability (dualbeta) comes with its score table,
        # from the table's run (pipeline.api.functions.select)
        return Reads(scores=s.needs_scores, beta="beta" in s.accepts, gamma="gamma" in s.accepts,
                     model=tuple(n for n in s.needs if n not in ("scores", "p_true_mean")),
                     score_options=s.score_options)

    def quota(self, name: str) -> bool:
        """Whether quota ``name`` reads validation recalls (drop); an unknown name is an error."""
        from pipeline.api.functions import quota_entry

        return "recalls" in quota_entry(name).needs


#: The probe the CLI, the demo and the tests build grids with.
probe = Probe()


# -------------------------------------------------------------------------- preparing: folder, scores, selections

def grid_differences(old: dict[str, Any], spec: Spec) -> list[str]:
    """The axes in which ``spec`` differs from the grid a sweep.json records (empty: the same grid).

    An axis is a cell parameter (its set of values over the cells) or ``seeds``; grids with the same
    values per axis but other combinations differ in ``cells``.
    """
    old_cells = [c for c in old.get("cells", []) if isinstance(c, dict)]
    new_cells = [c.params() | {"id": c.id} for c in spec.cells]
    keys = sorted({k for c in old_cells + new_cells for k in c} - {"id"})
    differ = [k for k in keys
              if {json.dumps(c.get(k), sort_keys=True) for c in old_cells}
              != {json.dumps(c.get(k), sort_keys=True) for c in new_cells}]
    if old.get("seeds") != spec.seeds:
        differ.append("seeds")
    if not differ and sorted(c.get("id") for c in old_cells) != sorted(c["id"] for c in new_cells):
        differ.append("cells")
    return differ


def _claim(folder: Path, spec: Spec, r, force: bool) -> None:
    marker = folder / SWEEP_JSON
    if marker.exists():
        old = read_json(marker)
        if force:
            shutil.rmtree(folder / CELLS, ignore_errors=True)
            (folder / RESULTS).unlink(missing_ok=True)
        elif old.get("fingerprint") != r.fingerprint:
            raise PruneError(f"{folder} holds a sweep of other data; pass --force to start it again, or another --name")
        elif old.get("epochs") != spec.epochs:
            raise PruneError(f"sweep {spec.name} was trained with --epochs {old.get('epochs') or 'default'}; "
                             f"rerun with that, or pass another --name (or --force to start again)")
        else:
            differ = grid_differences(old, spec)
            if differ:
                raise PruneError(f"sweep {spec.name} was run with another grid (it differs in: {', '.join(differ)}); "
                                 "rerun it with the same one to resume, pass another --name, or --force to start again")
    elif folder.exists() and any(folder.iterdir()):
        raise PruneError(f"{folder} is not a sweep and is not empty; prune never writes into it: choose another --name")


def _scores(r, names: list[str], log) -> dict[str, Any]:
    """Each score table the grid reads: the run's own, or computed once now (``score(..., out=True)``)."""
    from pipeline.api.functions import score
    from pipeline.io import layout, read_scores

    from pipeline.sweep.grid import parse_score, score_file_stem

    tables = {}
    for spec in names:
        name, params = parse_score(spec)  # "aum:space=prob": the aum table in probability space
        prefix = params.pop("prefix", None)  # "aum:prefix=10": from the run's first 10 epochs (an early query)
        path = layout.scores_table(r.path, score_file_stem(spec))
        if path.exists():
            tables[spec] = read_scores(path)
            got = tables[spec].meta.get("parameters", {})
            differ = [k for k, v in params.items() if got.get(k) != v]
            if tables[spec].meta.get("prefix") != prefix:
                differ.append("prefix")
            if differ:
                raise PruneError(f"{path} was scored with {', '.join(f'{k}={got.get(k)}' for k in differ)}, not as "
                                 f"--scores {spec} asks; remove it or name the table's own options")
        else:
            log(f"scoring {spec}: {path} is missing, computing it once")
            tables[spec] = score(r, name, out=path, prefix=prefix, **params)
    return tables


def _full_epochs(spec: Spec, r) -> int:
    """The epochs of the sweep's full-data training: the unit of its cost column."""
    return spec.epochs if spec.epochs is not None else int((r.info.get("config") or {}).get("epochs") or r.epochs)


def _cell_epochs(cell: Cell, spec: Spec, r) -> int | None:
    """Epochs of a cell's trainings: the sweep's (None: the run's recipe), or a budget-matched full-data cell's
    fraction of them (at least 1), whose learning-rate schedule then runs over those epochs."""
    if cell.epochs_fraction is None:
        return spec.epochs
    return max(1, round(cell.epochs_fraction * _full_epochs(spec, r)))


def _select(r, cell: Cell, seed: int, tables: dict, recalls, model: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write the manifest of (cell, seed) unless a valid one is there; returns the parameters it used
    (β, γ: the sampler's own where the cell sets none)."""
    from pipeline.api.functions import select

    if out.exists():
        try:
            return read_manifest(out).meta.get("parameters", {})
        except PruneError:
            out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    scores = tables[cell.score] if cell.score is not None else None
    from pipeline.sweep.grid import parse_score

    method, options = parse_score(cell.method)  # a sampler's own options: "mine:alpha=0.3"
    sel = select(scores, cell.rate, method=method, quota=cell.quota, targets=r.targets, classes=r.classes,
                 seed=seed, keep=cell.keep, beta=cell.beta, gamma=cell.gamma, recalls=recalls,
                 embeddings=model.get("emb"), grads=model.get("grads"), val_grads=model.get("val_grads"),
                 val_targets=model.get("val_targets"), **options)
    if sel.meta.get("query") is None:  # it read the run's model or recalls: the recording is its query
        sel.meta["query"] = r.query_cost
    sel.write(out)
    return sel.meta.get("parameters", {})


# -------------------------------------------------------------------------- one training (in a worker process)

def _init_worker(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def run_unit(u: dict[str, Any]) -> dict[str, Any]:
    """Train one (cell, seed) and write its completion marker; returns its results row."""
    from pipeline.api.functions import train

    d = Path(u["dir"])
    for stale in d.glob(f".{TRAIN}.partial-*"):  # a killed training's hidden folder
        shutil.rmtree(stale, ignore_errors=True)
    manifest = d / MANIFEST if u["manifest"] else None
    dyn = u.get("dynamic")
    extra = {"beta": u["beta"]} if dyn and u["beta"] is not None else {}  # RCAP's temperature
    m = train(manifest, run=u["run"], epochs=u["epochs"], seed=u["seed"], out=d / TRAIN, budget=u["budget"],
              cdbw=u["cdbw"], device=u["device"], force=True, dynamic=dyn, rate=u["rate"] if dyn else None, **extra)
    q = m["cost"]["query_sample_passes"]  # the unit of cost: the sweep's full-data training (u["full_epochs"])
    row = {**u["params"], "cell": u["cell"], "seed": u["seed"], "beta": u["beta"], "gamma": u["gamma"],
           "recalls": u["recalls"],
           "accuracy": m["accuracy"], "val_accuracy": m["final"]["val_accuracy"],
           "balanced_accuracy": m["balanced_accuracy"], "worst_class_accuracy": m["worst_class_accuracy"],
           "val_worst_class_accuracy": m["val"]["worst_class_accuracy"], "n_kept": m["n_train"], "n_total": m["n_total"],
           "sample_passes": m["sample_passes"], "query_passes": q,
           "cost": None if q is None else (q + m["sample_passes"]) / (u["full_epochs"] * m["n_total"]),
           "steps": m["steps"], "epochs": m["epochs"], "seconds": m["seconds"],
           "class_recall": [m["per_class"][c]["recall"] for c in u["classes"]],
           "val_class_recall": [m["val"]["recall"][c] for c in u["classes"]],
           "threads": u["threads"]}
    write_json(d / DONE, row)
    return row


# -------------------------------------------------------------------------- progress

class Progress:
    """A rich progress bar with ETA on a terminal; plain lines otherwise (CI logs stay readable); nothing if quiet."""

    def __init__(self, total: int, quiet: bool, log: Callable[[str], None]):
        self.total, self.done, self.quiet, self.log = total, 0, quiet, log
        self.t0 = time.perf_counter()
        self.bar = None
        if not quiet and total and sys.stdout.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

            # our own ETA (mean time per finished training): rich's needs updates closer than its 30 s window
            self.bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TextColumn("{task.fields[eta]}"), transient=False)
            self.task = self.bar.add_task("trainings", total=total, eta="")
            self.bar.start()

    def step(self, row: dict[str, Any]) -> None:
        self.done += 1
        line = (f"{row['cell']} seed {row['seed']}: test accuracy {row['accuracy']:.4f}, worst class "
                f"{row['worst_class_accuracy']:.4f} ({row['seconds']:.1f}s)")
        spent = time.perf_counter() - self.t0
        eta = spent / self.done * (self.total - self.done)
        if self.bar is not None:
            self.bar.console.print(line)
            self.bar.update(self.task, advance=1, eta=f"eta {eta:.0f}s" if self.done < self.total else "")
        elif not self.quiet:
            self.log(f"[{self.done}/{self.total}] {line}  eta {eta:.0f}s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# -------------------------------------------------------------------------- the stage

def sweep(*, run: Path, spec: Spec, jobs: int = 1, threads: int | None = None, device: str = "auto",
          force: bool = False, quiet: bool = False, log: Callable[[str], None] = print):
    """Run every (cell, seed) of ``spec`` not yet done; write results.parquet; return it as a Polars frame."""
    if not isinstance(jobs, int) or jobs < 1:
        raise PruneError(f"--jobs must be a positive integer, got {jobs}")
    if threads is not None and threads < 1:
        raise PruneError(f"--threads must be a positive integer, got {threads}")
    threads = threads or default_threads(jobs)
    r = open_run(run)
    folder = sweep_dir(run, spec.name)
    _claim(folder, spec, r, force)
    tables = _scores(r, sorted({c.score for c in spec.cells if c.score is not None}), log)
    for name, t in tables.items():
        if t.fingerprint not in (None, r.fingerprint):
            raise PruneError(f"score table {t.path} was made from other data than run {run}")
    from pipeline.io.run import DEFAULT_RECALLS

    recalls: dict[str, np.ndarray] = {}  # how -> one validation recall per class, read once
    model: dict[str, Any] = {}  # what samplers read of the recorded model, read once (select.run.model_inputs)

    units, rows = [], {}
    for cell, seed in spec.units():
        d = unit_dir(folder, cell, seed)
        params, how = {}, None
        if not (cell.full or cell.dynamic):
            if probe.quota(cell.quota):
                how = cell.recalls or DEFAULT_RECALLS
                if how not in recalls:
                    recalls[how] = r.val_recalls(how)
            want = [n for n in probe(cell.method).model if {"embeddings": "emb", "gradients": "grads",
                                                             "val_gradients": "val_grads"}[n] not in model]
            if want:
                from pipeline.api.functions import model_inputs

                model.update(model_inputs(r, want, r.targets))  # as prune select reads them
            params = _select(r, cell, seed, tables, None if how is None else recalls[how], model, d / MANIFEST)
        key = (cell.id, seed)
        if (d / DONE).exists():
            try:
                rows[key] = read_json(d / DONE)
                continue
            except PruneError:
                pass
        units.append({"run": str(run), "dir": str(d), "cell": cell.id, "params": cell.params(), "seed": seed,
                      "beta": cell.beta if cell.dynamic else params.get("beta"), "gamma": params.get("gamma"), "recalls": how, "manifest": not (cell.full or cell.dynamic), "epochs": _cell_epochs(cell, spec, r), "full_epochs": _full_epochs(spec, r),
                      "budget": cell.budget, "dynamic": cell.dynamic, "rate": cell.rate,
                      "cdbw": cell.cdbw, "device": device, "classes": list(r.classes), "threads": threads})
    write_json(folder / SWEEP_JSON, {"name": spec.name, "run": str(run), "fingerprint": r.fingerprint,
                                     "epochs": spec.epochs, "seeds": spec.seeds,
                                     "cells": [c.params() | {"id": c.id} for c in spec.cells],
                                     **({} if spec.preset is None else {"preset": spec.preset})})
    n_all = len(spec.units())
    if not quiet:
        seeds = f"{len(spec.seeds)} seed{'s' if len(spec.seeds) != 1 else ''}"
        log(f"sweep {spec.name}: {len(spec.cells)} cells × {seeds} = {n_all} trainings, "
            f"{n_all - len(units)} already done; {min(jobs, max(1, len(units)))} at a time, "
            f"{threads} torch thread(s) each")
    # the longest trainings first, so parallel jobs finish together
    units.sort(key=lambda u: -(1.0 if u["params"]["method"] == "full" else 1.0 - u["params"]["rate"]))
    progress = Progress(len(units), quiet, log)
    try:
        for row in _execute(units, jobs, threads):
            rows[(row["cell"], row["seed"])] = row
            progress.step(row)
    finally:
        progress.close()
    ordered = [rows[(c.id, s)] for c, s in spec.units()]
    return write_sweep_results(folder / RESULTS, ordered, spec.name, list(r.classes))


def _execute(units: list[dict], jobs: int, threads: int):
    """Yield each unit's row as it finishes: in this process for one job, else in spawned processes."""
    if not units:
        return
    if jobs == 1 or len(units) == 1:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            for u in units:
                yield run_unit(u)
        finally:
            torch.set_num_threads(before)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pool = ProcessPoolExecutor(max_workers=min(jobs, len(units)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads,))
    try:
        pending = {pool.submit(run_unit, u): u for u in units}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                u = pending.pop(f)
                try:
                    row = f.result()
                except PruneError as err:
                    raise PruneError(f"cell {u['cell']} seed {u['seed']}: {err}") from None
                yield row
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# -------------------------------------------------------------------------- results

def pm(mean: float, std: float, seeds: int) -> str:
    return f"{mean:.4f}" if seeds < 2 else f"{mean:.4f} ± {std:.4f}"


def label_of(row: dict[str, Any]) -> str:
    """The cell's label from its results row, naming γ and recalls where the cell set them (its id says so)."""
    words = row["cell"].split("-")
    gamma, recalls = row.get("gamma"), row.get("recalls")
    return Cell(**{k: row[k] for k in ("method", "score", "quota", "rate", "keep", "budget", "cdbw")},
                gamma=gamma if gamma is not None and f"gamma{gamma:g}" in words else None,
                recalls=recalls if recalls is not None and f"-recalls-{recalls}" in row["cell"] else None,
                epochs_fraction=row.get("epochs_fraction")).label


def print_table(df, title: str, console=None) -> None:
    """The sweep's results as a rich table: one line per cell, mean ± std over seeds; cost: end to end, in
    full-data trainings, the query run counted (docs/cost.md)."""
    from rich.console import Console
    from rich.table import Table

    s = summarise_sweep(df)
    t = Table(title=title)
    for col, just in (("method", "left"), ("rate", "right"), ("β", "right"), ("kept", "right"), ("cost", "right"),
                      ("test accuracy", "right"), ("worst-class acc", "right"), ("val accuracy", "right"),
                      ("seeds", "right"), ("train s", "right")):
        t.add_column(col, justify=just)
    for row in s.iter_rows(named=True):
        beta = row["beta"]
        t.add_row(label_of(row), "—" if row["rate"] is None else f"{row['rate']:g}",
                  "—" if beta is None or (isinstance(beta, float) and math.isnan(beta)) else f"{beta:g}",
                  str(row["n_kept"]), "?" if row["cost_mean"] is None else f"{row['cost_mean']:.2f}",
                  pm(row["accuracy_mean"], row["accuracy_std"], row["seeds"]),
                  pm(row["worst_class_accuracy_mean"], row["worst_class_accuracy_std"], row["seeds"]),
                  pm(row["val_accuracy_mean"], row["val_accuracy_std"], row["seeds"]), str(row["seeds"]),
                  f"{row['seconds_mean']:.1f}")
    (console or Console(width=None if sys.stdout.isatty() else 160)).print(t)
