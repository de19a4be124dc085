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

from pipeline.data.longtail import check_imbalance, longtail_bundle, longtail_shares
from pipeline.data.noise import flip_labels
from pipeline.io import PruneError, fingerprint, layout, write_json
from pipeline.io.checkpoints import load_state, save_checkpoint
from pipeline.io.checkpoints import save_state as write_state
from pipeline.io.folders import Staged, hold, in_use, is_run, partials_of, staged
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
    imbalance: float = 1.0,
    imbalance_seed: int | None = None,
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

    With ``imbalance`` R > 1 the training set is first made long-tailed
    (CIFAR-10-LT's profile, :mod:`pipeline.data.longtail`; the samples drawn
    from ``imbalance_seed``, default ``seed``): the run's data set is then
    that set, its samples renumbered 0..n'−1, and a manifest indexes it.
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
                             pool=pool, mc_samples=mc_samples, dropout=dropout, precision=precision,
                             imbalance=imbalance, imbalance_seed=imbalance_seed)
    finally:
        if W.distributed:
            D.teardown()


def _record_stage(*, run, data, data_dir, download, model, epochs, inits, seed, batch_size, lr, device, eval_pass,
                  checkpoints, logits_dtype, force, log, embeddings, label_noise, resume, manifest, pool, mc_samples,
                  dropout, precision, imbalance, imbalance_seed) -> Path:
    stage = saved = None
    if resume:
        # the options of the interrupted recording, checked as if given now
        stage = _run_stage(run, force)
        partial, lock, saved = find_resumable(run)
        stage.open(partial, lock)  # the stage owns the lock from here on, and never removes this folder
        spec = RecordSpec.from_json(saved["args"])
    else:
        if imbalance_seed is not None and imbalance == 1:
            raise PruneError("--imbalance-seed draws the samples an --imbalance long tail keeps: give --imbalance R "
                             "(R > 1) too")
        spec = RecordSpec(data=data, data_dir=data_dir, model=model, epochs=epochs, inits=inits, seed=seed,
                          batch_size=batch_size, lr=lr, eval_pass=eval_pass, checkpoints=checkpoints,
                          logits_dtype=logits_dtype, embeddings=embeddings, label_noise=label_noise,
                          manifest=None if manifest is None else os.fspath(manifest), pool=bool(pool),
                          mc_samples=int(mc_samples), dropout=dropout, precision=precision,
                          imbalance=imbalance, imbalance_seed=seed if imbalance_seed is None else imbalance_seed)
    try:
        return _record(run=run, download=download, device=device, force=force, log=log, spec=spec, saved=saved,
                       stage=stage)
    finally:
        if stage is not None:
            stage.release()  # a no-op once the recording ran; the lock of a resume that stopped before it


def _run_stage(run: Path, force: bool) -> Staged:
    """The run folder, claimed; written in a hidden sibling that an interrupt keeps (and a crash after an epoch)."""
    return staged(run, what="recorded run", recognise=is_run, force=force, flag="--run", keep_on_interrupt=True,
                  hint=f"continue with `prune record --resume --run {run}`, or remove it with "
                       f"`prune clean --run-parent {run.parent} --yes`",
                  resumable=lambda partial: layout.resume_state(partial).exists())


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


@dataclasses.dataclass(frozen=True)
class RecordSpec:
    """What one ``prune record`` records, checked once (:func:`_check_options`, before anything is loaded); an
    interrupted recording keeps it in resume.pt (:meth:`to_json`) and ``--resume`` continues with exactly it."""

    data: str
    data_dir: str | None
    model: str | None
    epochs: int | None
    inits: int
    seed: int
    batch_size: int | None
    lr: float | None
    eval_pass: bool
    checkpoints: str
    logits_dtype: str
    embeddings: str
    label_noise: float
    manifest: str | None = None
    pool: bool = False
    mc_samples: int = 0
    dropout: float | None = None
    precision: str | None = None
    imbalance: float = 1.0
    imbalance_seed: int | None = None  # None (a spec kept before --imbalance existed): the seed

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> "RecordSpec":
        """A kept spec; keys an older recording did not keep take their defaults."""
        return cls(**{f.name: doc[f.name] for f in dataclasses.fields(cls) if f.name in doc})


