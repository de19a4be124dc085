"""``prune train``: train a fresh model on a manifest's samples and evaluate it."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.io import PruneError, fingerprint, open_run, read_manifest, write_json
from pipeline.io.tables import HISTORY_SCHEMA, write_table


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
) -> dict[str, Any]:
    from pipeline.train.loop import fit, resolve_device
    from pipeline.train.setup import build, load_data, train_config

    m = read_manifest(manifest) if manifest is not None else None
    r = open_run(run) if (Path(run) / "run.json").exists() or data is None else None
    data_name = data or r.dataset
    same_data = r is not None and data_name == r.dataset
    if data_dir is None and same_data:
        data_dir = r.info.get("data_dir")
    dev = resolve_device(device)
    bundle = load_data(data_name, data_dir, False)
    fp = fingerprint(data_name, "train", bundle.train.y)
    n = len(bundle.train)
    if m is not None:
        if m.fingerprint != fp:
            raise PruneError(f"{manifest} was made for other data (fingerprint {str(m.fingerprint)[:12]}…) than "
                             f"{data_name} train (fingerprint {fp[:12]}…); select again on a run of this data")
        if m.sample[-1] >= n:
            raise PruneError(f"{manifest} names sample {m.sample[-1]} but {data_name} has {n} training samples")
        ids = m.sample
    else:
        ids = np.arange(n, dtype=np.int64)
    # the query model's hyper-parameters, so subset and full-data training compare like for like
    if same_data and model in (None, r.info["config"]["model"]):
        base = dataclasses.replace(train_config(data_name, r.info["config"]["model"]), **r.info["config"])
        cfg = dataclasses.replace(base, **{k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "lr": lr}.items() if v is not None})
        train_config(data_name, cfg.model, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr)  # validates
    else:
        cfg = train_config(data_name, model, epochs=epochs, batch_size=batch_size, lr=lr)

    name = name or (Path(manifest).stem if manifest is not None else "full")
    out_dir = Path(out) if out is not None else (Path(run) / "train" / name)
    net = build(cfg.model, bundle, seed)
    t0 = time.perf_counter()

    def progress(e):
        v, t = e.evals["val"], e.evals["test"]
        log(f"epoch {e.epoch + 1:>3}/{cfg.epochs}  train loss {e.train_loss:.4f}  val acc {v.accuracy:.4f}  "
            f"test acc {t.accuracy:.4f}  worst class {t.worst_class_accuracy:.4f}  {time.perf_counter() - t0:6.1f}s")

    log(f"training {cfg.model} on {len(ids)} of {n} {data_name} samples for {cfg.epochs} epochs")
    logs = fit(net, bundle, ids, cfg, epochs=cfg.epochs, device=dev, seed=seed, progress=progress)
    seconds = round(time.perf_counter() - t0, 2)

    hist: dict[str, list] = {f.name: [] for f in HISTORY_SCHEMA}
    for e in logs:
        for split, res in e.evals.items():
            for k, v in (("epoch", e.epoch), ("split", split), ("accuracy", res.accuracy),
                         ("balanced_accuracy", res.balanced_accuracy), ("worst_class_accuracy", res.worst_class_accuracy),
                         ("loss", res.loss), ("lr", e.lr), ("train_loss", e.train_loss)):
                hist[k].append(v)
    best = max(logs, key=lambda e: (e.evals["val"].accuracy, -e.epoch))
    final = logs[-1].evals["test"]
    metrics = {
        "accuracy": final.accuracy,
        "balanced_accuracy": final.balanced_accuracy,
        "worst_class_accuracy": final.worst_class_accuracy,
        "per_class": {bundle.classes[c]: {"precision": float(final.precision[c]), "recall": float(final.recall[c]),
                                          "f1": float(final.f1[c]), "n": int(final.n[c])} for c in range(len(bundle.classes))},
        "loss": final.loss,
        "val": {"accuracy": logs[-1].evals["val"].accuracy, "worst_class_accuracy": logs[-1].evals["val"].worst_class_accuracy,
                "recall": {bundle.classes[c]: float(logs[-1].evals["val"].recall[c]) for c in range(len(bundle.classes))}},
        "best": {"epoch": best.epoch, "val_accuracy": best.evals["val"].accuracy, "accuracy": best.evals["test"].accuracy,
                 "worst_class_accuracy": best.evals["test"].worst_class_accuracy},
        "n_train": int(len(ids)),
        "n_total": n,
        "epochs": cfg.epochs,
        "steps": int(sum(e.steps for e in logs)),
        "seconds": seconds,
        "data": data_name,
        "model": cfg.model,
        "config": dataclasses.asdict(cfg),
        "manifest": None if m is None else {"path": str(manifest), "method": m.meta.get("method"), "rate": m.meta.get("rate"),
                                            "fingerprint": m.fingerprint},
        "seed": seed,
        "device": str(dev),
    }
    write_table(out_dir / "history.parquet", hist, HISTORY_SCHEMA)
    write_json(out_dir / "metrics.json", metrics)
    metrics["out"] = str(out_dir)
    return metrics
