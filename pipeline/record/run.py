"""``prune record``: train the query model on the full data and record its dynamics."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.data.noise import flip_labels
from pipeline.io import PruneError, fingerprint, layout, write_json
from pipeline.io.checkpoints import load_state, save_checkpoint
from pipeline.io.checkpoints import save_state as write_state
from pipeline.io.errors import Interrupted
from pipeline.io.folders import claim_folder, hold, in_use, is_run, partial_folder, partials_of, swap_into_place
from pipeline.io.run import create_trajectories
from pipeline.io.runinfo import run_info, trajectory_attrs, write_run_info
from pipeline.io.tables import EVAL_SCHEMA, write_table



def parse_epochs(spec: str, epochs: int, flag: str = "--checkpoints") -> list[int]:
    """``"0,10%,final"`` → sorted completed-epoch counts, here [0, ceil(0.1·E), E].

    An integer k means "after k epochs" (0 = the initial weights), ``P%``
    means after ceil(P/100·E) epochs, ``final`` after all E.
    """
    out = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if part == "final":
            out.add(epochs)
            continue
        try:
            k = math.ceil(float(part[:-1]) / 100 * epochs) if part.endswith("%") else int(part)
        except ValueError:
            raise PruneError(f"{flag}: {part!r} is not an epoch number, a percentage like 10%, or 'final'") from None
        if not 0 <= k <= epochs:
            raise PruneError(f"{flag}: epoch {part} is outside 0..{epochs}")
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
    embeddings: str = "",
    label_noise: float = 0.0,
    resume: bool = False,
    manifest: str | os.PathLike | None = None,
    pool: bool = False,
    mc_samples: int = 0,
    dropout: float | None = None,
    precision: str | None = None,
) -> Path:
    """Record a run into ``run``; with ``resume``, continue the unfinished recording an interrupt kept.

    A resumed recording takes every option from the one it continues (the
    options given now, but ``device``, are not used) and, on a CPU, writes
    the same bytes as an uninterrupted one.

    With ``manifest`` the model trains on the manifest's samples only: the
    run has one row per trained sample (``Run.sample_ids`` maps rows to the
    data set's ids), and with ``pool`` it also predicts the rest (the pool)
    after every epoch, plus ``mc_samples`` MC-dropout passes after the last
    (the model needs ``dropout`` > 0 for those).
    """
    from pipeline.engine import distributed as D

    run = Path(run)
    W, device = D.setup(device)  # under torchrun: join the other ranks (rank 0 alone writes)
    if resume and W.distributed:
        raise PruneError("--resume is not available under torchrun yet; resume in one process or record again")
    try:
        return _record_stage(run=run, data=data, data_dir=data_dir, download=download, model=model, epochs=epochs,
                             inits=inits, seed=seed, batch_size=batch_size, lr=lr, device=device, eval_pass=eval_pass,
                             checkpoints=checkpoints, logits_dtype=logits_dtype, force=force, log=log,
                             embeddings=embeddings, label_noise=label_noise, resume=resume, manifest=manifest,
                             pool=pool, mc_samples=mc_samples, dropout=dropout, precision=precision)
    finally:
        if W.distributed:
            D.teardown()


def _record_stage(*, run, data, data_dir, download, model, epochs, inits, seed, batch_size, lr, device, eval_pass,
                  checkpoints, logits_dtype, force, log, embeddings, label_noise, resume, manifest, pool, mc_samples,
                  dropout, precision) -> Path:
    saved = None
    if resume:
        # the options of the interrupted recording, checked as if given now
        claim = claim_folder(run, what="recorded run", recognise=is_run, force=force, flag="--run")
        partial, lock, saved = find_resumable(run)
        a = saved["args"]
        data, data_dir, model, epochs, inits, seed = a["data"], a["data_dir"], a["model"], a["epochs"], a["inits"], a["seed"]
        batch_size, lr, eval_pass, checkpoints = a["batch_size"], a["lr"], a["eval_pass"], a["checkpoints"]
        logits_dtype, embeddings, label_noise = a["logits_dtype"], a["embeddings"], a["label_noise"]
        manifest, pool, mc_samples, dropout = a.get("manifest"), a.get("pool", False), a.get("mc_samples", 0), a.get("dropout")
        precision = a.get("precision")
    args = {"data": data, "data_dir": data_dir, "model": model, "epochs": epochs, "inits": inits, "seed": seed,
            "batch_size": batch_size, "lr": lr, "eval_pass": eval_pass, "checkpoints": checkpoints,
            "logits_dtype": logits_dtype, "embeddings": embeddings, "label_noise": label_noise,
            "manifest": None if manifest is None else os.fspath(manifest), "pool": bool(pool),
            "mc_samples": int(mc_samples), "dropout": dropout, "precision": precision}
    try:
        return _record(run=run, download=download, device=device, force=force, log=log, args=args, saved=saved,
                       partial_lock=(partial, lock) if resume else None, claim=claim if resume else None)
    finally:
        if resume:
            _close(lock)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def find_resumable(run: Path) -> tuple[Path, int, dict]:
    """The newest unfinished folder of ``run`` with a saved epoch, locked, and its state; one line if there is none."""
    for partial in partials_of(run):
        state_path = layout.resume_state(partial)
        if not state_path.exists() or in_use(partial):
            continue
        lock = hold(partial)
        try:
            state = load_state(state_path, RESUME_VERSION, f"remove the folder with `prune clean --run-parent "
                                                           f"{run.parent} --yes` and record {run} again")
        except PruneError:
            _close(lock)
            raise
        # files a kill left half-written (atomic writes' temporaries) are redone from the saved epoch on
        for tmp in partial.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        return partial, lock, state
    raise PruneError(f"no interrupted recording of {run} to resume (an unfinished .{run.name}.partial-* folder with a "
                     f"finished epoch, beside it); run `prune record --run {run}` without --resume")


#: Layout version of RUN/.partial/resume.pt; a state of another version is not resumed.
RESUME_VERSION = 2  # 2: dynamics/ gained kl_step, and the state what the next epoch's kl_step compares with


def _record(*, run: Path, download: bool, device: str, force: bool, log, args: dict, saved: dict | None,
            partial_lock: tuple[Path, int] | None, claim) -> Path:
    import torch

    from pipeline.engine.embeddings import EmbeddingHook
    from pipeline.engine.recording import RecordHook
    from pipeline.engine.loop import Eta, fit, resolve_device
    from pipeline.engine.progress import EpochProgress
    from pipeline.engine.setup import build, command_line, load_data, train_config, versions

    data, data_dir, model, epochs, inits, seed = (args[k] for k in ("data", "data_dir", "model", "epochs", "inits", "seed"))
    batch_size, lr, eval_pass, checkpoints = (args[k] for k in ("batch_size", "lr", "eval_pass", "checkpoints"))
    logits_dtype, embeddings, label_noise = args["logits_dtype"], args["embeddings"], args["label_noise"]
    manifest, pool, mc_samples, dropout = args["manifest"], args["pool"], args["mc_samples"], args["dropout"]
    precision = args.get("precision")
    from pipeline.engine import distributed as D

    W = D.world()
    if inits < 1:
        raise PruneError(f"--inits must be at least 1, got {inits}")
    if logits_dtype not in ("float16", "float32", "none"):
        raise PruneError(f"--logits must be float16, float32 or none, got {logits_dtype!r}")
    if logits_dtype == "none" and eval_pass:
        raise PruneError("--eval-pass records eval-mode logits, which --logits none does not keep: drop --eval-pass "
                         "(dynamics/ keeps the training pass's scalars) or record with --logits float16")
    pool_dtype = "float16" if logits_dtype == "none" else logits_dtype  # the pool's logits are what its scores read
    if not 0.0 <= label_noise < 1.0:
        raise PruneError(f"--label-noise must be a fraction in [0, 1), got {label_noise}")
    if pool and manifest is None:
        raise PruneError("--pool predicts the samples a --manifest leaves out: give --manifest too")
    if mc_samples < 0 or (mc_samples and not pool):
        raise PruneError("--mc-samples must be a count >= 0, and needs --manifest M --pool (it samples the pool)"
                         if mc_samples else f"--mc-samples must be a count >= 0, got {mc_samples}")
    m = None
    if manifest is not None:
        from pipeline.io import read_manifest

        m = read_manifest(manifest)  # one line for a missing or damaged file, before any training
    if claim is None and W.main:
        try:
            claim = claim_folder(run, what="recorded run", recognise=is_run, force=force, flag="--run")
        except PruneError as err:
            if W.distributed:
                D.broadcast_object(str(err))  # every rank stops, with rank 0's line
            raise
    if W.distributed:
        failed = D.broadcast_object(None)
        if failed:
            raise PruneError(failed)
    dev = resolve_device(device)
    if precision is not None:
        from pipeline.engine.setup import check_precision

        check_precision(precision, dev)
    bundle = load_data(data, data_dir, download)
    cfg = train_config(data, model, epochs=epochs, batch_size=batch_size, lr=lr, dropout=dropout, precision=precision)
    if mc_samples and cfg.dropout <= 0:
        raise PruneError("--mc-samples samples dropout masks, and the model has none: give --dropout P (e.g. 0.3)")
    ckpts = parse_epochs(checkpoints, cfg.epochs, "--checkpoints")
    snapshots = parse_epochs(embeddings, cfg.epochs, "--embeddings")
    n, C = len(bundle.train), len(bundle.classes)
    clean = bundle.train.y
    if label_noise > 0:
        if C < 2:
            raise PruneError("--label-noise needs at least two classes")
        # the model trains on the flipped labels; the fingerprint is of the labels as trained,
        # so a manifest of this run only matches data loaded through labels_as_trained().
        # A new Split (same inputs) rather than an edit: the loader's bundle stays clean.
        bundle = dataclasses.replace(bundle, train=dataclasses.replace(bundle.train, y=flip_labels(clean, C, label_noise, seed)))
        log(f"label noise: flipped {int(np.sum(bundle.train.y != clean))} of {n} training labels (seed {seed})")
    fp = fingerprint(bundle.name, "train", bundle.train.y, bundle.identity)
    full_train, ids, pool_ids = bundle.train, None, None
    if m is not None:
        ids = m.ids
        if m.fingerprint is None:
            log(f"note: {manifest} carries no fingerprint (not written by prune select); its ids are taken to be "
                f"{data}'s training samples")
        elif m.fingerprint != fp:
            raise PruneError(f"{manifest} was made for other data (fingerprint {str(m.fingerprint)[:12]}…) than "
                             f"{data} train (fingerprint {fp[:12]}…); select again on a run of this data")
        if ids[-1] >= n:
            raise PruneError(f"{manifest} names sample {ids[-1]} but {data} has {n} training samples")
        if m.weight is not None:
            log(f"note: {manifest} has a weight column; the query model trains on its samples unweighted")
        pool_ids = np.setdiff1d(np.arange(n, dtype=np.int64), ids, assume_unique=True) if pool else None
        if pool and len(pool_ids) == 0:
            raise PruneError(f"--pool: {manifest} keeps every training sample, so there is no pool to predict")
        bundle = dataclasses.replace(bundle, train=full_train.subset(ids))
        clean = clean[ids]
        log(f"training on {len(ids)} of {n} samples ({manifest})" + (f"; predicting the other {len(pool_ids)}"
                                                                     if pool else ""))
    n_full, n = n, len(bundle.train)
    if not W.main:
        # another rank of a torchrun job: it trains its shards of every batch; rank 0 gathers and writes
        for i in range(inits):
            net = build(cfg.model, bundle, seed + i, cfg.dropout)
            fit(net, bundle, np.arange(n, dtype=np.int64), cfg, epochs=cfg.epochs, device=dev, seed=seed + i)
        return run

    # Everything is written into a hidden sibling folder and renamed into place
    # at the end: a crash or Ctrl-C never leaves a run that looks complete.
    # After every epoch the folder holds what training needs to go on
    # (resume.pt), so an interrupt loses at most the epoch under way.
    if partial_lock is None:
        run.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_folder(run)
        partial.mkdir()
        lock = hold(partial)  # `prune clean` and --resume leave it alone while this process runs
    else:
        partial, lock = partial_lock
        if saved["fingerprint"] != fp:
            raise PruneError(f"the data of {data} changed since the interrupted recording in {partial} began "
                             "(another fingerprint); it cannot be resumed: record again without --resume")
        done = saved["fit"]["epoch"] + 1
        log(f"resuming {partial}: init {saved['init']} after epoch {done}/{cfg.epochs}, with the options it was "
            f"started with")
    t0 = time.perf_counter() - (0.0 if saved is None else saved["seconds"])
    keep = partial_lock is not None  # a resumed folder is kept whatever happens: it holds finished epochs
    try:
        attrs = trajectory_attrs(fingerprint=fp, classes=bundle.classes, epochs=cfg.epochs, eval_pass=eval_pass,
                                 snapshot_epochs=snapshots, label_noise=label_noise)
        if saved is not None:
            import zarr

            group = zarr.open_group(str(layout.trajectories(partial)), mode="r+")
        else:
            group = create_trajectories(layout.trajectories(partial), inits=inits, epochs=cfg.epochs,
                                        targets=bundle.train.y, num_classes=C, dtype=logits_dtype,
                                        eval_pass=eval_pass, attrs=attrs)
        if label_noise > 0 and saved is None:
            ct = group.create_array("clean_targets", shape=(n,), dtype="int64", chunks=(n,), dimension_names=("sample",))
            ct[:] = clean
        if ids is not None and saved is None:  # rows -> the data set's sample ids
            a = group.create_array("samples", shape=(n,), dtype="int64", chunks=(n,), dimension_names=("sample",))
            a[:] = ids
        pool_split = None
        if pool_ids is not None:
            from pipeline.engine.pool import PoolHook, create_pool

            pool_split = full_train.subset(pool_ids)
            if saved is None:
                create_pool(group, pool_ids=pool_ids, pool_targets=pool_split.y, inits=inits, epochs=cfg.epochs,
                            num_classes=C, dtype=pool_dtype, mc_samples=mc_samples)
        if full_train.files is not None and data_dir is not None:  # file-backed: manifests will name each file
            from pipeline.io.files import relative_paths, write_files

            write_files(layout.files_table(partial), relative_paths(full_train.files, data_dir))
        eval_cols: dict[str, list] = saved["eval_cols"] if saved else {f.name: [] for f in EVAL_SCHEMA}
        train_ids = np.arange(n, dtype=np.int64)
        final_test = list(saved["final_test"]) if saved else []
        for i in range(saved["init"] if saved else 0, inits):
            s = seed + i
            net = build(cfg.model, bundle, s, cfg.dropout)
            continued = saved["fit"] if saved is not None and i == saved["init"] else None
            if 0 in ckpts and continued is None:
                save_checkpoint(layout.checkpoint(partial, i, 0), net)
            hook = RecordHook(run_dir=partial, group=group, init=i, bundle=bundle, device=dev, dtype=logits_dtype,
                              eval_pass=eval_pass, checkpoints=set(ckpts) - {0}, eval_batch=max(256, 2 * cfg.batch_size),
                              every_epoch=True)
            hooks = [hook]
            if snapshots:
                emb = EmbeddingHook(group=group, init=i, bundle=bundle, device=dev, snapshots=snapshots,
                                    batch_size=max(256, 2 * cfg.batch_size))
                if 0 in snapshots and continued is None:
                    emb.capture(0, net)
                hooks.append(emb)
            if pool_split is not None:
                ph = PoolHook(group=group, init=i, pool=pool_split, device=dev, epochs=cfg.epochs, dtype=pool_dtype,
                              mc_samples=mc_samples, seed=s, snapshots=snapshots, batch_size=max(256, 2 * cfg.batch_size))
                if 0 in snapshots and continued is None:
                    ph.capture(0, net)
                hooks.append(ph)

            def save_state(state, i=i, hook=hook):
                # on the writer thread, after this epoch's logits and dynamics: training does not wait for it
                snapshot = {"version": RESUME_VERSION, "args": args, "fingerprint": fp, "init": i, "fit": state,
                            "eval_cols": {k: list(v) for k, v in eval_cols.items()}, "final_test": list(final_test),
                            "seconds": time.perf_counter() - t0}
                hook.writer.after_writes(write_state, layout.resume_state(partial), snapshot)
            t_init = time.perf_counter()

            eta = Eta(cfg.epochs)
            bar = EpochProgress(f"init {i} ", cfg.epochs, log, start=0 if continued is None else continued["epoch"] + 1)

            def progress(e, i=i, t_init=t_init, eta=eta, bar=bar):
                v, t = e.evals["val"], e.evals["test"]
                bar.epoch(f"init {i} epoch {e.epoch + 1:>3}/{cfg.epochs}  lr {e.lr:.4f}  train loss {e.train_loss:.4f}  "
                          f"val acc {v.accuracy:.4f}  test acc {t.accuracy:.4f}  worst class {t.worst_class_accuracy:.4f}  "
                          f"{time.perf_counter() - t_init:6.1f}s  {eta(e.epoch)}")

            with bar:
                logs = fit(net, bundle, train_ids, cfg, epochs=cfg.epochs, device=dev, seed=s, hooks=hooks,
                           progress=progress, resume=continued, save_state=save_state, on_step=bar.step)
            hook.close()
            final_test.append(logs[-1].evals["test"].accuracy)
            for k, v in hook.eval_rows.items():
                eval_cols[k].extend(v)
        write_table(layout.eval_table(partial), eval_cols, EVAL_SCHEMA)
        info = run_info(
            data=data,
            data_dir=data_dir,
            n_train=n,
            **({} if ids is None else {
                "n_total": n_full,
                "manifest": {"path": str(manifest), "n_kept": len(ids), "method": m.meta.get("method"),
                             "rate": m.meta.get("rate"), "fingerprint": m.fingerprint},
                "pool": pool_ids is not None,
                "n_pool": 0 if pool_ids is None else len(pool_ids),
                "mc_samples": mc_samples,
            }),
            n_val=len(bundle.val),
            n_test=len(bundle.test),
            classes=list(bundle.classes),
            input_shape=list(bundle.input_shape),
            model=cfg.model,
            config=asdict(cfg),
            epochs=cfg.epochs,
            inits=inits,
            seed=seed,
            seeds=[seed + i for i in range(inits)],
            record_pass="train",
            eval_pass=eval_pass,
            logits_dtype=logits_dtype,
            checkpoints=ckpts,
            snapshot_epochs=snapshots,
            label_noise=label_noise,
            label_noise_seed=seed,
            label_noise_flipped=int(np.sum(bundle.train.y != clean)),
            fingerprint=fp,
            data_identity=bundle.identity,
            device=str(dev),
            final_test_accuracy=final_test,
            versions=versions(),
            **({"processes": W.size} if W.distributed else {}),
        )
        # how this recording ran, apart from what it recorded: run.json has the same bytes for the same inputs and seed
        write_json(layout.run_log(partial), {"seconds": round(time.perf_counter() - t0, 2), "command": command_line(),
                                             "torch_threads": torch.get_num_threads(), "resumed": saved is not None})
        from pipeline.io.checksums import write_checksums

        write_checksums(partial)  # what `prune check` verifies: every file written above
        write_run_info(partial, info)  # the completion marker, written last
    except PruneError:
        if not keep:
            shutil.rmtree(partial, ignore_errors=True)  # bad input or diverged training: nothing worth keeping
        raise
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: the finished epochs are kept
        raise Interrupted.of(err).with_kept(partial, f"continue with `prune record --resume --run {run}`, or remove "
                                                     f"it with `prune clean --run-parent {run.parent} --yes`") from None
    finally:
        if partial_lock is None:
            _close(lock)
    swap_into_place(partial, claim, is_run, force)  # keeps the partial (and says where) if it cannot swap
    # resume.pt goes only now: a kill at any step before the swap (the checksums of a large run take minutes)
    # leaves a partial that --resume continues; checksums.json does not cover it, so a kill here is harmless too
    layout.resume_state(run).unlink(missing_ok=True)
    return run
