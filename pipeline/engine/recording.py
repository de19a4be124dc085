"""The recording hook: per-sample training dynamics, scattered into sample order."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from pipeline.engine.hooks import Hook

from pipeline.io import layout
from pipeline.io.checkpoints import save_checkpoint
from pipeline.io.run import logits_shape
from pipeline.io.tables import DYNAMICS_DICTIONARY, DYNAMICS_SCHEMA, EVAL_SCHEMA, write_table


#: The TDDS smoothing constant inside the logs of ``kl_step`` (the authors' code, as ``tdds.kl_steps``).
KL_EPS = 1e-8
#: float32 bytes of one slice of samples in :func:`kl_step`: its temporaries stay this small whatever N·C is.
KL_SLICE_BYTES = 16 << 20


def kl_step(z: torch.Tensor, log_prev: torch.Tensor | None, out_log: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """TDDS's per-epoch term of logits ``z`` (N, C) against the previous epoch of the same samples.

    ``log_prev`` is log(p_{t−1} + 1e-8) (N, C) float32, as returned for the
    previous epoch (None at t = 0). Returns ``(d, log_p)``:
    d_t = Σ_c |p_{t,c} · (log(p_{t,c}+1e-8) − log(p_{t−1,c}+1e-8))| in float32
    (NaN without a previous epoch), computed as ``tdds.kl_steps`` does, and
    log(p_t + 1e-8) for the next epoch. ``out_log`` receives log_p (it may be
    ``log_prev`` itself: each slice of samples is compared before it is
    overwritten), so a recorder holds one (N, C) float32 buffer, N·C·4 bytes,
    and the temporaries are slices of ``KL_SLICE_BYTES``.
    """
    z = z.float()
    n, C = z.shape
    if out_log is None:
        out_log = torch.empty((n, C), dtype=torch.float32, device=z.device)
    d = torch.full((n,), float("nan"), dtype=torch.float32, device=z.device)
    eps = torch.tensor(KL_EPS, dtype=torch.float32, device=z.device)
    sub = max(1, KL_SLICE_BYTES // max(1, 4 * C))
    for s in range(0, n, sub):
        p = torch.softmax(z[s:s + sub], dim=1)
        logp = torch.log(p + eps)
        if log_prev is not None:
            d[s:s + sub] = (logp - log_prev[s:s + sub]).mul_(p).abs_().sum(dim=1)
        out_log[s:s + sub] = logp
    return d, out_log


def dynamics_columns(z: torch.Tensor, y: torch.Tensor, prev: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Per-sample scalars of one epoch from logits ``z`` (N, C) and labels ``y`` (N,).

    margin is the logit margin z_y − max_{c≠y} z_c (AUM); prob_margin the same
    on probabilities; el2n is ‖softmax(z) − onehot(y)‖₂. The two largest
    logits give every "max over the other classes" without copying ``z``.
    kl_step is TDDS's term against ``prev``, the previous epoch's logits of
    the same samples (NaN without them; see :func:`kl_step`).
    """
    log_prev = None if prev is None else kl_step(prev, None)[1]
    cols = _scalars(z, y)
    cols["kl_step"] = kl_step(z, log_prev)[0]
    return {k: v.cpu().numpy() for k, v in cols.items()}