@dataclasses.dataclass
class _Recording:
    """One recording, settled before any folder is made: what it trains on, how, and what it keeps."""

    run: Path
    spec: RecordSpec  # the options, as resume.pt keeps them
    saved: dict | None  # the state an interrupted recording kept (None: a fresh recording)
    log: Callable[[str], None]
    dev: object  # the torch device
    cfg: object  # the training recipe (engine.setup.TrainConfig)
    bundle: object  # the data as trained on: the --imbalance long tail, labels after --label-noise, the manifest's samples only
    full_train: object  # every training sample, of the long-tailed set with --imbalance (the pool is taken from it)
    clean: np.ndarray  # the labels before --label-noise, of the samples trained on
    fp: str  # the fingerprint of the labels as trained
    ckpts: list[int]
    snapshots: list[int]
    n_full: int  # training samples in the data set (the long-tailed set with --imbalance)
    manifest: object = None  # the --manifest read (None without one)
    ids: np.ndarray | None = None  # the data set's id of each trained sample (None: all of them)
    pool_split: object = None  # the samples predicted but not trained on (--pool)
    pool_ids: np.ndarray | None = None
    eval_cols: dict = dataclasses.field(default_factory=dict)  # eval.parquet's rows so far
    final_test: list = dataclasses.field(default_factory=list)  # each finished init's final test accuracy
    t0: float = 0.0  # when the recording started (a resumed one counts the seconds before the interrupt)

    @property
    def n(self) -> int:
        return len(self.bundle.train)

    @property
    def pool_dtype(self) -> str:
        return "float16" if self.spec.logits_dtype == "none" else self.spec.logits_dtype  # what pool scores read


def _record(*, run: Path, download: bool, device: str, force: bool, log, spec: RecordSpec, saved: dict | None,
            stage: Staged | None) -> Path:
    """Check, prepare, then write the recording into its hidden folder and swap that into place."""
    from pipeline.engine import distributed as D

    W = D.world()
    _check_options(spec)
    if saved is None:
        from pipeline.io.atomic import probe_writable

        probe_writable(run, file=False)  # a read-only or full place fails before the data is loaded and anything trains
    manifest = None
    if spec.manifest is not None:
        from pipeline.io import read_manifest

        manifest = read_manifest(spec.manifest)  # one line for a missing or damaged file, before any training
    if stage is None:
        stage = _claim(run, force, W)
    r = _prepare(run, spec, saved, device, download, log, manifest)
    if not W.main:
        _train_as_other_rank(r)
        return run
    if saved is None:
        check_free_space(run, r)
    extra = "".join((f", of {r.n_full}" if r.ids is not None else "",
                     f", a pool of {len(r.pool_ids)}" if r.pool_ids is not None else "",
                     ", with an eval pass" if spec.eval_pass else "",
                     f", long-tailed (imbalance {spec.imbalance:g})" if spec.imbalance != 1 else "",
                     f", {spec.label_noise:g} of the labels flipped" if spec.label_noise else ""))
    log(f"recording {r.cfg.model} on {spec.data}, {r.n} samples{extra}, for {r.cfg.epochs} epochs"
        + (f" × {spec.inits} inits" if spec.inits > 1 else ""))
    # Everything is written into a hidden sibling folder and renamed into place
    # at the end: a crash or Ctrl-C never leaves a run that looks complete.
    # After every epoch the folder holds what training needs to go on
    # (resume.pt), so an interrupt loses at most the epoch under way.
    with stage as partial:
        if saved is not None:
            _check_resumed(r, partial)
        r.t0 = time.perf_counter() - (0.0 if saved is None else saved["seconds"])
        group = _open_group(r, partial)
        r.eval_cols = saved["eval_cols"] if saved else {f.name: [] for f in EVAL_SCHEMA}
        r.final_test = list(saved["final_test"]) if saved else []
        for i in range(saved["init"] if saved else 0, r.spec.inits):
            _record_init(r, partial, group, i)
        _finish(r, partial, W)
    # resume.pt goes only now: a kill at any step before the swap (the checksums of a large run take minutes)
    # leaves a partial that --resume continues; checksums.json does not cover it, so a kill here is harmless too
    layout.resume_state(run).unlink(missing_ok=True)
    return run


