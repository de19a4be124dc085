"""Per-epoch training plans: which samples each epoch trains on, and their loss weights (the mechanism).

The training loop asks its plan for every epoch's sample ids (and optional
per-sample loss weights) and tells it every batch's per-sample losses. A
static manifest is the trivial plan (:class:`StaticPlan`): the same ids every
epoch. A dynamic plan (:class:`DynamicPlan`) re-selects from the full
training set every epoch; it keeps the latest loss of every sample on the
device and what it handed out, and saves both with the training state.
:class:`ScoredPlan` re-selects from a score of the training logits so far.

The rules themselves (RS2, RCAP, InfoBatch, and their registry) are the
train stage's (:mod:`pipeline.train.dynamic`); a SCORE+SAMPLER rule fills in
:class:`ScoredPlan` (``pipeline.api.composite``). The engine imports no
stage. torch is imported by the methods that use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.counts import keep_count
from pipeline.engine.hooks import Plan
from pipeline.io.errors import PruneError

if TYPE_CHECKING:
    import torch


def pack_state(v: Any) -> Any:
    """A plan's state as what ``torch.load(weights_only=True)`` reads back: numpy arrays become tagged tensors."""
    import torch

    if isinstance(v, np.ndarray):
        return {"__numpy__": torch.from_numpy(np.ascontiguousarray(v)).clone(), "dtype": str(v.dtype)}
    if isinstance(v, torch.Tensor):
        return v.detach().to("cpu", copy=True)
    if isinstance(v, (list, tuple)):
        return [pack_state(x) for x in v]
    return v


def unpack_state(v: Any) -> Any:
    """What :func:`pack_state` packed, back as numpy arrays."""
    if isinstance(v, dict) and "__numpy__" in v:
        return v["__numpy__"].numpy().astype(v["dtype"], copy=True)
    if isinstance(v, list):
        return [unpack_state(x) for x in v]
    return v


