"""The one training loop, shared by ``prune record`` and ``prune train``.

Recording is a hook on this loop, not a second loop: a hook sees every
training batch's sample ids, logits and per-sample losses (already on the
device, detached) and every epoch's evaluation.

What an epoch trains on comes from a plan (``pipeline.engine.plans``): a
static manifest is the same ids every epoch; dynamic pruning re-selects every
epoch from the losses the plan observes. Class weights (CDB-W) come from a
function of the epoch and the logs so far.
"""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.engine.hooks import Hook, Plan, overrides
from pipeline.engine.loading import batches_of
from pipeline.engine.plans import StaticPlan
from pipeline.io.errors import PruneError


@dataclass
class EvalResult:
    """Per-class metrics of one split at one epoch."""

    n: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    f1: np.ndarray
    class_loss: np.ndarray
    accuracy: float
    loss: float

    @property
    def balanced_accuracy(self) -> float:
        present = self.n > 0
        return float(self.recall[present].mean()) if present.any() else float("nan")

    @property
    def worst_class_accuracy(self) -> float:
        present = self.n > 0
        return float(self.recall[present].min()) if present.any() else float("nan")


@dataclass
class EpochLog:
    epoch: int
    lr: float
    train_loss: float
    samples: int
    steps: int
    evals: dict[str, EvalResult] = field(default_factory=dict)


def class_metrics(logits: torch.Tensor, y: torch.Tensor, num_classes: int) -> EvalResult:
    """Recall, precision, F1 and mean cross-entropy per class, from all logits of a split."""
    logits = logits.float()
    loss = F.cross_entropy(logits, y, reduction="none").double()
    pred = logits.argmax(1)
    hit = (pred == y).double()
    C = num_classes
    n = torch.bincount(y, minlength=C).double()
    tp = torch.bincount(y, weights=hit, minlength=C)
    predicted = torch.bincount(pred, minlength=C).double()
    loss_sum = torch.bincount(y, weights=loss, minlength=C)
    recall = torch.where(n > 0, tp / n.clamp(min=1), torch.zeros_like(n))
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(n))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-300), torch.zeros_like(n))
    class_loss = torch.where(n > 0, loss_sum / n.clamp(min=1), torch.full_like(n, float("nan")))
    return EvalResult(
        n=n.long().numpy(), recall=recall.numpy(), precision=precision.numpy(), f1=f1.numpy(),
        class_loss=class_loss.numpy(), accuracy=float(hit.mean()) if len(y) else float("nan"),
        loss=float(loss.mean()) if len(y) else float("nan"),
    )