#: Bytes a recording writes per sample and epoch besides the logits (dynamics/: the per-sample scalars;
#: docs/scale.md, bench/RESULTS.md §9), and the margin kept free beyond the projection.
DYNAMICS_BYTES, SPARE = 34, 1.1


def projected_bytes(r: "_Recording") -> int:
    """What the recording will write: logits (both passes with --eval-pass; the pool's too) and dynamics."""
    spec, C = r.spec, len(r.bundle.classes)
    per_logit = {"float16": 2, "float32": 4, "none": 0}[spec.logits_dtype]
    rows = r.n * (2 if spec.eval_pass else 1) + (0 if r.pool_ids is None else len(r.pool_ids))
    return int(spec.inits * r.cfg.epochs * (rows * C * per_logit + r.n * DYNAMICS_BYTES))


def check_free_space(run: Path, r: "_Recording") -> None:
    """Refuse, before any training, a recording its disk cannot hold (a full disk mid-run keeps a resumable
    partial, but only after hours of training)."""
    need = projected_bytes(r)
    where = next(p for p in (Path(run).resolve(), *Path(run).resolve().parents) if p.exists())
    free = shutil.disk_usage(where).free
    if need * SPARE > free:
        cheaper = " or record with --logits none (dynamics only)" if r.spec.logits_dtype != "none" else ""
        raise PruneError(f"the recording needs about {_gb(need)} but {where} has {_gb(free)} free: free some "
                         f"space, choose another --run{cheaper}")


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def imbalance_seed(spec: RecordSpec) -> int:
    """The seed the --imbalance long tail is drawn from: its own, or the recording's."""
    return spec.seed if spec.imbalance_seed is None else int(spec.imbalance_seed)


def _check_options(spec: RecordSpec) -> None:
    """One line for options that cannot go together, before anything is loaded."""
    inits, logits_dtype, eval_pass = spec.inits, spec.logits_dtype, spec.eval_pass
    label_noise, pool, mc_samples = spec.label_noise, spec.pool, spec.mc_samples
    if inits < 1:
        raise PruneError(f"--inits must be at least 1, got {inits}")
    if logits_dtype not in ("float16", "float32", "none"):
        raise PruneError(f"--logits must be float16, float32 or none, got {logits_dtype!r}")
    if logits_dtype == "none" and eval_pass:
        raise PruneError("--eval-pass records eval-mode logits, which --logits none does not keep: drop --eval-pass "
                         "(dynamics/ keeps the training pass's scalars) or record with --logits float16")
    if not 0.0 <= label_noise < 1.0:
        raise PruneError(f"--label-noise must be a fraction in [0, 1), got {label_noise}")
    check_imbalance(spec.imbalance)
    if pool and spec.manifest is None:
        raise PruneError("--pool predicts the samples a --manifest leaves out: give --manifest too")
    if mc_samples < 0 or (mc_samples and not pool):
        raise PruneError("--mc-samples must be a count >= 0, and needs --manifest M --pool (it samples the pool)"
                         if mc_samples else f"--mc-samples must be a count >= 0, got {mc_samples}")


def _claim(run: Path, force: bool, W) -> Staged | None:
    """Rank 0 claims the run folder (under torchrun every rank stops with its line if it cannot); others get None."""
    from pipeline.engine import distributed as D

    stage = None
    if W.main:
        try:
            stage = _run_stage(run, force)
        except PruneError as err:
            if W.distributed:
                D.broadcast_object(str(err))  # every rank stops, with rank 0's line
            raise
    if W.distributed:
        failed = D.broadcast_object(None)
        if failed:
            raise PruneError(failed)
    return stage


