"""``prune train``: train a fresh model on a manifest's samples (or with dynamic pruning) and evaluate it.

Protocols (docs/training.md): a budget (``epochs``, ``iterations``, ``drop``)
sets how long a subset trains; ``cdbw`` weights classes by last epoch's val
error; ``dynamic`` re-selects the samples every epoch (RS2, RCAP, InfoBatch);
``seeds`` repeats the whole run once per seed and summarises.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.io import PruneError, fingerprint, layout, open_run, read_manifest, write_json
from pipeline.io.folders import Staged, is_train_result, staged
from pipeline.io.tables import HISTORY_SCHEMA, SAMPLES_SCHEMA, write_table
from pipeline.engine.budget import BUDGETS
from pipeline.train.dynamic import get_dynamic, option_readers

# the metrics that summary.json averages over seeds: (name, path into metrics.json)
SUMMARY_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accuracy", ("accuracy",)),
    ("balanced_accuracy", ("balanced_accuracy",)),
    ("worst_class_accuracy", ("worst_class_accuracy",)),
    ("best_accuracy", ("best", "accuracy")),
    ("best_worst_class_accuracy", ("best", "worst_class_accuracy")),
    ("sample_passes", ("sample_passes",)),
    ("steps", ("steps",)),
    ("seconds", ("seconds",)),
)


def parse_seeds(spec: str) -> list[int]:
    """``"0,1,2"`` → [0, 1, 2]: distinct integers, in the order given."""
    try:
        seeds = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise PruneError(f"--seeds must be comma-separated integers, e.g. 0,1,2; got {spec!r}") from None
    if not seeds:
        raise PruneError(f"--seeds names no seed: {spec!r}")
    if len(set(seeds)) != len(seeds):
        raise PruneError(f"--seeds repeats a seed: {spec!r}")
    return seeds


def _dynamic_given(*, beta: float | None, clip: float | None, with_replacement: bool, stratify: bool,
                   more: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dynamic-pruning options as given (None: not given; a flag left off is not given).

    ``more``: the options of composed rules (every, warmup, history) and any
    other a registered rule reads, by name.
    """
    return {"with_replacement": with_replacement or None, "stratify": stratify or None, "beta": beta, "clip": clip,
            **(more or {})}


