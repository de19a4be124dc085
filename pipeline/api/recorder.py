"""``Recorder``: record a run from your own training loop.

The recording core of ``prune record`` (:class:`pipeline.engine.recording.TrajectoryWriter`)
without prune's data catalogue, models or loop::

    with Recorder("runs/mine", targets=y_train, num_classes=10, epochs=E) as rec:
        for epoch in range(E):
            for x, y, idx in loader:              # IndexedDataset adds idx
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                ...
                rec.log(epoch, idx, logits)        # no host sync on a GPU
            rec.log_eval(epoch, "val", val_logits, val_targets)   # optional: DRoP quotas, CDB-W

The result is an ordinary run folder: ``prune score``, ``prune select`` and
every later stage read it unchanged. As ``prune record`` does, everything is
written into a hidden sibling folder that is renamed into place by
:meth:`Recorder.close`; an exception inside the ``with`` block removes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pipeline.io import PruneError, fingerprint, layout
from pipeline.io.folders import is_run, staged

EVAL_SPLITS = ("val", "test")


@dataclass
class _InitState:
    epoch: int = -1  # the epoch being logged; -1 before the first log
    ended: int = -1  # the last epoch handed to the writer
    writer: Any = None
    seen: Any = None  # device bool (N + 1,): which samples this epoch has logged; row N collects bad ids
    bad: Any = None  # device int64 count of ids outside 0..N-1 this epoch (checked at the epoch's end)
    nonfinite: Any = None  # device int64 count of rows with NaN or infinite logits (checked likewise)
    eval_epochs: set = field(default_factory=set)


def _as_tensor(x, name: str, device=None):
    import torch

    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            t = torch.from_numpy(np.asarray(x))
        except TypeError:
            raise PruneError(f"{name} must be a torch tensor or a numpy array, got {type(x).__name__}") from None
    return t if device is None else t.to(device, non_blocking=True)


class Recorder:
    """Writes a run folder from per-batch logits logged in any training loop.

    Parameters
    ----------
    run_dir : path
        The run folder to create. An existing run is replaced only with
        ``force=True``; a non-empty folder that is not a run is never touched.
    targets : array of int, shape (N,)
        Training labels in sample order: sample ``i`` is index ``i`` of your
        data set (what :class:`IndexedDataset` returns).
    num_classes : int, optional
        C, the width of the logits (default ``max(targets) + 1``).
    epochs : int
        E, the epochs you will log (each one must log every sample once or more;
        the last logits of a sample in an epoch are kept).
    inits : int
        Independent trainings to record into the same run (``log(..., init=i)``);
        scores average over them.
    classes : sequence of str, optional
        Class names (default ``"0"``..``"C-1"``).
    data : str
        A name for the data set; with the targets it makes the run's
        fingerprint, which every score table and manifest carries.
    logits_dtype : "float16", "float32" or "none" (no logits array: dynamics/ only, as ``prune record --logits none``)
        Stored precision of the logits.
    snapshots : sequence of int
        Completed-epoch counts at which you will log embeddings with
        :meth:`log_embeddings` (0: before training), as ``prune record
        --embeddings`` takes them: moderate, prototype, k-center, D2, Cal and the
        gradient-based samplers read them.
    input_shape : sequence of int, optional
        One sample's shape (channels first), for the scores that rebuild the
        model from a :meth:`checkpoint` (GraNd, DeepFool).
    """

    def __init__(self, run_dir: str | os.PathLike, *, targets, epochs: int, num_classes: int | None = None,
                 inits: int = 1, classes: Sequence[str] | None = None, data: str = "custom",
                 logits_dtype: str = "float16", force: bool = False, model: str | None = None,
                 config: dict[str, Any] | None = None, snapshots: Sequence[int] = (),
                 input_shape: Sequence[int] | None = None):
        y = _as_tensor(targets, "targets").cpu().numpy()
        if y.ndim != 1 or len(y) == 0:
            raise PruneError(f"targets must be a non-empty one-dimensional array of labels, got shape {y.shape}")
        if y.dtype.kind not in "iu":
            if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise PruneError(f"targets must be integer class labels, got dtype {y.dtype}")
        y = y.astype(np.int64)
        C = int(y.max()) + 1 if num_classes is None else int(num_classes)
        if num_classes is None and C > len(y):  # nothing is sized by an unchecked label
            raise PruneError(f"label {C - 1} implies {C} classes, more than the {len(y)} samples; labels are class "
                             "ids 0..C-1 (pass num_classes= to say how many there are)")
        if C < 1 or y.min() < 0 or y.max() >= C:
            raise PruneError(f"targets must lie in 0..{C - 1} (num_classes={C}); found {int(y.min())}..{int(y.max())}")
        if int(epochs) < 1 or int(inits) < 1:
            raise PruneError(f"epochs and inits must be at least 1, got epochs={epochs}, inits={inits}")
        if logits_dtype not in ("float16", "float32", "none"):
            raise PruneError(f"logits_dtype must be float16, float32 or none (dynamics/ only), got {logits_dtype!r}")
        names = [str(c) for c in range(C)] if classes is None else [str(c) for c in classes]
        if len(names) != C:
            raise PruneError(f"classes names {len(names)} classes but num_classes is {C}")
        if len(set(names)) != C:
            raise PruneError(f"classes repeats a name: {names}")
        # what run.json's readers take, checked now rather than when the run is complete
        if not str(data):
            raise PruneError("data must name the data set (a non-empty string)")
        if model is not None and not isinstance(model, str):
            raise PruneError(f"model must be a name (a string) or None, got {type(model).__name__}")
        self.run = Path(run_dir)
        self.targets, self.num_classes, self.epochs, self.inits = y, C, int(epochs), int(inits)
        self.n = len(y)
        self.classes, self.data, self.dtype, self.force = names, str(data), logits_dtype, force
        self.model, self.config = model, dict(config or {})
        snaps = [int(e) for e in snapshots]
        if snaps != sorted(set(snaps)) or any(e < 0 or e > self.epochs for e in snaps):
            raise PruneError(f"snapshots must be distinct completed-epoch counts in 0..{self.epochs}, in order; "
                             f"got {list(snapshots)}")
        self.snapshots = snaps
        self.input_shape = None if input_shape is None else [int(v) for v in input_shape]
        self._emb_logged: set[tuple[int, int]] = set()  # (init, snapshot) pairs written
        self.checkpoints: list[int] = []
        self.fingerprint = fingerprint(self.data, "train", y)
        # claimed now; written in a hidden sibling (held against `prune clean`) that close() swaps into place
        self._stage = staged(self.run, what="recorded run", recognise=is_run, force=force, flag="run_dir")
        self._partial = self._stage.open()
        self._states = [_InitState() for _ in range(self.inits)]
        self._eval: dict[str, list] | None = None
        self._closed = False
        from pipeline.io.run import create_trajectories
        from pipeline.io.runinfo import trajectory_attrs

        try:
            self._group = create_trajectories(
                layout.trajectories(self._partial), inits=self.inits, epochs=self.epochs, targets=y, num_classes=C,
                dtype=logits_dtype, eval_pass=False,
                attrs=trajectory_attrs(fingerprint=self.fingerprint, classes=names, epochs=self.epochs, eval_pass=False,
                                       snapshot_epochs=self.snapshots))
        except BaseException:
            self._stage.discard()
            raise

    # -- logging -------------------------------------------------------------
    def log(self, epoch: int, idx, logits, init: int = 0) -> None:
        """Record one training batch: sample ids ``idx`` (B,) and their ``logits`` (B, C).

        Torch tensors on any device (kept there: no host sync per batch on a
        GPU) or numpy arrays. Epochs come in order; moving on to the next
        epoch ends the previous one, which must have logged every sample.
        """
        import torch

        st = self._state(epoch, init)
        if epoch != st.epoch:
            if epoch < st.epoch:
                raise PruneError(f"epoch {epoch} of init {init} was logged after epoch {st.epoch}; log epochs in order")
            if st.epoch >= 0 and st.ended < st.epoch:
                self._end(init)
            if epoch != st.ended + 1:
                raise PruneError(f"epoch {st.ended + 1} of init {init} was never logged (the next log is epoch {epoch})")
            st.epoch = epoch
        z = _as_tensor(logits, "logits")
        if z.ndim != 2 or z.shape[1] != self.num_classes:
            raise PruneError(f"logits must have shape (batch, {self.num_classes}), got {tuple(z.shape)}")
        if not (z.is_floating_point()):
            raise PruneError(f"logits must be floating point, got {z.dtype}")
        ids = _as_tensor(idx, "idx", z.device)
        if ids.dtype.is_floating_point or ids.dtype == torch.bool or ids.ndim != 1:
            raise PruneError(f"idx must be a one-dimensional array of integer sample ids, got {ids.dtype} {tuple(ids.shape)}")
        ids = ids.long()
        if len(ids) != len(z):
            raise PruneError(f"idx has {len(ids)} ids but logits have {len(z)} rows")
        if st.writer is None:
            self._start(st, init, z.device)
        if ids.device.type == "cpu":
            if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= self.n):
                bad = int(ids[(ids < 0) | (ids >= self.n)][0])
                raise PruneError(f"sample id {bad} is outside 0..{self.n - 1} (epoch {epoch}, init {init})")
            finite = torch.isfinite(z).all(dim=1)
            if not bool(finite.all()):
                bad = int(ids[~finite][0])
                raise PruneError(f"logits of sample {bad} are NaN or infinite (epoch {epoch}, init {init}): the "
                                 "training diverged, or the wrong tensor was logged")
        else:  # out-of-range ids go to the spare row and are counted, reported at the epoch's end (no host sync)
            out = (ids < 0) | (ids >= self.n)
            st.bad += out.sum()
            st.nonfinite += (~torch.isfinite(z).all(dim=1)).sum()
            ids = torch.where(out, torch.full_like(ids, self.n), ids)
        st.writer.scatter(ids, z)
        st.seen[ids] = True

    def end_epoch(self, epoch: int, init: int = 0) -> None:
        """End ``epoch`` now (optional: the next epoch's first ``log`` or ``close`` ends it too)."""
        st = self._state(epoch, init)
        if epoch != st.epoch or st.ended == epoch:
            raise PruneError(f"epoch {epoch} of init {init} is not the epoch being logged (that is {st.epoch})")
        self._end(init)

    def log_eval(self, epoch: int, split: str, logits, targets, init: int = 0) -> None:
        """Per-class recall, precision, F1 and loss of ``split`` ("val" or "test") after ``epoch``: eval.parquet.

        What DRoP's quota (``prune select --quota drop``) and CDB-W read;
        log "val" at least at the last epoch for them.
        """
        import torch

        from pipeline.engine.loop import class_metrics
        from pipeline.engine.recording import eval_rows
        from pipeline.io.tables import EVAL_SCHEMA

        self._state(epoch, init, logging=False)
        if split not in EVAL_SPLITS:
            raise PruneError(f"split must be one of {', '.join(EVAL_SPLITS)}, got {split!r}")
        z = _as_tensor(logits, "logits").cpu().float()
        y = _as_tensor(targets, "targets").cpu()
        if z.ndim != 2 or z.shape[1] != self.num_classes or y.ndim != 1 or len(y) != len(z):
            raise PruneError(f"log_eval needs logits (n, {self.num_classes}) and targets (n,), "
                             f"got {tuple(z.shape)} and {tuple(y.shape)}")
        y = y.long()
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise PruneError(f"{split} targets must lie in 0..{self.num_classes - 1}")
        key = (split, epoch)
        if key in self._states[init].eval_epochs:
            raise PruneError(f"{split} of epoch {epoch} (init {init}) was already logged")
        self._states[init].eval_epochs.add(key)
        if self._eval is None:
            self._eval = {f.name: [] for f in EVAL_SCHEMA}
        for k, v in eval_rows(init, epoch, {split: class_metrics(z, torch.as_tensor(y), self.num_classes)}).items():
            self._eval[k].extend(v)

    def log_embeddings(self, after: int, embeddings, classifier, *, val_embeddings=None, val_targets=None,
                       init: int = 0) -> None:
        """The penultimate features of every training sample after ``after`` completed epochs (one of
        ``snapshots``), in sample order, (N, dim), with the classifier that reads them: an ``nn.Linear``, or
        ``(weight (C, dim), bias (C,))``. ``val_embeddings`` (and ``val_targets``) of a validation split feed the
        samplers that match a validation gradient (glister, gradmatch with val). As ``prune record
        --embeddings`` writes them."""
        from pipeline.io.run import create_embeddings, create_heads

        if self._closed:
            raise PruneError("this Recorder is closed")
        if after not in self.snapshots:
            raise PruneError(f"log_embeddings(after={after}): not one of the snapshots declared when the Recorder was "
                             f"made ({self.snapshots or 'none'}; pass snapshots=[...])")
        if not isinstance(init, (int, np.integer)) or not 0 <= init < self.inits:
            raise PruneError(f"init must be in 0..{self.inits - 1}, got {init!r}")
        h = _as_tensor(embeddings, "embeddings").detach().float().cpu().numpy()
        if h.ndim != 2 or h.shape[0] != self.n or not np.all(np.isfinite(h)):
            raise PruneError(f"embeddings must be finite, shape ({self.n}, dim) in sample order, got {h.shape}")
        if hasattr(classifier, "weight") and hasattr(classifier, "bias"):
            weight, bias = classifier.weight, classifier.bias
        else:
            weight, bias = classifier
        w = _as_tensor(weight, "classifier weight").detach().float().cpu().numpy()
        b = _as_tensor(bias, "classifier bias").detach().float().cpu().numpy()
        if w.shape != (self.num_classes, h.shape[1]) or b.shape != (self.num_classes,):
            raise PruneError(f"the classifier must map {h.shape[1]} features to {self.num_classes} classes: weight "
                             f"({self.num_classes}, {h.shape[1]}) and bias ({self.num_classes},), got {w.shape}, {b.shape}")
        if val_embeddings is None:
            hv, yv = np.zeros((0, h.shape[1]), np.float32), np.zeros(0, np.int64)
        else:
            hv = _as_tensor(val_embeddings, "val_embeddings").detach().float().cpu().numpy()
            yv = _as_tensor(val_targets, "val_targets").cpu().numpy().astype(np.int64)
            if hv.ndim != 2 or hv.shape[1] != h.shape[1] or len(yv) != len(hv):
                raise PruneError("val_embeddings must be (n_val, dim) with one val_targets label per row")
        keys = set(self._group.array_keys())
        k = self.snapshots.index(after)
        if "embeddings" not in keys:
            create_embeddings(self._group, inits=self.inits, snapshots=len(self.snapshots), n=self.n, dim=h.shape[1])
            create_heads(self._group, inits=self.inits, snapshots=len(self.snapshots), num_classes=self.num_classes,
                         dim=h.shape[1], val=len(yv))
            t = self._group.create_array("val_targets", shape=(len(yv),), dtype="int64", chunks=(max(1, len(yv)),),
                                         dimension_names=("sample",))
            t[:] = yv
        elif self._group["embeddings"].shape[3] != h.shape[1] or self._group["val_targets"].shape[0] != len(yv):
            raise PruneError("every log_embeddings call must give the same feature width and validation split")
        self._group["embeddings"][init, k] = h.astype(np.float16)
        self._group["heads"][init, k] = np.concatenate([b[:, None], w], axis=1)
        if len(yv):
            self._group["val_embeddings"][init, k] = hv.astype(np.float16)
        self._emb_logged.add((int(init), k))

    def checkpoint(self, after: int, model, init: int = 0) -> None:
        """Save ``model``'s weights after ``after`` completed epochs, as ``prune record --checkpoints`` does
        (GraNd and DeepFool load them; they rebuild the model from the Recorder's ``model=`` name and
        ``input_shape=``, so it must be one of prune's models)."""
        from pipeline.io.checkpoints import save_checkpoint

        if self._closed:
            raise PruneError("this Recorder is closed")
        if not isinstance(after, (int, np.integer)) or not 0 <= after <= self.epochs:
            raise PruneError(f"checkpoint(after={after!r}): a completed-epoch count in 0..{self.epochs}")
        save_checkpoint(layout.checkpoint(self._partial, init, int(after)), model)
        if int(after) not in self.checkpoints:
            self.checkpoints.append(int(after))

    # -- finishing -------------------------------------------------------------
    def close(self) -> Path:
        """End the last epochs, write eval.parquet and run.json, and move the run into place; returns its path.

        Every init must have logged all ``epochs``; otherwise nothing is kept
        (one error line says what is missing).
        """
        if self._closed:
            return self.run
        try:
            for i, st in enumerate(self._states):
                if st.epoch < 0:
                    raise PruneError(f"init {i} logged nothing; a run needs every init's {self.epochs} epochs")
                if st.ended < st.epoch:
                    self._end(i)
                if st.ended != self.epochs - 1:
                    raise PruneError(f"init {i} logged {st.ended + 1} of {self.epochs} epochs; "
                                     f"log them all (or create the Recorder with epochs={st.ended + 1})")
                missing = [e for k, e in enumerate(self.snapshots) if (i, k) not in self._emb_logged]
                if missing:
                    raise PruneError(f"init {i} logged no embeddings after epoch(s) {', '.join(map(str, missing))}, "
                                     "declared in snapshots=; call log_embeddings for each")
            self._write_tables()
            self._closed = True
        except BaseException:
            self.abort()
            raise
        return self._stage.commit()

    def abort(self) -> None:
        """Stop and remove everything written so far (the run folder is left as it was)."""
        self._closed = True
        for st in self._states:
            if st.writer is not None:
                try:
                    st.writer.close()
                except Exception:
                    pass
        self._stage.discard()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    # -- internals -------------------------------------------------------------
    def _state(self, epoch: int, init: int, logging: bool = True) -> _InitState:
        if self._closed:
            raise PruneError("this Recorder is closed")
        if not isinstance(init, (int, np.integer)) or not 0 <= init < self.inits:
            raise PruneError(f"init must be in 0..{self.inits - 1}, got {init!r}")
        if not isinstance(epoch, (int, np.integer)) or not 0 <= epoch < self.epochs:
            raise PruneError(f"epoch must be an integer in 0..{self.epochs - 1} (epochs={self.epochs}), got {epoch!r}")
        return self._states[int(init)]

    def _start(self, st: _InitState, init: int, device) -> None:
        import torch

        from pipeline.engine.recording import TrajectoryWriter

        st.writer = TrajectoryWriter(run_dir=self._partial, group=self._group, init=init, targets=self.targets,
                                     device=device, dtype=self.dtype, spare_row=True)
        st.seen = torch.zeros(self.n + 1, dtype=torch.bool, device=device)
        st.bad = torch.zeros((), dtype=torch.int64, device=device)
        st.nonfinite = torch.zeros((), dtype=torch.int64, device=device)

    def _end(self, init: int) -> None:
        st = self._states[init]
        epoch = st.epoch
        bad = int(st.bad)
        if bad:
            raise PruneError(f"epoch {epoch} of init {init} logged {bad} sample id(s) outside 0..{self.n - 1}")
        nonfinite = int(st.nonfinite)
        if nonfinite:
            raise PruneError(f"epoch {epoch} of init {init} logged NaN or infinite logits for {nonfinite} sample(s): "
                             "the training diverged, or the wrong tensor was logged")
        seen = st.seen[: self.n]
        missing = self.n - int(seen.sum())
        if missing:
            first = np.flatnonzero(~seen.cpu().numpy())[:5].tolist()
            raise PruneError(f"epoch {epoch} of init {init} ended with {missing} of {self.n} samples never logged "
                             f"(e.g. sample {', '.join(map(str, first))}); every epoch must log every sample")
        st.writer.end_epoch(epoch)
        st.seen.zero_()
        st.ended = epoch

    def _write_tables(self) -> None:
        import torch

        from pipeline.engine.setup import versions
        from pipeline.io.runinfo import run_info, write_run_info
        from pipeline.io.tables import EVAL_SCHEMA, write_table

        for st in self._states:
            st.writer.close()
        write_table(layout.eval_table(self._partial), self._eval or {f.name: [] for f in EVAL_SCHEMA}, EVAL_SCHEMA)
        write_run_info(self._partial, run_info(
            data=self.data, n_train=self.n, classes=self.classes, model=self.model, config=self.config,
            epochs=self.epochs, inits=self.inits, seed=None, record_pass="train", eval_pass=False,
            logits_dtype=self.dtype, checkpoints=sorted(self.checkpoints), snapshot_epochs=self.snapshots,
            label_noise=0.0, **({} if self.input_shape is None else {"input_shape": self.input_shape}),
            fingerprint=self.fingerprint, recorded_by="Recorder", torch=torch.__version__, versions=versions()))