def _prepare(run: Path, spec: RecordSpec, saved: dict | None, device: str, download: bool, log, manifest) -> _Recording:
    """The device, the data (made long-tailed by --imbalance, labels flipped by --label-noise, cut to the manifest's
    samples) and the recipe."""
    from pipeline.engine.loop import resolve_device
    from pipeline.engine.setup import load_data, train_config

    data, seed, label_noise, precision = spec.data, spec.seed, spec.label_noise, spec.precision
    dev = resolve_device(device)
    if precision is not None:
        from pipeline.engine.setup import check_precision

        check_precision(precision, dev)
    bundle = load_data(data, spec.data_dir, download)
    cfg = train_config(data, spec.model, epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr,
                       dropout=spec.dropout, precision=precision)
    if spec.mc_samples and cfg.dropout <= 0:
        raise PruneError("--mc-samples samples dropout masks, and the model has none: give --dropout P (e.g. 0.3)")
    ckpts = parse_epochs(spec.checkpoints, cfg.epochs, "--checkpoints")
    snapshots = parse_epochs(spec.embeddings, cfg.epochs, "--embeddings")
    if spec.imbalance != 1.0:
        # the long-tailed set is the run's data set: its samples renumbered 0..n'-1, its identity (and so the
        # fingerprint) its own, so a manifest of the balanced set is refused on it and the other way round
        before = bundle.train.y
        bundle, kept = longtail_bundle(bundle, spec.imbalance, imbalance_seed(spec))
        sizes = np.bincount(before, minlength=len(bundle.classes))
        counts = np.bincount(bundle.train.y, minlength=len(bundle.classes))
        log(f"long tail: imbalance {spec.imbalance:g} keeps {len(kept)} of {len(before)} training samples, per class "
            f"{', '.join(map(str, counts))} (seed {imbalance_seed(spec)})")
        short = [c for c, share in enumerate(longtail_shares(int(sizes.max()), len(sizes), spec.imbalance))
                 if share > sizes[c]]
        if short:
            which = f"class {short[0]} has" if len(short) == 1 else f"classes {', '.join(map(str, short))} have"
            log(f"note: {which} fewer samples than the profile's share; all of them are kept")
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
    r = _Recording(run=run, spec=spec, saved=saved, log=log, dev=dev, cfg=cfg, bundle=bundle, full_train=bundle.train,
                   clean=clean, fp=fingerprint(bundle.name, "train", bundle.train.y, bundle.identity), ckpts=ckpts,
                   snapshots=snapshots, n_full=n, manifest=manifest)
    if manifest is not None:
        _keep_manifest_samples(r)
    return r


def _keep_manifest_samples(r: _Recording) -> None:
    """``--manifest M``: train on M's samples only (and with --pool, predict the others); M is checked first."""
    m, path, data, n = r.manifest, r.spec.manifest, r.spec.data, r.n_full
    ids = m.ids
    if m.fingerprint is None:
        r.log(f"note: {path} carries no fingerprint (not written by prune select); its ids are taken to be "
              f"{data}'s training samples")
    elif m.fingerprint != r.fp:
        raise PruneError(f"{path} was made for other data (fingerprint {str(m.fingerprint)[:12]}…) than "
                         f"{data} train (fingerprint {r.fp[:12]}…); select again on a run of this data")
    if ids[-1] >= n:
        raise PruneError(f"{path} names sample {ids[-1]} but {data} has {n} training samples")
    if m.weight is not None:
        r.log(f"note: {path} has a weight column; the query model trains on its samples unweighted")
    if r.spec.pool:
        r.pool_ids = np.setdiff1d(np.arange(n, dtype=np.int64), ids, assume_unique=True)
        if len(r.pool_ids) == 0:
            raise PruneError(f"--pool: {path} keeps every training sample, so there is no pool to predict")
        r.pool_split = r.full_train.subset(r.pool_ids)
    r.ids = ids
    r.bundle = dataclasses.replace(r.bundle, train=r.full_train.subset(ids))
    r.clean = r.clean[ids]
    r.log(f"training on {len(ids)} of {n} samples ({path})" + (f"; predicting the other {len(r.pool_ids)}"
                                                                if r.pool_ids is not None else ""))


def _train_as_other_rank(r: _Recording) -> None:
    """Another rank of a torchrun job: it trains its shards of every batch; rank 0 gathers and writes."""
    from pipeline.engine.loop import fit
    from pipeline.engine.setup import build

    for i in range(r.spec.inits):
        net = build(r.cfg.model, r.bundle, r.spec.seed + i, r.cfg.dropout)
        fit(net, r.bundle, np.arange(r.n, dtype=np.int64), r.cfg, epochs=r.cfg.epochs, device=r.dev,
            seed=r.spec.seed + i)