def check_protocol(*, manifest: Path | None, budget: str, dynamic: str | None, rate: float | None, beta: float | None,
                   clip: float | None, with_replacement: bool, stratify: bool,
                   dynamic_options: dict[str, Any] | None = None) -> None:
    """Every protocol option is checked here, before any data is loaded."""
    if budget not in BUDGETS:
        raise PruneError(f"unknown --budget {budget!r}; choose one of: {', '.join(BUDGETS)}")
    rule = None
    if dynamic is None:
        if rate is not None:
            raise PruneError("--rate is the per-epoch rate of --dynamic pruning; for a static subset run "
                             "`prune select --rate R` and pass its manifest with --manifest")
    else:
        rule = get_dynamic(dynamic)
        if manifest is not None:
            raise PruneError("--dynamic re-selects from the full training set every epoch; it takes no --manifest")
        if rate is None:
            raise PruneError(f"--dynamic {dynamic} needs --rate, the fraction of samples removed each epoch (e.g. --rate 0.7)")
        rule.check_rate(rate, budget)
    given = _dynamic_given(beta=beta, clip=clip, with_replacement=with_replacement, stratify=stratify,
                           more=dynamic_options)
    for name, value in given.items():
        if value is not None and (rule is None or name not in rule.defaults):
            readers = " or ".join(option_readers(name))
            if readers:
                raise PruneError(f"--{name.replace('_', '-')} applies to --dynamic {readers} only")
            if rule is not None:
                raise PruneError(f"--dynamic {rule.name} takes no {name} "
                                 f"(it takes {', '.join(rule.defaults) or 'no options'})")
            raise PruneError(f"{name} is no option of any --dynamic rule")
    if rule is not None:
        rule.resolve(given, rate)  # checks the values given, each by the option the rule declares


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """What one ``prune train`` trains on and how (the protocol), checked once at the door (:meth:`build`).

    The CLI and the API build it from the user's words; the stage below it
    trusts it. An interrupted training keeps it beside its partial result
    (``train_args.json``), and ``--resume`` continues with exactly it.
    """

    run: Path
    manifest: Path | None = None
    data: str | None = None
    data_dir: str | None = None
    model: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    device: str = "auto"
    budget: str = "epochs"
    cdbw: bool = False
    dynamic: str | None = None
    rate: float | None = None
    beta: float | None = None
    clip: float | None = None
    with_replacement: bool = False
    stratify: bool = False
    dynamic_options: dict[str, Any] | None = None
    precision: str | None = None

    @classmethod
    def build(cls, **words: Any) -> "TrainSpec":
        spec = cls(**words)
        check_protocol(manifest=spec.manifest, budget=spec.budget, dynamic=spec.dynamic, rate=spec.rate,
                       beta=spec.beta, clip=spec.clip, with_replacement=spec.with_replacement,
                       stratify=spec.stratify, dynamic_options=spec.dynamic_options)
        return spec

    def words(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.words().items()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "TrainSpec":
        """The spec an interrupted training kept (checked when it was built)."""
        doc = dict(doc)
        for k in ("manifest", "run"):
            if doc.get(k) is not None:
                doc[k] = Path(doc[k])
        return cls(**doc)


@dataclasses.dataclass
class Setup:
    """Everything the seeds of one `prune train` share: data, config, subset, protocol."""

    bundle: Any
    data_name: str
    cfg: Any  # TrainConfig; cfg.epochs is E, full-data training's epochs
    epochs: int  # E', the epochs this protocol trains
    ids: np.ndarray  # static subset (all samples for dynamic pruning)
    weights: np.ndarray | None
    manifest: dict | None
    n: int
    kept: int  # samples per epoch the budget is computed from
    device: Any
    budget: str
    cdbw: bool
    dynamic: dict | None  # {"method": name, **parameters}
    notes: list[str] = dataclasses.field(default_factory=list)  # said before training starts


def prepare(spec: TrainSpec) -> Setup:
    """Load what a checked spec trains on: the data, the manifest's subset, the recipe, the protocol's plan."""
    from pipeline.engine.budget import budget_epochs
    from pipeline.engine.loop import resolve_device
    from pipeline.counts import checked_keep_count
    from pipeline.engine.setup import load_data, train_config

    manifest, run, data, data_dir, model = spec.manifest, spec.run, spec.data, spec.data_dir, spec.model
    epochs, batch_size, lr, device, precision = spec.epochs, spec.batch_size, spec.lr, spec.device, spec.precision
    budget, cdbw, dynamic, rate = spec.budget, spec.cdbw, spec.dynamic, spec.rate
    m = read_manifest(manifest) if manifest is not None else None
    r = open_run(run) if layout.run_json(run).exists() or data is None else None
    data_name = data or r.dataset
    same_data = r is not None and data_name == r.dataset
    if data_dir is None and same_data:
        data_dir = r.info.get("data_dir")
    dev = resolve_device(device)
    if precision is not None:
        from pipeline.engine.setup import check_precision

        check_precision(precision, dev)
    bundle = load_data(data_name, data_dir, False)
    if same_data:
        # a run recorded with --imbalance trained on a long-tailed set, one with --label-noise on flipped
        # labels: train on the same ones
        from pipeline.data.longtail import train_as_recorded

        bundle = train_as_recorded(r.info, bundle)
    fp = fingerprint(bundle.name, "train", bundle.train.y, bundle.identity)
    n = len(bundle.train)
    weights = None
    notes: list[str] = []
    if m is not None:
        if m.fingerprint is None:
            notes.append(f"note: {manifest} carries no fingerprint (not written by prune select); its provenance is "
                         f"unknown, so its ids are taken to be {data_name}'s training samples")
        elif m.fingerprint != fp:
            raise PruneError(f"{manifest} was made for other data (fingerprint {str(m.fingerprint)[:12]}…) than "
                             f"{data_name} train (fingerprint {fp[:12]}…); select again on a run of this data")
        if m.sample[-1] >= n:
            raise PruneError(f"{manifest} names sample {m.sample[-1]} but {data_name} has {n} training samples")
        ids, weights = m.sample, m.weight
        if weights is not None and not (np.all(np.isfinite(weights)) and np.all(weights >= 0)):
            raise PruneError(f"{manifest}: the weight column must be finite and non-negative")
    else:
        ids = np.arange(n, dtype=np.int64)
    # the query model's hyper-parameters, so subset and full-data training compare like for like
    recipe = r.info.get("config") if same_data else None  # a Recorder's run may keep none, or not all of one
    if recipe and recipe.get("model") and model in (None, recipe["model"]):
        base = train_config(data_name, recipe["model"])
        known = {f.name for f in dataclasses.fields(base)}
        unknown = sorted(set(recipe) - known)
        if unknown:
            raise PruneError(f"{r.path}/run.json: config has keys this version of prune does not know "
                             f"({', '.join(unknown)}); pass --model to train with that model's own recipe")
        base = dataclasses.replace(base, **recipe)
        cfg = dataclasses.replace(base, **{k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "lr": lr,
                                                             "precision": precision}.items() if v is not None})
        train_config(data_name, cfg.model, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                     precision=cfg.precision)  # validates
    else:
        cfg = train_config(data_name, model, epochs=epochs, batch_size=batch_size, lr=lr, precision=precision)

    kept = checked_keep_count(n, rate) if dynamic is not None else len(ids)
    dyn = None
    if dynamic is not None:
        given = _dynamic_given(beta=spec.beta, clip=spec.clip, with_replacement=spec.with_replacement,
                               stratify=spec.stratify, more=spec.dynamic_options)
        dyn = {"method": dynamic, "rate": rate, **get_dynamic(dynamic).resolve(given, rate)}
    return Setup(bundle=bundle, data_name=data_name, cfg=cfg,
                 epochs=budget_epochs(budget, cfg.epochs, kept, n, cfg.batch_size), ids=ids, weights=weights,
                 manifest=None if m is None else {"path": str(manifest), "method": m.meta.get("method"),
                                                  "rate": m.meta.get("rate"), "fingerprint": m.fingerprint,
                                                  "weighted": weights is not None, "query": m.meta.get("query")},
                 n=n, kept=kept, device=dev, budget=budget, cdbw=cdbw, dynamic=dyn, notes=notes)