def _scalars(z: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The columns of :func:`dynamics_columns` but kl_step, as tensors where ``z`` is."""
    z = z.float()
    rows = torch.arange(len(y), device=z.device)
    lse = torch.logsumexp(z, dim=1)
    logp = z - lse[:, None]
    p = logp.exp()
    top = z.topk(min(2, z.shape[1]), dim=1)
    pred = top.indices[:, 0]
    z_true = z[rows, y]
    z_other = top.values[:, -1].where(pred == y, top.values[:, 0]) if z.shape[1] > 1 else torch.full_like(z_true, float("-inf"))
    p_true = (z_true - lse).exp()
    p_other = (z_other - lse).exp()
    others = p.scatter(1, y[:, None], 0.0)
    return {
        "target": y,
        "pred": pred,
        "loss": lse - z_true,
        "correct": pred == y,
        "p_true": p_true,
        "margin": z_true - z_other,
        "prob_margin": p_true - p_other,
        # ‖p − e_y‖² = Σ_{c≠y} p_c² + (Σ_{c≠y} p_c)²: no cancellation even when p_y ≈ 1
        "el2n": (others.square().sum(1) + others.sum(1).square()).sqrt(),
        "entropy": -(p * logp).nan_to_num(0.0).sum(1),
    }


def eval_rows(init: int, epoch: int, evals: dict) -> dict[str, list]:
    rows: dict[str, list] = {f.name: [] for f in EVAL_SCHEMA}
    for split, r in evals.items():
        for c in range(len(r.n)):
            rows["init"].append(init)
            rows["epoch"].append(epoch)
            rows["split"].append(split)
            rows["class"].append(c)
            rows["n"].append(int(r.n[c]))
            rows["recall"].append(float(r.recall[c]))
            rows["precision"].append(float(r.precision[c]))
            rows["f1"].append(float(r.f1[c]))
            rows["loss"].append(float(r.class_loss[c]))
    return rows


#: Host bytes of logits (train pass + eval pass) and dynamics gathered before a slab of epochs is written.
SLAB_BYTES = 64 << 20


class TrajectoryWriter:
    """One init's per-sample logits, scattered into sample order on the device and written in slabs of epochs.

    ``scatter`` only writes a batch's logits into a device buffer in sample
    order (no host sync). ``end_epoch`` computes the dynamics scalars where the
    buffer is and copies them (and the logits, unless ``dtype`` is ``"none"``)
    to the host once. Epochs are held on the host until they make
    ``SLAB_BYTES`` (or the run ends); a background thread then
    writes them, one Zarr write for the whole slab and one Parquet file per
    epoch, while training goes on. One write of many epochs costs a fraction
    of many small ones, and on a small run (MNIST-1D: 13 MB of logits) nothing
    competes with training for the cores until its end. The last epoch waits
    for its write, so after it everything is on disk.

    ``spare_row``: the buffer gets one extra row past the last sample, where a
    caller can send rows it must not store (``Recorder`` sends out-of-range
    ids there on a GPU, to report them at the epoch's end without a host sync
    per batch).

    ``dtype``: the stored precision of the logits, or ``"none"`` (``prune record
    --logits none``): the dynamics only, computed from the float32 logits.

    The dynamics' ``kl_step`` compares each epoch with the one before: the
    writer keeps log(p + 1e-8) of the last ended epoch on the device,
    N·C·4 bytes (float32) beside the N·C·4 of the buffer — 5.1 GB each for
    1.28M samples × 1000 classes. ``kl_state``/``restore_kl`` carry it over
    a resume.
    """

    def __init__(self, *, run_dir: Path, group, init: int, targets: np.ndarray, device: torch.device, dtype: str,
                 spare_row: bool = False, every_epoch: bool = False):
        self.run_dir = run_dir
        self.group = group
        self.init = init
        self.device = device
        self.store = dtype != "none"
        self.dtype = np.dtype(dtype if self.store else "float32")
        self.torch_dtype = torch.float16 if self.dtype == np.float16 else torch.float32
        _, E, n, C = logits_shape(group)
        self.last_epoch = E - 1
        self.n = n
        self.buf = torch.full((n + int(spare_row), C), float("nan"), device=device)
        self.y = torch.as_tensor(np.asarray(targets, dtype=np.int64)).to(device)
        self.sample = np.arange(n, dtype=np.int64)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prune-record")
        self._pending: list[Future] = []  # in order on the one writer thread
        self._closed = False
        self._slab: list[tuple[int, np.ndarray, np.ndarray | None, dict[str, np.ndarray]]] = []
        self._slab_bytes = 0
        # resumable recording: each epoch is written as it ends, so the state saved after it finds it on disk
        self.every_epoch = every_epoch
        self.ended = -1  # the last epoch handed to end_epoch
        self.log_prev: torch.Tensor | None = None  # log(p + 1e-8) of epoch `ended`, (n, C) float32 on the device

    def scatter(self, idx: torch.Tensor, logits: torch.Tensor) -> None:
        self.buf[idx] = logits.float()

    def end_epoch(self, epoch: int, eval_logits: torch.Tensor | None = None) -> None:
        """Hand epoch ``epoch``'s buffer (and eval-pass logits, if any) to the writer and clear the buffer."""
        # round through the stored dtype so dynamics/ and trajectories.zarr agree exactly;
        # the scalars are computed where the logits are (on a GPU: no host work for the
        # training thread to wait on); a copy where the logits are stored: the buffer is refilled
        # while the writer still reads this epoch (without them nothing of it outlives this call)
        stored = self.buf[:self.n].to(self.torch_dtype, copy=self.store)
        # torch work stays on this thread: torch ops on a second thread would
        # oversubscribe the cores torch already uses for training (measured: 2.5× slower)
        cols = self._columns(stored.float())
        z = stored.cpu().numpy() if self.store else None
        ze = None if eval_logits is None or not self.store else eval_logits.to("cpu", self.torch_dtype).numpy()
        cols["sample"] = self.sample
        self._slab.append((epoch, z, ze, cols))
        self._slab_bytes += sum(v.nbytes for v in cols.values()) + sum(a.nbytes for a in (z, ze) if a is not None)
        self.ended = epoch
        if self.every_epoch or self._slab_bytes >= SLAB_BYTES or epoch == self.last_epoch:
            self.wait()
            self._pending.append(self._writer.submit(self._write, self._slab))
            self._slab, self._slab_bytes = [], 0
        self.buf.fill_(float("nan"))
        if epoch == self.last_epoch:
            self.close()

    def _columns(self, z: torch.Tensor) -> dict[str, np.ndarray]:
        """The epoch's dynamics from its (stored-precision) logits; keeps their log-probabilities for the next kl_step."""
        cols = _scalars(z, self.y)
        # in place: the previous epoch's buffer becomes this epoch's, slice by slice
        cols["kl_step"], self.log_prev = kl_step(z, self.log_prev, self.log_prev)
        return {k: v.cpu().numpy() for k, v in cols.items()}

    def kl_state(self) -> dict:
        """What ``kl_step`` needs after a resume: the last ended epoch and, without stored logits, its log-probabilities
        (N·C·4 bytes; with stored logits they are recomputed from the epoch on disk)."""
        state = {"ended": self.ended}
        if not self.store and self.log_prev is not None:
            state["log_prev"] = self.log_prev
        return state

    def restore_kl(self, state: dict) -> None:
        """Continue after :meth:`kl_state`'s epoch: the next kl_step compares with it."""
        self.ended = int(state.get("ended", -1))
        if "log_prev" in state:
            self.log_prev = state["log_prev"].to(self.device, torch.float32)
        elif self.ended >= 0:
            if not self.store:
                raise ValueError("a resume state without the last epoch's log-probabilities")  # a bug in kl_state
            # the stored (rounded) logits of that epoch: the values its kl_step state was computed from
            z = torch.from_numpy(np.asarray(self.group["logits"][self.init, self.ended])).to(self.device)
            self.log_prev = kl_step(z.float(), None)[1]

    def _write(self, slab: list[tuple[int, np.ndarray | None, np.ndarray | None, dict[str, np.ndarray]]]) -> None:
        first, last = slab[0][0], slab[-1][0]  # consecutive epochs, in order
        if slab[0][1] is not None:
            self.group["logits"][self.init, first:last + 1] = np.stack([z for _, z, _, _ in slab])
        if slab[0][2] is not None:
            self.group["eval_logits"][self.init, first:last + 1] = np.stack([ze for _, _, ze, _ in slab])
        for epoch, _, _, cols in slab:
            path = layout.dynamics_file(self.run_dir, self.init, epoch)
            write_table(path, cols, DYNAMICS_SCHEMA, use_dictionary=DYNAMICS_DICTIONARY)

    def after_writes(self, fn, *args) -> None:
        """Run ``fn(*args)`` on the writer thread once everything handed over so far is on disk.

        ``prune record`` saves its resume state this way: after the epoch's
        logits and dynamics, without the training thread waiting for either.
        """
        if self._closed:  # after the last epoch: everything is on disk already
            fn(*args)
        else:
            self._pending.append(self._writer.submit(fn, *args))

    def wait(self) -> None:
        """Block until everything handed to the writer is on disk; re-raise the first error."""
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()

    def close(self) -> None:
        self.wait()
        self._writer.shutdown(wait=True)
        self._closed = True


class RecordHook(Hook):
    """``prune record``'s hook: one init's training-pass logits (a :class:`TrajectoryWriter`), the optional
    eval pass, the val/test rows of eval.parquet and the checkpoints."""

    def __init__(self, *, run_dir: Path, group, init: int, bundle, device: torch.device, dtype: str,
                 eval_pass: bool, checkpoints: set[int], eval_batch: int, every_epoch: bool = False):
        self.run_dir = run_dir
        self.init = init
        self.bundle = bundle
        self.device = device
        self.eval_pass = eval_pass
        self.checkpoints = checkpoints
        self.eval_batch = eval_batch
        self.writer = TrajectoryWriter(run_dir=run_dir, group=group, init=init, targets=bundle.train.y, device=device,
                                       dtype=dtype, every_epoch=every_epoch)
        self.eval_rows: dict[str, list] = {f.name: [] for f in EVAL_SCHEMA}

    def on_batch(self, epoch: int, idx: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor) -> None:
        self.writer.scatter(idx, logits)

    def on_epoch_end(self, epoch: int, model: torch.nn.Module, evals: dict) -> None:
        from pipeline.engine.loop import predict

        ze = predict(model, self.bundle.train, None, self.device, self.eval_batch) if self.eval_pass else None
        self.writer.end_epoch(epoch, ze)
        for k, v in eval_rows(self.init, epoch, evals).items():
            self.eval_rows[k].extend(v)
        if epoch + 1 in self.checkpoints:
            save_checkpoint(layout.checkpoint(self.run_dir, self.init, epoch + 1), model)

    def state_dict(self) -> dict:
        # the logits, dynamics and checkpoints of finished epochs are on disk; the eval rows and
        # what the next kl_step compares with live here
        return {"eval_rows": {k: list(v) for k, v in self.eval_rows.items()}, "kl": self.writer.kl_state()}

    def load_state_dict(self, state: dict) -> None:
        self.eval_rows = {k: list(v) for k, v in state["eval_rows"].items()}
        self.writer.restore_kl(state["kl"])

    def close(self) -> None:
        self.writer.close()