def _check_resumed(r: _Recording, partial: Path) -> None:
    saved = r.saved
    if saved["fingerprint"] != r.fp:
        raise PruneError(f"the data of {r.spec.data} changed since the interrupted recording in {partial} began "
                         "(another fingerprint); it cannot be resumed: record again without --resume")
    done = saved["fit"]["epoch"] + 1
    r.log(f"resuming {partial}: init {saved['init']} after epoch {done}/{r.cfg.epochs}, with the options it was "
          f"started with")


def _open_group(r: _Recording, partial: Path):
    """trajectories.zarr: created with its fixed arrays (targets, clean targets, sample ids, pool), or reopened."""
    a, fresh, n = r.spec, r.saved is None, r.n
    if not fresh:
        import zarr

        group = zarr.open_group(str(layout.trajectories(partial)), mode="r+")
    else:
        attrs = trajectory_attrs(fingerprint=r.fp, classes=r.bundle.classes, epochs=r.cfg.epochs,
                                 eval_pass=a.eval_pass, snapshot_epochs=r.snapshots, label_noise=a.label_noise)
        group = create_trajectories(layout.trajectories(partial), inits=a.inits, epochs=r.cfg.epochs,
                                    targets=r.bundle.train.y, num_classes=len(r.bundle.classes),
                                    dtype=a.logits_dtype, eval_pass=a.eval_pass, attrs=attrs)
    if a.label_noise > 0 and fresh:
        ct = group.create_array("clean_targets", shape=(n,), dtype="int64", chunks=(n,), dimension_names=("sample",))
        ct[:] = r.clean
    if r.ids is not None and fresh:  # rows -> the data set's sample ids
        s = group.create_array("samples", shape=(n,), dtype="int64", chunks=(n,), dimension_names=("sample",))
        s[:] = r.ids
    if r.pool_split is not None and fresh:
        from pipeline.engine.pool import create_pool

        create_pool(group, pool_ids=r.pool_ids, pool_targets=r.pool_split.y, inits=a.inits, epochs=r.cfg.epochs,
                    num_classes=len(r.bundle.classes), dtype=r.pool_dtype, mc_samples=a.mc_samples)
    if r.full_train.files is not None and a.data_dir is not None:  # file-backed: manifests will name each file
        from pipeline.io.files import relative_paths, write_files

        write_files(layout.files_table(partial), relative_paths(r.full_train.files, a.data_dir))
    return group


def _record_init(r: _Recording, partial: Path, group, i: int) -> None:
    """Train init ``i`` (from its saved epoch, if resumed), recording every epoch and saving the state after it."""
    from pipeline.engine.embeddings import EmbeddingHook
    from pipeline.engine.loop import Eta, fit
    from pipeline.engine.progress import EpochProgress
    from pipeline.engine.recording import RecordHook
    from pipeline.engine.setup import build

    a, cfg, dev, snapshots = r.spec, r.cfg, r.dev, r.snapshots
    s, eval_batch = a.seed + i, max(256, 2 * cfg.batch_size)
    net = build(cfg.model, r.bundle, s, cfg.dropout)
    continued = r.saved["fit"] if r.saved is not None and i == r.saved["init"] else None
    if 0 in r.ckpts and continued is None:
        save_checkpoint(layout.checkpoint(partial, i, 0), net)
    hook = RecordHook(run_dir=partial, group=group, init=i, bundle=r.bundle, device=dev, dtype=a.logits_dtype,
                      eval_pass=a.eval_pass, checkpoints=set(r.ckpts) - {0}, eval_batch=eval_batch,
                      every_epoch=True)
    hooks = [hook]
    if snapshots:
        emb = EmbeddingHook(group=group, init=i, bundle=r.bundle, device=dev, snapshots=snapshots,
                            batch_size=eval_batch)
        if 0 in snapshots and continued is None:
            emb.capture(0, net)
        hooks.append(emb)
    if r.pool_split is not None:
        from pipeline.engine.pool import PoolHook

        ph = PoolHook(group=group, init=i, pool=r.pool_split, device=dev, epochs=cfg.epochs, dtype=r.pool_dtype,
                      mc_samples=a.mc_samples, seed=s, snapshots=snapshots, batch_size=eval_batch)
        if 0 in snapshots and continued is None:
            ph.capture(0, net)
        hooks.append(ph)

    def save_state(state):
        # on the writer thread, after this epoch's logits and dynamics: training does not wait for it
        snapshot = {"version": RESUME_VERSION, "args": a.to_json(), "fingerprint": r.fp, "init": i, "fit": state,
                    "eval_cols": {k: list(v) for k, v in r.eval_cols.items()}, "final_test": list(r.final_test),
                    "seconds": time.perf_counter() - r.t0}
        hook.writer.after_writes(write_state, layout.resume_state(partial), snapshot)

    t_init = time.perf_counter()
    eta = Eta(cfg.epochs)
    bar = EpochProgress(f"init {i} ", cfg.epochs, r.log, start=0 if continued is None else continued["epoch"] + 1)

    def progress(e):
        v, t = e.evals["val"], e.evals["test"]
        bar.epoch(f"init {i} epoch {e.epoch + 1:>3}/{cfg.epochs}  lr {e.lr:.4f}  train loss {e.train_loss:.4f}  "
                  f"val acc {v.accuracy:.4f}  test acc {t.accuracy:.4f}  worst class {t.worst_class_accuracy:.4f}  "
                  f"{time.perf_counter() - t_init:6.1f}s  {eta(e.epoch)}")

    with bar:
        logs = fit(net, r.bundle, np.arange(r.n, dtype=np.int64), cfg, epochs=cfg.epochs, device=dev, seed=s,
                   hooks=hooks, progress=progress, resume=continued, save_state=save_state, on_step=bar.step)
    hook.close()
    r.final_test.append(logs[-1].evals["test"].accuracy)
    for k, v in hook.eval_rows.items():
        r.eval_cols[k].extend(v)