def make_plan(s: Setup):
    from pipeline.engine.plans import StaticPlan

    d = s.dynamic
    if d is None:
        return StaticPlan(s.ids, s.weights)
    rule = get_dynamic(d["method"])
    return rule.build(s.bundle.train.y, d["rate"], num_classes=len(s.bundle.classes), epochs=s.epochs,
                      **{k: d[k] for k in rule.defaults})


def _split_metrics(res, epoch: int, val) -> dict[str, Any]:
    return {"epoch": epoch, "val_accuracy": val.accuracy, "accuracy": res.accuracy,
            "balanced_accuracy": res.balanced_accuracy, "worst_class_accuracy": res.worst_class_accuracy}


def fit_one(s: Setup, seed: int, out_dir: Path, log: Callable[[str], None], label: str = "",
            report_dir: Path | None = None, keep_state: bool = False) -> dict[str, Any]:
    """Train one fresh model with ``seed`` under the setup's protocol; write metrics.json, history.parquet
    (and samples.parquet for dynamic pruning) into ``out_dir``.

    With ``keep_state`` the training state is saved to ``out_dir/resume.pt`` after every epoch (and
    removed once the result is written), and an ``out_dir/resume.pt`` found at the start is continued
    from: ``prune train --resume``.
    """
    from pipeline.engine.cdbw import cdbw_weights
    from pipeline.engine.loop import fit
    from pipeline.engine.setup import build

    cfg, bundle = s.cfg, s.bundle
    net = build(cfg.model, bundle, seed, cfg.dropout)
    plan = make_plan(s)
    state_path = Path(out_dir) / RESUME_STATE
    continued = _load_state(state_path) if keep_state and state_path.exists() else None
    t0 = time.perf_counter() - (0.0 if continued is None else continued["seconds"])
    if continued is not None:
        log(f"{label}resuming after epoch {continued['fit']['epoch'] + 1}/{s.epochs} ({state_path})")

    def save_state(state, t0=t0):
        from pipeline.io.checkpoints import save_state as write_state

        write_state(state_path, {"version": TRAIN_RESUME_VERSION, "fit": state, "seconds": time.perf_counter() - t0})

    from pipeline.engine.loop import Eta
    from pipeline.engine.progress import EpochProgress

    eta = Eta(s.epochs)
    bar = EpochProgress(label, s.epochs, log, start=0 if continued is None else continued["fit"]["epoch"] + 1)

    def progress(e):
        v, t = e.evals["val"], e.evals["test"]
        bar.epoch(f"{label}epoch {e.epoch + 1:>3}/{s.epochs}  samples {e.samples}  train loss {e.train_loss:.4f}  "
                  f"val acc {v.accuracy:.4f}  test acc {t.accuracy:.4f}  worst class {t.worst_class_accuracy:.4f}  "
                  f"{time.perf_counter() - t0:6.1f}s  {eta(e.epoch)}")

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with bar:
        logs = fit(net, bundle, s.ids, cfg, epochs=s.epochs, device=s.device, seed=seed, progress=progress, plan=plan,
                   class_weights=cdbw_weights if s.cdbw else None, save_state=save_state if keep_state else None,
                   resume=None if continued is None else continued["fit"], on_step=bar.step)
    seconds = round(time.perf_counter() - t0, 2)

    hist = _history(logs)
    metrics = _metrics(s, logs, plan, seed, seconds)
    write_table(out_dir / layout.HISTORY, hist, HISTORY_SCHEMA)
    if s.dynamic is not None:
        write_table(out_dir / layout.SAMPLES, plan.samples_columns(), SAMPLES_SCHEMA,
                    {"artifact": "samples", "dynamic": metrics["dynamic"], "seed": seed})
    write_json(out_dir / layout.METRICS_JSON, metrics)
    state_path.unlink(missing_ok=True)  # a finished seed is not resumed
    metrics["out"] = str(out_dir if report_dir is None else report_dir)  # where the result ends up
    return metrics


