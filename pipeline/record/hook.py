"""The recording hook: per-sample training dynamics, scattered into sample order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline.io.tables import DYNAMICS_SCHEMA, EVAL_SCHEMA, write_table


def dynamics_columns(z: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-sample scalars of one epoch from logits ``z`` (N, C) and labels ``y`` (N,).

    margin is the logit margin z_y − max_{c≠y} z_c (AUM); prob_margin the same
    on probabilities; el2n is ‖softmax(z) − onehot(y)‖₂.
    """
    z = z.float()
    logp = torch.log_softmax(z, dim=1)
    p = logp.exp()
    rows = torch.arange(len(y), device=z.device)
    z_true = z[rows, y]
    p_true = p[rows, y]
    others = z.clone()
    others[rows, y] = float("-inf")
    p_others = p.clone()
    p_others[rows, y] = float("-inf")
    pred = z.argmax(1)
    onehot_gap = p.clone()
    onehot_gap[rows, y] -= 1.0
    cols = {
        "target": y,
        "pred": pred,
        "loss": -logp[rows, y],
        "correct": pred == y,
        "p_true": p_true,
        "margin": z_true - others.max(1).values,
        "prob_margin": p_true - p_others.max(1).values,
        "el2n": onehot_gap.norm(dim=1),
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


class RecordHook:
    """Collects one init's training-pass logits per epoch and writes them as the epoch ends.

    ``on_batch`` only scatters the batch's logits into a device buffer in
    sample order (no host sync); everything else happens once per epoch.
    """

    def __init__(self, *, run_dir: Path, group, init: int, bundle, device: torch.device, dtype: str,
                 eval_pass: bool, checkpoints: set[int], eval_batch: int):
        self.run_dir = run_dir
        self.group = group
        self.init = init
        self.bundle = bundle
        self.device = device
        self.dtype = np.dtype(dtype)
        self.torch_dtype = torch.float16 if self.dtype == np.float16 else torch.float32
        self.eval_pass = eval_pass
        self.checkpoints = checkpoints
        self.eval_batch = eval_batch
        n, C = len(bundle.train), len(bundle.classes)
        self.buf = torch.full((n, C), float("nan"), device=device)
        self.y = torch.from_numpy(bundle.train.y).to(device)
        self.sample = np.arange(n, dtype=np.int64)
        self.eval_rows: dict[str, list] = {f.name: [] for f in EVAL_SCHEMA}

    def on_batch(self, epoch: int, idx: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor) -> None:
        self.buf[idx] = logits.float()

    def on_epoch_end(self, epoch: int, model: torch.nn.Module, evals: dict) -> None:
        from pipeline.train.loop import predict

        # round through the stored dtype so dynamics/ and trajectories.zarr agree exactly
        z = self.buf.to(self.torch_dtype)
        self.group["logits"][self.init, epoch] = z.cpu().numpy()
        cols = dynamics_columns(z.float(), self.y)
        cols["sample"] = self.sample
        path = self.run_dir / "dynamics" / f"init={self.init}" / f"epoch={epoch}" / "part-0.parquet"
        write_table(path, cols, DYNAMICS_SCHEMA)
        if self.eval_pass:
            ze = predict(model, self.bundle.train, None, self.device, self.eval_batch)
            self.group["eval_logits"][self.init, epoch] = ze.to(self.torch_dtype).cpu().numpy()
        for k, v in eval_rows(self.init, epoch, evals).items():
            self.eval_rows[k].extend(v)
        if epoch + 1 in self.checkpoints:
            save_checkpoint(self.run_dir, self.init, epoch + 1, model)
        self.buf.fill_(float("nan"))


def save_checkpoint(run_dir: Path, init: int, completed_epochs: int, model: torch.nn.Module) -> None:
    from pipeline.io.atomic import atomic_path

    path = run_dir / "checkpoints" / f"init={init}" / f"epoch={completed_epochs}.pt"
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