def _finish(r: _Recording, partial: Path, W) -> None:
    """eval.parquet, log.json, checksums.json, then run.json: the completion marker, written last."""
    import torch

    from pipeline.engine.setup import command_line
    from pipeline.io.checksums import write_checksums

    write_table(layout.eval_table(partial), r.eval_cols, EVAL_SCHEMA)
    info = _run_json(r, W)
    # how this recording ran, apart from what it recorded: run.json has the same bytes for the same inputs and seed
    write_json(layout.run_log(partial), {"seconds": round(time.perf_counter() - r.t0, 2), "command": command_line(),
                                         "torch_threads": torch.get_num_threads(), "resumed": r.saved is not None})
    write_checksums(partial)  # what `prune check` verifies: every file written above
    write_run_info(partial, info)


def _run_json(r: _Recording, W) -> dict:
    """run.json of this recording (its bytes depend only on the inputs and the seed)."""
    from pipeline.engine.setup import versions

    a, m, ids, seed = r.spec, r.manifest, r.ids, r.spec.seed
    subset = {} if ids is None else {
        "n_total": r.n_full,
        "manifest": {"path": str(a.manifest), "n_kept": len(ids), "method": m.meta.get("method"),
                     "rate": m.meta.get("rate"), "fingerprint": m.fingerprint},
        "pool": r.pool_ids is not None,
        "n_pool": 0 if r.pool_ids is None else len(r.pool_ids),
        "mc_samples": a.mc_samples,
    }
    return run_info(
        data=a.data, data_dir=a.data_dir, n_train=r.n, **subset, n_val=len(r.bundle.val),
        n_test=len(r.bundle.test), classes=list(r.bundle.classes), input_shape=list(r.bundle.input_shape),
        model=r.cfg.model, config=asdict(r.cfg), epochs=r.cfg.epochs, inits=a.inits, seed=seed,
        seeds=[seed + i for i in range(a.inits)], record_pass="train", eval_pass=a.eval_pass,
        logits_dtype=a.logits_dtype, checkpoints=r.ckpts, snapshot_epochs=r.snapshots,
        **({"imbalance": float(a.imbalance), "imbalance_seed": imbalance_seed(a)} if a.imbalance != 1 else {}),
        label_noise=a.label_noise, label_noise_seed=seed,
        label_noise_flipped=int(np.sum(r.bundle.train.y != r.clean)), fingerprint=r.fp,
        data_identity=r.bundle.identity, device=str(r.dev), final_test_accuracy=r.final_test, versions=versions(),
        **({"processes": W.size} if W.distributed else {}),
    )