def _history(logs) -> dict[str, list]:
    """history.parquet's columns: one row per (epoch, split)."""
    hist: dict[str, list] = {f.name: [] for f in HISTORY_SCHEMA}
    for e in logs:
        for split, res in e.evals.items():
            for k, v in (("epoch", e.epoch), ("split", split), ("accuracy", res.accuracy),
                         ("balanced_accuracy", res.balanced_accuracy), ("worst_class_accuracy", res.worst_class_accuracy),
                         ("loss", res.loss), ("lr", e.lr), ("train_loss", e.train_loss)):
                hist[k].append(v)
    return hist


def end_to_end_cost(s: Setup, passes: int) -> dict[str, Any]:
    """What this training cost with the recording its subset was chosen from (docs/cost.md), in sample passes and
    in full-data trainings of this recipe (``cfg.epochs`` × all samples = 1.0). Full data and dynamic pruning pay
    no query; a manifest without lineage (written by your own code) leaves the query, and the total, unknown."""
    full = s.cfg.epochs * s.n
    if s.manifest is None:
        query = {"run": None, "sample_passes": 0}
    else:
        query = s.manifest.get("query")
    q = None if query is None else int(query["sample_passes"])
    return {"query_sample_passes": q, "train_sample_passes": passes, "full_data_sample_passes": full,
            "query": None if q is None else q / full, "train": passes / full,
            "end_to_end": None if q is None else (q + passes) / full,
            "query_run": None if query is None else query.get("run"),
            "query_model": None if query is None else query.get("model")}