class StaticPlan(Plan):
    """The same samples every epoch: a manifest's ids (and its ``weight`` column, if any, normalised per batch)."""

    normalize_weights = True

    def __init__(self, ids: np.ndarray, weights: np.ndarray | None = None):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)

    def ids_for_epoch(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        return self.ids, self.weights


class DynamicPlan(Plan):
    """Shared state of the dynamic plans: the samples used each epoch and the latest losses.

    Losses are kept in a device buffer, one slot per training sample, written
    by ``on_batch`` with each batch (no host sync) and read once per epoch. A
    sample not trained on keeps the loss of its most recent training pass;
    one never trained on has ``initial_loss``.
    """

    name = "dynamic"

    def __init__(self, targets: np.ndarray, rate: float, *, num_classes: int | None = None, epochs: int | None = None,
                 initial_loss: float = 0.0):
        self.targets = np.asarray(targets, dtype=np.int64)
        self.n = len(self.targets)
        self.num_classes = int(num_classes) if num_classes is not None else int(self.targets.max()) + 1
        self.rate = float(rate)
        self.epochs = None if epochs is None else int(epochs)  # epochs trained, for a rule that changes over them
        self.initial_loss = float(initial_loss)
        self._loss: torch.Tensor | None = None
        self.used: list[tuple[int, np.ndarray, np.ndarray]] = []

    def on_batch(self, epoch: int, idx: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor) -> None:
        import torch

        if self._loss is None:
            self._loss = torch.full((self.n,), self.initial_loss, dtype=torch.float32, device=loss.device)
        elif self._loss.device != loss.device:  # restored from a saved state on the host
            self._loss = self._loss.to(loss.device)
        self._loss[idx] = loss.float()

    def last_losses(self) -> np.ndarray:
        if self._loss is None:
            return np.full(self.n, self.initial_loss, dtype=np.float64)
        return self._loss.cpu().numpy().astype(np.float64)

    def select(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def ids_for_epoch(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        ids, weights = self.select(epoch, rng)
        ids = np.asarray(ids, dtype=np.int64)
        self.used.append((epoch, ids, np.ones(len(ids)) if weights is None else np.asarray(weights, dtype=np.float64)))
        return ids, weights

    #: what a plan accumulates while training; saved with the training state (``prune train --resume``)
    STATE: tuple[str, ...] = ("_loss", "used")

    def state_dict(self) -> dict[str, Any]:
        return {k: pack_state(getattr(self, k)) for k in self.STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self.STATE:
            v = unpack_state(state[k])
            if k == "used":
                v = [tuple(t) for t in v]
            setattr(self, k, v)

    def samples_columns(self) -> dict[str, np.ndarray]:
        """Columns of ``samples.parquet``: every (epoch, sample, weight) this plan handed out."""
        if not self.used:
            return {"epoch": np.zeros(0, np.int64), "sample": np.zeros(0, np.int64), "weight": np.zeros(0)}
        return {
            "epoch": np.concatenate([np.full(len(ids), e, dtype=np.int64) for e, ids, _ in self.used]),
            "sample": np.concatenate([ids for _, ids, _ in self.used]),
            "weight": np.concatenate([w for _, _, w in self.used]),
        }

    def params(self) -> dict:
        return {"rate": self.rate}


# ---------------------------------------------------------------------------- any score × sampler (the mechanism)


class ScoredPlan(DynamicPlan):
    """Any trajectory score × any sampler, re-selected from the training dynamics so far (DataCull's dynamic mode).

    The first ``warmup`` epochs train on every sample, so that every sample
    has a trajectory. From then on, every ``every`` epochs, the score is
    computed from the logits of the last ``history`` epochs (all so far when
    None) and the sampler keeps ``N − round(rate·N)`` samples; in between the
    subset stays. A sample left out of an epoch keeps the logits of its most
    recent training pass, as the loss-based rules keep its last loss.

    The mechanism only: a composed rule (``pipeline.api.composite``) fills in
    :meth:`score` and :meth:`choose` with a registered score and sampler, so
    the engine imports no stage.
    """

    name = "scored"

    def score(self, logits: np.ndarray) -> tuple[np.ndarray, bool]:
        """Scores (N,) of the trajectory ``logits`` (1, T, N, C) float32, and whether higher is harder."""
        raise NotImplementedError

    def choose(self, scores: np.ndarray, higher_is_harder: bool, n_keep: int, seed: int) -> np.ndarray:
        """``n_keep`` sorted sample ids chosen by the sampler from ``scores``."""
        raise NotImplementedError

    def __init__(self, targets: np.ndarray, rate: float, *, num_classes: int | None = None, epochs: int | None = None,
                 every: int = 5, warmup: int = 1, history: int | None = None):
        super().__init__(targets, rate, num_classes=num_classes, epochs=epochs)
        self.every, self.warmup, self.history = int(every), int(warmup), None if history is None else int(history)
        self.budget = keep_count(self.n, rate)
        self._last = None  # device (N, C): each sample's logits from its most recent training pass
        self.trajectory: list[np.ndarray] = []  # host float16 (N, C), one per finished epoch
        self.current = np.arange(self.n, dtype=np.int64)
        self.selections: list[int] = []  # epochs at which the subset was recomputed

    STATE = DynamicPlan.STATE + ("_last", "trajectory", "current", "selections")

    def on_batch(self, epoch: int, idx, logits, loss) -> None:
        import torch

        super().on_batch(epoch, idx, logits, loss)
        if logits is None:
            raise PruneError(f"dynamic rule {self.name!r} scores the training logits: pass them with the losses "
                             "(DynamicSampler.update(idx, loss, logits=logits))")
        if self._last is None:
            self._last = torch.full((self.n, logits.shape[1]), float("nan"), device=logits.device)
        elif self._last.device != logits.device:  # restored from a saved state on the host
            self._last = self._last.to(logits.device)
        self._last[idx] = logits.detach().float()

    def select(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        if epoch > 0 and self._last is not None:  # the epoch before has ended: its logits join the trajectory
            self.trajectory.append(self._last.cpu().numpy().astype(np.float16))
            if self.history is not None:
                del self.trajectory[:-self.history]
        if epoch < self.warmup:
            return np.arange(self.n, dtype=np.int64), None
        if (epoch - self.warmup) % self.every == 0:
            logits = np.stack(self.trajectory).astype(np.float32)[None]
            if not np.all(np.isfinite(logits)):
                raise PruneError(f"dynamic rule {self.name!r}: some samples have no logits yet (training diverged, "
                                 f"or fewer than --warmup epochs saw every sample)")
            scores, hard_high = self.score(logits)
            self.current = np.asarray(self.choose(scores, hard_high, self.budget, int(rng.integers(2**32))),
                                      dtype=np.int64)
            self.selections.append(epoch)
        return self.current, None

    def params(self) -> dict:
        return {"rate": self.rate, "every": self.every, "warmup": self.warmup, "history": self.history,
                "selected_at": self.selections}
