"""The recording hook: per-sample training dynamics, scattered into sample order."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from pipeline.engine.hooks import Hook

from pipeline.io import layout
from pipeline.io.checkpoints import save_checkpoint
from pipeline.io.tables import DYNAMICS_DICTIONARY, DYNAMICS_SCHEMA, EVAL_SCHEMA, write_table


def dynamics_columns(z: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-sample scalars of one epoch from logits ``z`` (N, C) and labels ``y`` (N,).

    margin is the logit margin z_y − max_{c≠y} z_c (AUM); prob_margin the same
    on probabilities; el2n is ‖softmax(z) − onehot(y)‖₂. The two largest
    logits give every "max over the other classes" without copying ``z``.
    """
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
    cols = {
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
    return {k: v.cpu().numpy() for k, v in cols.items()}


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


#: Host bytes of logits (train pass + eval pass) gathered before a slab of epochs is written.
SLAB_BYTES = 64 << 20


class TrajectoryWriter:
    """One init's per-sample logits, scattered into sample order on the device and written in slabs of epochs.

    ``scatter`` only writes a batch's logits into a device buffer in sample
    order (no host sync). ``end_epoch`` copies the buffer to the host once and
    computes the dynamics scalars. Epochs are held on the host until they make
    ``SLAB_BYTES`` of logits (or the run ends); a background thread then
    writes them, one Zarr write for the whole slab and one Parquet file per
    epoch, while training goes on. One write of many epochs costs a fraction
    of many small ones, and on a small run (MNIST-1D: 13 MB of logits) nothing
    competes with training for the cores until its end. The last epoch waits
    for its write, so after it everything is on disk.

    ``spare_row``: the buffer gets one extra row past the last sample, where a
    caller can send rows it must not store (``Recorder`` sends out-of-range
    ids there on a GPU, to report them at the epoch's end without a host sync
    per batch).
    """

    def __init__(self, *, run_dir: Path, group, init: int, targets: np.ndarray, device: torch.device, dtype: str,
                 spare_row: bool = False, every_epoch: bool = False):
        self.run_dir = run_dir
        self.group = group
        self.init = init
        self.device = device
        self.dtype = np.dtype(dtype)
        self.torch_dtype = torch.float16 if self.dtype == np.float16 else torch.float32
        self.last_epoch = group["logits"].shape[1] - 1
        n, C = group["logits"].shape[2], group["logits"].shape[3]
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

    def scatter(self, idx: torch.Tensor, logits: torch.Tensor) -> None:
        self.buf[idx] = logits.float()

    def end_epoch(self, epoch: int, eval_logits: torch.Tensor | None = None) -> None:
        """Hand epoch ``epoch``'s buffer (and eval-pass logits, if any) to the writer and clear the buffer."""
        # round through the stored dtype so dynamics/ and trajectories.zarr agree exactly;
        # the scalars are computed where the logits are (on a GPU: no host work for the
        # training thread to wait on); copy=True: the buffer is refilled while the writer
        # still reads this epoch
        stored = self.buf[:self.n].to(self.torch_dtype, copy=True)
        # torch work stays on this thread: torch ops on a second thread would
        # oversubscribe the cores torch already uses for training (measured: 2.5× slower)
        cols = dynamics_columns(stored.float(), self.y)
        z = stored.cpu()
        ze = None if eval_logits is None else eval_logits.to("cpu", self.torch_dtype)
        cols["sample"] = self.sample
        self._slab.append((epoch, z.numpy(), None if ze is None else ze.numpy(), cols))
        self._slab_bytes += z.nbytes + (0 if ze is None else ze.nbytes)
        if self.every_epoch or self._slab_bytes >= SLAB_BYTES or epoch == self.last_epoch:
            self.wait()
            self._pending.append(self._writer.submit(self._write, self._slab))
            self._slab, self._slab_bytes = [], 0
        self.buf.fill_(float("nan"))
        if epoch == self.last_epoch:
            self.close()

    def _write(self, slab: list[tuple[int, np.ndarray, np.ndarray | None, dict[str, np.ndarray]]]) -> None:
        first, last = slab[0][0], slab[-1][0]  # consecutive epochs, in order
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
        # the logits, dynamics and checkpoints of finished epochs are on disk; only the eval rows live here
        return {"eval_rows": {k: list(v) for k, v in self.eval_rows.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.eval_rows = {k: list(v) for k, v in state["eval_rows"].items()}

    def close(self) -> None:
        self.writer.close()