def _metrics(s: Setup, logs, plan, seed: int, seconds: float) -> dict[str, Any]:
    """metrics.json: the last epoch's test metrics per class, the best-val epoch's, and what the training cost."""
    from pipeline.engine.budget import steps_per_epoch

    cfg, bundle = s.cfg, s.bundle
    best = max(logs, key=lambda e: (e.evals["val"].accuracy, -e.epoch))
    last = logs[-1]
    final = last.evals["test"]
    passes = int(sum(e.samples for e in logs))
    C = len(bundle.classes)
    return {
        "accuracy": final.accuracy,
        "balanced_accuracy": final.balanced_accuracy,
        "worst_class_accuracy": final.worst_class_accuracy,
        "per_class": {bundle.classes[c]: {"precision": float(final.precision[c]), "recall": float(final.recall[c]),
                                          "f1": float(final.f1[c]), "n": int(final.n[c])} for c in range(C)},
        "loss": final.loss,
        "val": {"accuracy": last.evals["val"].accuracy, "worst_class_accuracy": last.evals["val"].worst_class_accuracy,
                "recall": {bundle.classes[c]: float(last.evals["val"].recall[c]) for c in range(C)}},
        "best": _split_metrics(best.evals["test"], best.epoch, best.evals["val"]),
        "final": _split_metrics(final, last.epoch, last.evals["val"]),
        "n_train": int(len(s.ids)) if s.dynamic is None else int(round(passes / len(logs))),
        "n_total": s.n,
        "epochs": len(logs),
        "steps": int(sum(e.steps for e in logs)),
        "budget": {"name": s.budget, "full_data_epochs": cfg.epochs, "epochs": s.epochs, "kept_fraction": s.kept / s.n,
                   "full_data_steps": cfg.epochs * steps_per_epoch(s.n, cfg.batch_size)},
        "sample_passes": passes,
        "full_data_sample_passes": cfg.epochs * s.n,
        "cost": end_to_end_cost(s, passes),
        "cdbw": s.cdbw,
        "dynamic": None if s.dynamic is None else {"method": s.dynamic["method"], **plan.params()},
        "seconds": seconds,
        "data": s.data_name,
        "model": cfg.model,
        "config": {**dataclasses.asdict(cfg), "epochs": s.epochs},
        "manifest": s.manifest,
        "seed": seed,
        "device": str(s.device),
    }


#: Layout version of a training's resume.pt; another version is not resumed.
TRAIN_RESUME_VERSION = 1
RESUME_STATE = "resume.pt"
TRAIN_ARGS = "train_args.json"  # in the unfinished folder: what `prune train --resume` continues with


def _load_state(path: Path) -> dict:
    from pipeline.io.checkpoints import load_state

    return load_state(path, TRAIN_RESUME_VERSION, "train again without --resume")


def default_name(manifest: Path | None, dynamic: str | None, rate: float | None, budget: str, cdbw: bool) -> str:
    """``keep``, ``rs2-0.7``, ``full``, plus ``-<budget>`` and ``-cdbw`` where those differ from the default."""
    if manifest is not None:
        name = Path(manifest).stem
    elif dynamic is not None:
        name = f"{dynamic}-{rate:g}"
    else:
        name = "full"
    return name + ("" if budget == "epochs" else f"-{budget}") + ("-cdbw" if cdbw else "")


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation (ddof=1; 0 for a single seed) of SUMMARY_FIELDS over runs."""
    mean, std = {}, {}
    for key, path in SUMMARY_FIELDS:
        vals = []
        for m in runs:
            v = m
            for p in path:
                v = v[p]
            vals.append(float(v))
        a = np.asarray(vals)
        mean[key] = float(a.mean())
        std[key] = float(a.std(ddof=1)) if len(a) > 1 else 0.0
    return {"mean": mean, "std": std}


def train(
    *,
    manifest: Path | None,
    run: Path,
    data: str | None,
    data_dir: str | None,
    model: str | None,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    seed: int,
    device: str,
    name: str | None,
    out: Path | None,
    log: Callable[[str], None] = print,
    budget: str = "epochs",
    cdbw: bool = False,
    dynamic: str | None = None,
    rate: float | None = None,
    beta: float | None = None,
    clip: float | None = None,
    with_replacement: bool = False,
    stratify: bool = False,
    seeds: list[int] | None = None,
    dynamic_options: dict[str, Any] | None = None,
    force: bool = False,
    precision: str | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train under one protocol; with ``seeds``, once per seed into ``<out>/seed=S/`` plus ``<out>/summary.json``.

    Returns the metrics (one seed) or the summary (``seeds``), with ``out`` added.
    """
    from pipeline.engine import distributed as D

    W, device = D.setup(device)  # under torchrun: join the other ranks (each trains on its shard)
    try:
        return _stage(manifest=manifest, run=run, data=data, data_dir=data_dir, model=model, epochs=epochs,
                      batch_size=batch_size, lr=lr, seed=seed, device=device, name=name, out=out, log=log, budget=budget,
                      cdbw=cdbw, dynamic=dynamic, rate=rate, beta=beta, clip=clip, with_replacement=with_replacement,
                      stratify=stratify, seeds=seeds, dynamic_options=dynamic_options, force=force, world=W,
                      precision=precision, resume=resume)
    finally:
        if W.distributed:
            D.teardown()


