"""``prune record``: train the query model on the full data and record its dynamics."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.io import PruneError, fingerprint, write_json
from pipeline.io.run import RUN_SCHEMA_VERSION, create_trajectories
from pipeline.io.tables import EVAL_SCHEMA, write_table


def parse_checkpoints(spec: str, epochs: int) -> list[int]:
    """``"0,3,final"`` → completed-epoch counts [0, 3, epochs]."""
    out = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if part == "final":
            out.add(epochs)
            continue
        try:
            k = int(part)
        except ValueError:
            raise PruneError(f"--checkpoints: {part!r} is not an epoch number or 'final'") from None
        if not 0 <= k <= epochs:
            raise PruneError(f"--checkpoints: epoch {k} is outside 0..{epochs}")
        out.add(k)
    return sorted(out)


def record(
    *,
    run: Path,
    data: str,
    data_dir: str | None,
    download: bool,
    model: str | None,
    epochs: int | None,
    inits: int,
    seed: int,
    batch_size: int | None,
    lr: float | None,
    device: str,
    eval_pass: bool,
    checkpoints: str,
    logits_dtype: str,
    force: bool,
    log: Callable[[str], None] = print,
) -> Path:
    import torch

    from pipeline.record.hook import RecordHook, save_checkpoint
    from pipeline.train.loop import fit, resolve_device
    from pipeline.train.setup import build, command_line, load_data, train_config, versions

    if inits < 1:
        raise PruneError(f"--inits must be at least 1, got {inits}")
    if logits_dtype not in ("float16", "float32"):
        raise PruneError(f"--logits-dtype must be float16 or float32, got {logits_dtype!r}")
    run = Path(run)
    if (run / "run.json").exists() and not force:
        raise PruneError(f"{run} already holds a recorded run; pass --force to replace it, or choose another --run")
    if run.exists() and not run.is_dir():
        raise PruneError(f"--run {run} exists and is not a folder")
    dev = resolve_device(device)
    bundle = load_data(data, data_dir, download)
    cfg = train_config(data, model, epochs=epochs, batch_size=batch_size, lr=lr)
    ckpts = parse_checkpoints(checkpoints, cfg.epochs)
    n, C = len(bundle.train), len(bundle.classes)
    fp = fingerprint(data, "train", bundle.train.y)

    # Everything is written into a hidden sibling folder and renamed into place
    # at the end: a crash or Ctrl-C never leaves a run that looks complete.
    run.parent.mkdir(parents=True, exist_ok=True)
    partial = run.parent / f".{run.name}.partial-{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    try:
        attrs = {
            "fingerprint": fp,
            "classes": list(bundle.classes),
            "epochs_recorded": list(range(cfg.epochs)),
            "record_pass": "train",
            "eval_pass": eval_pass,
            "snapshot_epochs": [],
        }
        group = create_trajectories(partial / "trajectories.zarr", inits=inits, epochs=cfg.epochs, targets=bundle.train.y,
                                    num_classes=C, dtype=logits_dtype, eval_pass=eval_pass, attrs=attrs)
        eval_cols: dict[str, list] = {f.name: [] for f in EVAL_SCHEMA}
        train_ids = np.arange(n, dtype=np.int64)
        final_test = []
        for i in range(inits):
            s = seed + i
            net = build(cfg.model, bundle, s)
            if 0 in ckpts:
                save_checkpoint(partial, i, 0, net)
            hook = RecordHook(run_dir=partial, group=group, init=i, bundle=bundle, device=dev, dtype=logits_dtype,
                              eval_pass=eval_pass, checkpoints=set(ckpts) - {0}, eval_batch=max(256, 2 * cfg.batch_size))
            t_init = time.perf_counter()

            def progress(e, i=i, t_init=t_init):
                v, t = e.evals["val"], e.evals["test"]
                log(f"init {i} epoch {e.epoch + 1:>3}/{cfg.epochs}  lr {e.lr:.4f}  train loss {e.train_loss:.4f}  "
                    f"val acc {v.accuracy:.4f}  test acc {t.accuracy:.4f}  worst class {t.worst_class_accuracy:.4f}  "
                    f"{time.perf_counter() - t_init:6.1f}s")

            logs = fit(net, bundle, train_ids, cfg, epochs=cfg.epochs, device=dev, seed=s, hooks=[hook], progress=progress)
            final_test.append(logs[-1].evals["test"].accuracy)
            for k, v in hook.eval_rows.items():
                eval_cols[k].extend(v)
        write_table(partial / "eval.parquet", eval_cols, EVAL_SCHEMA)
        info = {
            "schema_version": RUN_SCHEMA_VERSION,
            "data": data,
            "data_dir": data_dir,
            "n_train": n,
            "n_val": len(bundle.val),
            "n_test": len(bundle.test),
            "classes": list(bundle.classes),
            "input_shape": list(bundle.input_shape),
            "model": cfg.model,
            "config": asdict(cfg),
            "epochs": cfg.epochs,
            "inits": inits,
            "seed": seed,
            "seeds": [seed + i for i in range(inits)],
            "record_pass": "train",
            "eval_pass": eval_pass,
            "logits_dtype": logits_dtype,
            "checkpoints": ckpts,
            "fingerprint": fp,
            "device": str(dev),
            "torch_threads": torch.get_num_threads(),
            "final_test_accuracy": final_test,
            "seconds": round(time.perf_counter() - t0, 2),
            "versions": versions(),
            "command": command_line(),
        }
        write_json(partial / "run.json", info)  # the completion marker, written last
        _swap_into_place(partial, run)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return run


def _swap_into_place(partial: Path, run: Path) -> None:
    """Replace ``run`` by ``partial``; an old run is only deleted once the new one is in place."""
    if run.exists():
        trash = run.parent / f".{run.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(run, trash)
        os.replace(partial, run)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(partial, run)