@torch.no_grad()
def predict(model: torch.nn.Module, split, idx: np.ndarray | None, device: torch.device, batch_size: int,
            forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Eval-mode outputs (float32, on the device) of ``split`` samples ``idx`` (all when None), in that order.

    ``forward`` defaults to the model itself (logits); ``model.features`` gives embeddings.
    """
    forward = model if forward is None else forward
    split = resident(split, device)
    was_training = model.training
    model.eval()
    if idx is None:
        idx = np.arange(len(split))
    out = []
    chunks = [idx[start:start + batch_size] for start in range(0, len(idx), batch_size)]
    for x in batches_of(split, chunks, device):  # file-backed splits: decoded by DataLoader workers
        out.append(forward(x).float())
    model.train(was_training)
    if not out:
        return torch.zeros((0, 0), device=device)
    return torch.cat(out)


#: In-memory inputs are moved onto a GPU when they take at most this fraction of its free
#: memory (CIFAR's 50,000 uint8 images are 150 MB): batches are then gathered and
#: normalised on the device, with no host-to-device copy of pixels.
RESIDENT_FRACTION = 0.25
_resident: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # host split -> {device: split on it}


def resident(split, device: torch.device):
    """``split`` with its in-memory inputs on ``device`` when that is a GPU with room for them, else ``split``.

    The copy is made once per split and device and shared by every caller
    (the training loop, evaluation, the recording hooks) while the split lives.
    """
    device = torch.device(device)
    if device.type != "cuda" or split.x is None or split.x.device.type == "cuda":
        return split
    copies = _resident.setdefault(split, {})
    if str(device) not in copies:
        free, _ = torch.cuda.mem_get_info(device)
        fits = split.x.element_size() * split.x.nelement() <= RESIDENT_FRACTION * free
        copies[str(device)] = split.to(device) if fits else split
    return copies[str(device)]


def lr_factor(cfg, epoch: int, epochs: int) -> float:
    """Multiplier of the base learning rate during ``epoch`` (0-based) of ``epochs``."""
    if cfg.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    if cfg.schedule == "multistep":
        passed = sum(epoch >= int(round(m * epochs)) for m in cfg.milestones)
        return cfg.gamma ** passed
    if cfg.schedule == "constant":
        return 1.0
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


def weighted_loss(per_sample: torch.Tensor, y: torch.Tensor, sample_weight: torch.Tensor | None,
                  class_weight: torch.Tensor | None, normalize: bool = False) -> torch.Tensor:
    """Σ_i c_{y_i} s_i ℓ_i / Σ_i c_{y_i} over a batch: the loss of every protocol in one formula.

    With class weights c alone it is exactly torch's weighted cross-entropy
    ``F.cross_entropy(z, y, weight=c)`` (DRoP's CDB-W); with sample weights s
    alone (InfoBatch's 1/(1-r) rescale) the batch mean of s_i ℓ_i, as
    InfoBatch's code. ``normalize`` divides by the weights instead,
    Σ_i c_{y_i} s_i ℓ_i / Σ_i c_{y_i} s_i: a manifest's ``weight`` column
    (Craig's and GradMatch's weights), as DeepCore trains a weighted subset
    (``sum(loss * w) / sum(w)``), so the scale of the weights does not act as
    a learning rate. Where the denominator of a batch is 0 the loss is 0 with
    zero gradients, not torch's 0/0 = NaN.
    """
    num = per_sample if sample_weight is None else per_sample * sample_weight
    if class_weight is None and not (normalize and sample_weight is not None):
        return num.mean()
    c = torch.ones_like(per_sample) if class_weight is None else class_weight[y]
    den = (c * sample_weight).sum() if normalize and sample_weight is not None else c.sum()
    # dividing by a guarded denominator (not torch.where after the division)
    # keeps the backward pass free of 0/0 as well
    return (c * num).sum() / torch.where(den > 0, den, torch.ones_like(den))


def batches(ids: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle ``ids`` and cut them into ceil(n / batch_size) near-equal batches.

    Near-equal rather than a short last batch: a batch of one sample breaks
    batch norm, and dropping it would leave a sample unrecorded that epoch.
    """
    perm = ids[rng.permutation(len(ids))]
    k = max(1, math.ceil(len(ids) / batch_size))
    return np.array_split(perm, k)


@dataclass
class EpochTrain:
    """What one epoch of optimisation did: the mean per-sample training loss, the samples and the optimiser steps."""

    train_loss: float
    samples: int
    steps: int


def train_one_epoch(
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    bundle,
    ids: np.ndarray,
    epoch: int,
    *,
    device: torch.device,
    batch_size: int,
    rng: np.random.Generator,
    gen: torch.Generator,
    weights: np.ndarray | None = None,
    normalize_weights: bool = False,
    class_weight: torch.Tensor | None = None,
    hooks: Sequence[Hook] = (),
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    channels_last: bool = False,
    on_step: Callable[[int, int], None] | None = None,
) -> EpochTrain:
    """One pass of ``opt`` over ``bundle.train`` samples ``ids``, shuffled by ``rng`` into batches (:func:`batches`).

    Each batch's loss is ``weighted_loss`` of its per-sample cross-entropies with the samples' ``weights``
    (aligned with ``ids``; ``normalize_weights``: divided by their sum) and the per-class ``class_weight`` (the plain mean without either); ``gen`` drives
    ``bundle.augment``. The forward pass runs under autocast to ``amp_dtype`` (None: as the model is), the loss in
    float32; ``scaler`` scales it (fp16). Every hook's ``on_batch`` sees each batch's ids, logits and per-sample
    losses, detached; ``on_step(done, total)`` follows each optimiser step. ``net`` is the model or its
    DistributedDataParallel wrapper: under torchrun this process trains on its share of each batch.
    """
    from pipeline.engine import distributed as D

    W = D.world()
    dev = torch.device(device)
    train = resident(bundle.train, device)
    on_device = train.x is not None and train.x.device.type == dev.type  # batches gathered there
    y_all = torch.from_numpy(train.y).to(device)
    on_batch = [h for h in hooks if overrides(h, "on_batch")]
    steps_pos = _positions(len(ids), batch_size, rng, W)  # positions into ids, so each sample's weight goes with it
    # file-backed inputs are decoded ahead by DataLoader workers, in this order
    decoded = batches_of(train, [ids[p] for p in steps_pos], device) if train.files is not None else None
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    steps = seen = 0
    for pos in steps_pos:
        idx = ids[pos]
        idx_t = torch.from_numpy(idx).to(device, non_blocking=True)
        x = next(decoded) if decoded is not None else train.take(idx_t if on_device else idx, device)
        if bundle.augment is not None:
            x = bundle.augment(x, gen)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = y_all[idx_t]
        with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = net(x)
        loss = F.cross_entropy(logits.float(), y, reduction="none")  # the loss in float32 under any precision
        opt.zero_grad(set_to_none=True)
        if weights is None and class_weight is None:
            total = loss.mean()
        else:
            w = None if weights is None else torch.from_numpy(weights[pos]).to(device, torch.float32, non_blocking=True)
            total = weighted_loss(loss, y, w, class_weight, normalize_weights)
        (total if scaler is None else scaler.scale(total)).backward()
        seen += _show_batch(on_batch, epoch, idx_t, logits, loss, W)
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)
            scaler.update()
        loss_sum += loss.detach().sum()
        steps += 1
        if on_step is not None:
            on_step(steps, len(steps_pos))
    if W.distributed:
        loss_sum = D.all_sum(loss_sum)
        if seen != len(ids):  # pragma: no cover - the shards of every batch cover it exactly
            raise RuntimeError(f"epoch {epoch}: the ranks trained on {seen} samples, the plan gave {len(ids)}")
    return EpochTrain(train_loss=float(loss_sum) / max(1, len(ids)), samples=len(ids), steps=steps)


def _show_batch(on_batch: Sequence[Hook], epoch: int, idx_t: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor,
                W) -> int:
    """Call every ``on_batch`` hook with the step's ids, logits and per-sample losses (detached); under torchrun
    (``W``) those of every rank, gathered. Returns the number of samples the step trained on, all ranks together."""
    from pipeline.engine import distributed as D

    if W.distributed:  # every rank's samples of this step, on every rank (the hooks may differ by rank)
        all_idx, out, per_sample = D.gather(idx_t, logits.detach(), loss.detach())
        for h in on_batch:
            h.on_batch(epoch, all_idx, out, per_sample)
        return len(all_idx)
    if on_batch:
        out, per_sample = logits.detach(), loss.detach()
        for h in on_batch:
            h.on_batch(epoch, idx_t, out, per_sample)
    return len(idx_t)


def _positions(n: int, batch_size: int, rng: np.random.Generator, W) -> list[np.ndarray]:
    """The epoch's batches of positions 0..n-1 (:func:`batches`); under torchrun (``W``) this rank's share of each."""
    from pipeline.engine import distributed as D

    steps_pos = batches(np.arange(n), batch_size, rng)
    if W.distributed:
        if min(len(p) for p in steps_pos) < W.size:
            raise PruneError(f"a batch of {min(len(p) for p in steps_pos)} samples cannot be shared by {W.size} "
                             "processes: use a larger --batch-size or fewer processes")
        steps_pos = [D.shard(p) for p in steps_pos]  # this rank's share of each global batch
    return steps_pos


def evaluate(model: torch.nn.Module, split, num_classes: int, *, device: torch.device, batch_size: int) -> EvalResult:
    """Per-class metrics (:func:`class_metrics`) of ``model`` in eval mode on every sample of ``split``."""
    logits = predict(model, split, None, device, batch_size)
    return class_metrics(logits.cpu(), torch.from_numpy(split.y), num_classes)  # metrics are computed on the host


def _precision(cfg, dev: torch.device) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
    """The autocast dtype of ``cfg.precision`` (None: fp32) and fp16's loss scaler."""
    precision = getattr(cfg, "precision", "fp32")
    if precision == "fp16" and dev.type != "cuda":
        raise PruneError("--precision fp16 needs a CUDA GPU (loss scaling); on a CPU use bf16 or fp32")
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return amp_dtype, torch.amp.GradScaler("cuda") if precision == "fp16" else None


def _place(model: torch.nn.Module, bundle, dev: torch.device, distributed: bool) -> tuple[torch.nn.Module, bool]:
    """Move ``model`` to ``dev`` in training mode; returns what to call (DDP-wrapped under torchrun) and
    whether inputs go channels-last."""
    # conv nets on images run channels-last on a GPU (tensor-core friendly); same values, other strides
    channels_last = dev.type == "cuda" and len(bundle.input_shape) == 3
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    if not distributed:
        return model, channels_last
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None), channels_last


def fit(
    model: torch.nn.Module,
    bundle,
    train_ids: np.ndarray,
    cfg,
    *,
    epochs: int,
    device: torch.device,
    seed: int,
    hooks: Sequence[Hook] = (),
    eval_splits: Sequence[str] = ("val", "test"),
    progress: Callable[[EpochLog], None] | None = None,
    plan: Plan | None = None,
    class_weights: Callable[[int, Sequence[EpochLog]], np.ndarray | None] | None = None,
    resume: dict | None = None,
    save_state: Callable[[dict], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> list[EpochLog]:
    """Train ``model`` on ``bundle.train`` samples ``train_ids`` for ``epochs`` epochs: each epoch is
    :func:`train_one_epoch` (SGD with momentum, the learning rate following ``cfg.schedule``), :func:`evaluate`
    of every split in ``eval_splits``, then the hooks' ``on_epoch_end``. Randomness (order, augmentation,
    dynamic selection) comes from ``seed``.

    ``plan`` (default: ``train_ids`` every epoch) gives each epoch's sample ids and loss weights and observes
    every batch's per-sample losses. ``class_weights(epoch, logs)`` gives per-class loss weights for an epoch
    from the logs of the epochs before it (None: unweighted). The batch loss is ``weighted_loss``; without any
    weights it is the plain mean. ``on_step(done, total)`` follows each optimiser step (progress bars).

    ``save_state(state)`` is called at every epoch's end (after the hooks) with everything training needs to go
    on (:func:`training_state`: weights, optimiser, every random generator, the logs, the hooks' states), copied
    to the host; ``resume=state`` continues after that epoch, and on a CPU gives the same weights, logits and
    logs as an uninterrupted run.

    Under torchrun (:mod:`pipeline.engine.distributed`) every rank trains on its shard of each global batch
    through DistributedDataParallel, and the hooks see every rank's samples of each step (gathered), so they
    observe exactly what one process would.
    """
    from pipeline.engine import distributed as D

    W = D.world()
    dev = torch.device(device)
    amp_dtype, scaler = _precision(cfg, dev)
    net, channels_last = _place(model, bundle, dev, W.distributed)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay, nesterov=cfg.nesterov and cfg.momentum > 0)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    resident(bundle.train, device)  # whether the inputs fit on the GPU is decided now, before a resumed state loads
    evals = {s: getattr(bundle, s) for s in eval_splits}  # an unknown split fails before any training
    eval_batch = max(256, cfg.batch_size * 2)
    logs: list[EpochLog] = []
    if plan is None:
        plan = StaticPlan(train_ids)
    hooks = [h for h in (plan, *hooks) if overrides(h, "on_batch") or overrides(h, "on_epoch_end")]
    stateful = [plan, *hooks_all(hooks, plan)]  # whose states a resume restores, in this order
    start = 0 if resume is None else load_training_state(resume, model, opt, rng, gen, logs, stateful, device)
    for epoch in range(start, epochs):
        lr = cfg.lr * lr_factor(cfg, epoch, epochs)
        for group in opt.param_groups:
            group["lr"] = lr
        ids, weights = plan.ids_for_epoch(epoch, rng)
        if W.distributed:
            D.check_same(ids, f"samples for epoch {epoch}")  # plans see the same gathered losses on every rank
        cw = class_weights(epoch, logs) if class_weights is not None else None
        cw = None if cw is None else torch.as_tensor(cw, dtype=torch.float32, device=device)
        done = train_one_epoch(net, opt, bundle, ids, epoch, device=device, batch_size=cfg.batch_size, rng=rng,
                               gen=gen, weights=weights, normalize_weights=plan.normalize_weights,
                               class_weight=cw, hooks=hooks, amp_dtype=amp_dtype,
                               scaler=scaler, channels_last=channels_last, on_step=on_step)
        log = EpochLog(epoch=epoch, lr=lr, train_loss=done.train_loss, samples=done.samples, steps=done.steps,
                       evals={s: evaluate(model, split, len(bundle.classes), device=device, batch_size=eval_batch)
                              for s, split in evals.items()})
        if not math.isfinite(log.train_loss):
            raise PruneError(f"training diverged at epoch {epoch} (loss is {log.train_loss}); try a lower --lr")
        for h in hooks:
            h.on_epoch_end(epoch, model, log.evals)
        logs.append(log)
        if save_state is not None:
            save_state(training_state(epoch, model, opt, rng, gen, logs, stateful))
        if progress is not None:
            progress(log)
    return logs


def hooks_all(hooks: Sequence[Hook], plan: Plan) -> list[Hook]:
    return [h for h in hooks if h is not plan]


def _host(obj):
    """A deep copy of ``obj`` with every tensor cloned to the host (training goes on while it is saved)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _host(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_host(v) for v in obj)
    return obj


def _log_dict(log: EpochLog) -> dict:
    """An EpochLog as plain values (``torch.load(weights_only=True)`` reads them back)."""
    return {"epoch": log.epoch, "lr": log.lr, "train_loss": log.train_loss, "samples": log.samples, "steps": log.steps,
            "evals": {s: {"n": r.n.tolist(), "recall": r.recall.tolist(), "precision": r.precision.tolist(),
                          "f1": r.f1.tolist(), "class_loss": r.class_loss.tolist(), "accuracy": r.accuracy,
                          "loss": r.loss} for s, r in log.evals.items()}}


def _log_of(d: dict) -> EpochLog:
    evals = {s: EvalResult(n=np.asarray(r["n"], dtype=np.int64), recall=np.asarray(r["recall"]),
                           precision=np.asarray(r["precision"]), f1=np.asarray(r["f1"]),
                           class_loss=np.asarray(r["class_loss"]), accuracy=r["accuracy"], loss=r["loss"])
             for s, r in d["evals"].items()}
    return EpochLog(epoch=d["epoch"], lr=d["lr"], train_loss=d["train_loss"], samples=d["samples"], steps=d["steps"],
                    evals=evals)


def training_state(epoch: int, model, opt, rng: np.random.Generator, gen: torch.Generator, logs: list[EpochLog],
                   hooks: Sequence[Hook]) -> dict:
    """What :func:`fit` needs to continue after ``epoch``: plain values and host tensors only."""
    state = {
        "epoch": epoch,
        "model": _host(model.state_dict()),
        "optimizer": _host(opt.state_dict()),
        "numpy_rng": rng.bit_generator.state,
        "torch_generator": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        "logs": [_log_dict(log) for log in logs],
        "hooks": [_host(h.state_dict()) for h in hooks],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return state


def load_training_state(state: dict, model, opt, rng: np.random.Generator, gen: torch.Generator,
                        logs: list[EpochLog], hooks: Sequence[Hook], device) -> int:
    """Restore :func:`training_state` into a fresh model, optimiser and generators; returns the next epoch."""
    model.load_state_dict(state["model"])
    model.to(device)
    opt.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["numpy_rng"]
    gen.set_state(state["torch_generator"])
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    logs.extend(_log_of(d) for d in state["logs"])
    if len(state["hooks"]) != len(hooks):
        raise ValueError("the saved state has another set of hooks")  # a bug: record builds the same hooks
    for h, hs in zip(hooks, state["hooks"]):
        h.load_state_dict(hs)
    return int(state["epoch"]) + 1


#: Device types the loop trains on; others (meta, xpu, mps where absent, ...) are refused up front.
DEVICE_HELP = "use auto, cpu, cuda or cuda:N"


def resolve_device(name: str) -> torch.device:
    """``--device`` as a torch device that exists here; one line otherwise (before any data is loaded)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise PruneError(f"unknown --device {name!r}: {DEVICE_HELP}") from None
    if dev.type == "cpu":
        return torch.device("cpu")  # cpu:N is the same host
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise PruneError(f"--device {name}: no CUDA device is available here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise PruneError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                             f"cuda:0..cuda:{torch.cuda.device_count() - 1}")
        return dev
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return dev
        raise PruneError(f"--device {name}: no Apple GPU (MPS) is available here; {DEVICE_HELP}")
    raise PruneError(f"--device {name}: prune trains on cpu or cuda (or mps on a Mac), not {dev.type}; {DEVICE_HELP}")


class Eta:
    """Time left of a run of epochs, from the pace of the epochs this process has trained so far."""

    def __init__(self, total_epochs: int):
        self.total = total_epochs
        self.t0 = time.perf_counter()
        self.first: int | None = None

    def __call__(self, epoch: int) -> str:
        """``"eta 1m05s"`` after ``epoch`` (0-based) finished; ``"done"`` after the last."""
        if self.first is None:
            self.first = epoch
        left = self.total - epoch - 1
        if left <= 0:
            return "done"
        per = (time.perf_counter() - self.t0) / (epoch - self.first + 1)
        sec = int(round(per * left))
        return f"eta {sec // 3600}h{sec % 3600 // 60:02d}m" if sec >= 3600 else f"eta {sec // 60}m{sec % 60:02d}s"


def seconds_since(t0: float) -> float:
    return round(time.perf_counter() - t0, 3)