def _stage(*, manifest, run, data, data_dir, model, epochs, batch_size, lr, seed, device, name, out, log, budget, cdbw,
           dynamic, rate, beta, clip, with_replacement, stratify, seeds, dynamic_options, force, world,
           precision=None, resume: bool = False) -> dict[str, Any]:
    from pipeline.engine import distributed as D

    if resume:
        if world.distributed:
            raise PruneError("--resume is not available under torchrun yet; resume in one process or train again")
        return _resume(run=run, name=name, out=out, dynamic=dynamic, rate=rate, manifest=manifest, budget=budget,
                       cdbw=cdbw, force=force, log=log)

    # the protocol's options and the result folder are checked before anything is loaded or trained
    spec = TrainSpec.build(manifest=manifest, run=run, data=data, data_dir=data_dir, model=model, epochs=epochs,
                           batch_size=batch_size, lr=lr, device=device, budget=budget, cdbw=cdbw, dynamic=dynamic,
                           rate=rate, beta=beta, clip=clip, with_replacement=with_replacement, stratify=stratify,
                           dynamic_options=dynamic_options, precision=precision)
    if manifest is not None:
        read_manifest(manifest)  # a missing, damaged or wrong kind of table is refused before anything else
    if out is None or data is None:
        # nothing is written under a folder that is not a finished run (it would lock `prune record` out of it)
        if data is not None and not layout.run_json(run).exists():
            raise PruneError(f"no run at {run} to put the result under: pass --out for a training of --data {data} "
                             f"without a run, or run `prune record --run {run}` first")
        open_run(run)
    name = name or default_name(manifest, dynamic, rate, budget, cdbw)
    if out is None and (name in ("", ".", "..") or "/" in name or os.sep in name or "\0" in name):
        raise PruneError(f"--name {name!r} must be a plain folder name (it goes under {layout.train_dir(run, '')}); "
                         "use --out for a folder elsewhere")
    out_dir = Path(out) if out is not None else layout.train_dir(run, name)
    if not world.main:
        # another rank of a torchrun job: it trains its shards; rank 0 alone writes the result
        failed = D.broadcast_object(None)
        if failed:
            raise PruneError(failed)
        import tempfile

        scratch = Path(tempfile.mkdtemp(prefix="prune-rank"))
        try:
            return _train(partial=scratch, out_dir=out_dir, seed=seed, seeds=seeds, log=lambda _m: None, spec=spec)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    keep_state = not world.distributed  # (--resume under torchrun is not built)
    try:
        stage = _result_stage(out_dir, "--out" if out is not None else "--name", force, keep_state)
        stage.open()  # an unwritable place is refused now, before anything is trained
    except PruneError as err:
        if world.distributed:
            D.broadcast_object(str(err))  # every rank stops, with rank 0's line
        raise
    with stage as partial:
        if world.distributed:
            D.broadcast_object(None)
        if keep_state:
            write_json(partial / TRAIN_ARGS, {"version": TRAIN_RESUME_VERSION, "seed": seed, "seeds": seeds,
                                              "prepared": spec.to_json()})
        return _train_into(partial, out_dir, seed, seeds, log, spec, keep_state)


def _result_stage(out_dir: Path, flag: str, force: bool, keep_state: bool) -> Staged:
    """The result folder, claimed; written in a hidden sibling that an interrupt keeps, named, for --resume."""
    how = (f"continue with `prune train --resume` and the same --run/--name/--out, or remove it with "
           f"`prune clean --run-parent {out_dir.parent} --yes`" if keep_state else
           f"remove it with `prune clean --run-parent {out_dir.parent}`")
    return staged(out_dir, what="training result", recognise=is_train_result, force=force, flag=flag,
                  keep_on_interrupt=True, hint=how,
                  resumable=lambda partial: keep_state and any(Path(partial).rglob(RESUME_STATE)))


def _train_into(partial: Path, out_dir: Path, seed, seeds, log, spec: TrainSpec, keep_state: bool) -> dict[str, Any]:
    """Train into ``partial``; once done, what --resume needs goes (the stage then swaps it into place)."""
    result = _train(partial=partial, out_dir=out_dir, seed=seed, seeds=seeds, log=log, spec=spec,
                    keep_state=keep_state)
    (partial / TRAIN_ARGS).unlink(missing_ok=True)
    return result


def _resume(*, run, name, out, dynamic, rate, manifest, budget, cdbw, force, log) -> dict[str, Any]:
    """``prune train --resume``: continue the newest interrupted training of the same result folder."""
    from pipeline.io import read_json
    from pipeline.io.folders import in_use, partials_of

    name = name or default_name(manifest, dynamic, rate, budget, cdbw)
    out_dir = Path(out) if out is not None else layout.train_dir(run, name)
    for partial in partials_of(out_dir):
        if not (partial / TRAIN_ARGS).exists() or in_use(partial):
            continue
        saved = read_json(partial / TRAIN_ARGS)
        if not isinstance(saved, dict) or saved.get("version") != TRAIN_RESUME_VERSION:
            raise PruneError(f"{partial / TRAIN_ARGS} was written by another version of prune; train again")
        spec = TrainSpec.from_json(saved["prepared"])
        stage = _result_stage(out_dir, "--out" if out is not None else "--name", force, keep_state=True)
        stage.open(partial)  # taken over: kept whatever happens, it holds finished seeds and epochs
        log(f"resuming {partial} with the options it was started with")
        with stage:
            return _train_into(partial, out_dir, saved["seed"], saved["seeds"], log, spec, keep_state=True)
    raise PruneError(f"no interrupted training of {out_dir} to resume (an unfinished .{out_dir.name}.partial-* folder "
                     "beside it); train without --resume")


def _train(*, partial: Path, out_dir: Path, seed: int, seeds: list[int] | None, log, spec: TrainSpec,
           keep_state: bool = False) -> dict:
    """Train into ``partial``; every path reported is the final one, ``out_dir``.

    With ``keep_state`` each seed saves its state every epoch, and a seed whose metrics.json is
    already in ``partial`` (a resumed training) is read back instead of trained again.
    """
    s = prepare(spec)
    rule = None if s.dynamic is None else get_dynamic(s.dynamic["method"])
    if rule is None:
        what = f"{len(s.ids)} of {s.n} samples"
    elif rule.rate_of is not None:
        what = f"{rule.name} dynamic pruning of {s.dynamic['rate']:g} of {rule.rate_of} of {s.n}"
    else:
        what = f"{s.dynamic['method']} dynamic pruning at rate {s.dynamic['rate']:g} ({s.kept} of {s.n} per epoch)"
    extra = (f", budget {s.budget}" if s.budget != "epochs" else "") + (", CDB-W" if s.cdbw else "")
    for note in s.notes:
        log(note)
    log(f"training {s.cfg.model} on {s.data_name}, {what}, for {s.epochs} epochs{extra}")
    if seeds is None:
        return fit_one(s, seed, partial, log, report_dir=out_dir, keep_state=keep_state)

    runs = []
    for sd in seeds:
        done = partial / f"seed={sd}" / layout.METRICS_JSON
        if keep_state and done.exists():
            from pipeline.io import read_json

            runs.append({**read_json(done), "out": str(out_dir / f"seed={sd}")})
            log(f"seed {sd}: finished before the interrupt, not trained again")
            continue
        runs.append(fit_one(s, sd, partial / f"seed={sd}", log, label=f"seed {sd}  ", report_dir=out_dir / f"seed={sd}",
                            keep_state=keep_state))
        log(f"seed {sd}: test accuracy {runs[-1]['accuracy']:.4f}  worst class {runs[-1]['worst_class_accuracy']:.4f}")
    first = runs[0]
    summary = {
        "name": out_dir.name,
        "seeds": seeds,
        **summarise(runs),
        "cost": first["cost"],  # the first seed's: a dynamic plan's passes may differ by a few samples per seed
        "runs": [{"seed": m["seed"], "path": str(Path(m["out"]) / layout.METRICS_JSON),
                  **{k: (m[p[0]] if len(p) == 1 else m[p[0]][p[1]]) for k, p in SUMMARY_FIELDS}} for m in runs],
        "full_data_sample_passes": first["full_data_sample_passes"],
        "epochs": first["epochs"],
        "budget": first["budget"],
        "cdbw": first["cdbw"],
        "dynamic": first["dynamic"],
        "manifest": first["manifest"],
        "data": first["data"],
        "model": first["model"],
    }
    write_json(partial / layout.SUMMARY_JSON, summary)
    summary["out"] = str(out_dir)
    return summary
