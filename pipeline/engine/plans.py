"""Per-epoch training plans: which samples each epoch trains on, and their loss weights.

The training loop asks its plan for every epoch's sample ids (and optional
per-sample loss weights) and tells it every batch's per-sample losses. A
static manifest is the trivial plan: the same ids every epoch. Dynamic
pruning (``prune train --dynamic NAME --rate R``) re-selects from the full
training set every epoch:

- ``rs2``: a fresh random subset each epoch (Okanovic et al., "Repeated Random
  Sampling for Minimizing the Time-to-Accuracy of Learning", ICLR 2024).
- ``rcap``: class budgets from class loss mass, high-loss samples sampled
  first (Hassan et al., "RCAP: Robust, Class-Aware, Probabilistic Dynamic
  Dataset Pruning", UAI 2025; DataCull's official implementation).
- ``infobatch``: randomly drop part of the below-mean-loss samples and rescale
  the rest (Qin et al., "InfoBatch: Lossless Training Speed Up by Unbiased
  Dynamic Data Pruning", ICLR 2024).

Each selection rule is a pure function over arrays (tested on hand-computed
cases); the plan classes only keep the state between epochs. Nothing here
loops over samples in Python: loops run over classes at most.

The rules are registered by name in :data:`DYNAMIC` (plan class, summary,
paper, the ``prune train`` options each reads with their defaults, and the
rates and budgets it accepts): a new rule is one plan class, one
:func:`register_dynamic` line and one test. ``prune train --dynamic`` (its
help, its errors, the plan it builds) reads only the registry. torch is
imported by the methods that use it, so the registry costs no torch import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from pipeline.counts import keep_count, proportional_shares
from pipeline.engine.hooks import Plan
from pipeline.io.errors import PruneError

if TYPE_CHECKING:
    import torch

# InfoBatch's code (``InfoBatch(..., delta=0.875)``) prunes during the first
# 87.5% of epochs and trains on everything for the rest.
INFOBATCH_DELTA = 0.875
# InfoBatch's code keeps at least 10% of the below-mean samples
# (``keep_ratio = max(0.1, 1 - prune_ratio)``); higher rates are refused.
INFOBATCH_MAX_RATE = 0.9
# RCAP's softmax temperature in the authors' example.
RCAP_BETA = 0.25


def _pack(v: Any) -> Any:
    """A plan's state as what ``torch.load(weights_only=True)`` reads back: numpy arrays become tagged tensors."""
    import torch

    if isinstance(v, np.ndarray):
        return {"__numpy__": torch.from_numpy(np.ascontiguousarray(v)).clone(), "dtype": str(v.dtype)}
    if isinstance(v, torch.Tensor):
        return v.detach().to("cpu", copy=True)
    if isinstance(v, (list, tuple)):
        return [_pack(x) for x in v]
    return v


def _unpack(v: Any) -> Any:
    if isinstance(v, dict) and "__numpy__" in v:
        return v["__numpy__"].numpy().astype(v["dtype"], copy=True)
    if isinstance(v, list):
        return [_unpack(x) for x in v]
    return v


class StaticPlan(Plan):
    """The same samples every epoch: a manifest's ids (and its ``weight`` column, if any)."""

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
        return {k: _pack(getattr(self, k)) for k in self.STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self.STATE:
            v = _unpack(state[k])
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


# ---------------------------------------------------------------------------- RS2


class _Rounds:
    """Without-replacement sampling across epochs from one pool of ids.

    The pool is shuffled and consumed in consecutive chunks. When fewer ids are
    left than an epoch needs, the leftovers are used first and the rest of the
    epoch comes from a new shuffled round that excludes them; the leftovers
    then join that round's queue. So every round is a permutation of the pool:
    no id is used twice before every id has been used once, and no id is used
    twice within one epoch.
    """

    def __init__(self, pool: np.ndarray):
        self.pool = np.asarray(pool, dtype=np.int64)
        self.queue: np.ndarray | None = None

    def take(self, k: int, rng: np.random.Generator) -> np.ndarray:
        if self.queue is None:
            self.queue = rng.permutation(self.pool)
        if k <= len(self.queue):
            out, self.queue = self.queue[:k], self.queue[k:]
            return out
        rest = self.queue
        fresh = rng.permutation(np.setdiff1d(self.pool, rest, assume_unique=True))
        need = k - len(rest)
        self.queue = rng.permutation(np.concatenate([fresh[need:], rest]))
        return np.concatenate([rest, fresh[:need]])


class RS2Plan(DynamicPlan):
    """RS2 (Okanovic et al., ICLR 2024): a fresh uniformly random subset every epoch.

    Each epoch trains on ``N - round(rate N)`` samples. Default without
    replacement across epochs (the paper's preferred variant): shuffle, take
    consecutive chunks, reshuffle when exhausted, leftovers carried over (see
    ``_Rounds``). ``with_replacement``: an independent uniform subset each
    epoch. ``stratify``: the same inside every class, with class budgets
    proportional to class sizes (largest remainder, so they sum to the epoch's
    budget exactly). DataCull stratifies only with replacement and truncates
    each class budget; its without-replacement mode starts unshuffled and
    drops the leftovers of a round, which we do not.
    """

    name = "rs2"

    def __init__(self, targets: np.ndarray, rate: float, *, num_classes: int | None = None, epochs: int | None = None,
                 with_replacement: bool = False, stratify: bool = False):
        super().__init__(targets, rate, num_classes=num_classes, epochs=epochs)
        self.with_replacement = with_replacement
        self.stratify = stratify
        k = keep_count(self.n, rate)
        if stratify:
            counts = np.bincount(self.targets, minlength=self.num_classes)
            order = np.argsort(self.targets, kind="stable")
            self.pools = np.split(order, np.cumsum(counts)[:-1])
            self.budgets = proportional_shares(counts, k)
        else:
            self.pools = [np.arange(self.n, dtype=np.int64)]
            self.budgets = np.array([k])
        self.rounds = [_Rounds(p) for p in self.pools]

    on_batch = Plan.on_batch  # RS2 ignores losses: the loop does not call it

    def select(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        parts = []
        for pool, budget, rounds in zip(self.pools, self.budgets.tolist(), self.rounds):
            if self.with_replacement:
                parts.append(rng.choice(pool, size=budget, replace=False))
            else:
                parts.append(rounds.take(budget, rng))
        return np.sort(np.concatenate(parts)), None

    def params(self) -> dict:
        return {"rate": self.rate, "with_replacement": self.with_replacement, "stratify": self.stratify}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "queues": [_pack(r.queue) for r in self.rounds]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for r, q in zip(self.rounds, state["queues"]):
            r.queue = _unpack(q)


# ---------------------------------------------------------------------------- RCAP


def rcap_probabilities(losses: np.ndarray, targets: np.ndarray, num_classes: int, beta: float, clip: float) -> np.ndarray:
    """RCAP's sampling probabilities: a softmax of clipped losses / β inside each class.

    p_i = exp(min(max(ℓ_i, 0), clip) / β) / Σ_{j: y_j = y_i} exp(min(max(ℓ_j, 0), clip) / β)

    (DataCull's ``RCAPImportance``; the class maximum is subtracted first for
    stability.) Every class's probabilities sum to 1.
    """
    z = np.clip(np.asarray(losses, dtype=np.float64), 0.0, clip) / beta
    zmax = np.full(num_classes, -np.inf)
    np.maximum.at(zmax, targets, z)
    e = np.exp(z - zmax[targets])
    return e / np.bincount(targets, weights=e, minlength=num_classes)[targets]


def rcap_budgets(mass: np.ndarray, class_sizes: np.ndarray, total: int) -> np.ndarray:
    """RCAP's class budgets: proportional to sqrt(class loss mass × class prior), capped at the class size.

    a_k = sqrt(mass_k · N_k / N); class k gets total · a_k / Σ a. A class whose
    share exceeds its size is kept whole and the rest of the budget is
    re-spread over the other classes in proportion to a, until none
    saturates. Shares are then rounded by largest remainder so they sum to
    ``total`` exactly, and every non-empty class keeps at least one sample
    (an empty class would have zero mass and never be sampled again).

    DataCull's ``RCAPDataLoader`` re-spreads the *whole* budget after capping
    and rounds every share up, so its subsets can exceed the budget; here the
    budget is exact, so that sample-passes compare like for like.
    """
    sizes = np.asarray(class_sizes, dtype=np.int64)
    a = np.sqrt(np.asarray(mass, dtype=np.float64) * sizes / max(1, sizes.sum()))
    a = np.where(sizes > 0, a, 0.0)
    capped = np.zeros(len(sizes), dtype=bool)
    share = np.zeros(len(sizes))
    for _ in range(len(sizes)):  # at most one pass per class: each pass caps at least one
        free = ~capped & (a > 0)
        left = total - sizes[capped].sum()
        share = np.where(capped, sizes, 0).astype(np.float64)
        if free.any() and a[free].sum() > 0:
            share[free] = left * a[free] / a[free].sum()
        over = free & (share > sizes)
        if not over.any():
            break
        capped |= over
    counts = np.floor(share).astype(np.int64)
    short = int(total - counts.sum())
    room = np.flatnonzero(counts < sizes)
    frac = (share - counts)[room]
    counts[room[np.argsort(-frac, kind="stable")[:short]]] += 1
    for k in np.flatnonzero((sizes > 0) & (counts == 0)).tolist():  # the floor of one, a loop over classes
        donor = int(np.argmax(counts))
        if counts[donor] > 1:
            counts[donor] -= 1
            counts[k] += 1
    return counts


def sample_by_class(p: np.ndarray, targets: np.ndarray, budgets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw ``budgets[k]`` distinct samples of every class k with probabilities ``p``, without replacement.

    The same law as ``np.random.choice(ids_k, budget_k, replace=False, p=p_k)``
    (successive draws proportional to p), drawn for all classes at once by
    the Gumbel-top-k trick: the budget_k largest log p_i + Gumbel_i of class k.
    Returns sorted ids.
    """
    key = np.log(np.maximum(p, 1e-300)) + rng.gumbel(size=len(p))
    order = np.lexsort((-key, targets))  # by class, then key descending
    sizes = np.bincount(targets, minlength=len(budgets))
    start = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.arange(len(order)) - start[targets[order]]
    return np.sort(order[rank < budgets[targets[order]]])


class RCAPPlan(DynamicPlan):
    """RCAP (Hassan et al., UAI 2025), as DataCull's official code, per epoch:

    1. losses: each sample's loss from its most recent training pass (the clip
       value, log C by default, before its first), clipped to [0, clip];
    2. probabilities: softmax of losses / β inside each class
       (``rcap_probabilities``);
    3. class loss mass: the sum of those probabilities over the class's
       samples trained on in the previous epoch (1 for every class in epoch 0);
    4. budgets ∝ sqrt(mass × prior), capped and re-spread (``rcap_budgets``),
       summing to N - round(rate N);
    5. draw each class's budget without replacement with probabilities p.
    """

    name = "rcap"

    def __init__(self, targets: np.ndarray, rate: float, *, num_classes: int | None = None, epochs: int | None = None,
                 beta: float = RCAP_BETA, clip: float | None = None):
        super().__init__(targets, rate, num_classes=num_classes, epochs=epochs)
        self.beta = float(beta)
        self.clip = float(np.log(self.num_classes)) if clip is None else float(clip)
        self.initial_loss = self.clip
        self.sizes = np.bincount(self.targets, minlength=self.num_classes)
        self.budget = keep_count(self.n, rate)
        self.previous: np.ndarray | None = None

    def select(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        p = rcap_probabilities(self.last_losses(), self.targets, self.num_classes, self.beta, self.clip)
        prev = np.arange(self.n) if self.previous is None else self.previous
        mass = np.bincount(self.targets[prev], weights=p[prev], minlength=self.num_classes)
        budgets = rcap_budgets(mass, self.sizes, self.budget)
        ids = sample_by_class(p, self.targets, budgets, rng)
        self.previous = ids
        return ids, None

    STATE = DynamicPlan.STATE + ("previous",)

    def params(self) -> dict:
        return {"rate": self.rate, "beta": self.beta, "clip": self.clip}


# ---------------------------------------------------------------------------- InfoBatch


def infobatch_selection(losses: np.ndarray, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One pruned InfoBatch epoch: ids and loss weights.

    Samples whose last loss is below the mean are "well learned"; a random
    ``round(rate · n_low)`` of them are left out this epoch and the others get
    loss weight 1 / (1 - rate), so the expected gradient is unchanged
    (Qin et al., ICLR 2024, ``InfoBatch.prune``; their code keeps
    ``int((1 - rate) · n_low)``, at most one sample more). The rest train
    with weight 1. Returns sorted ids and their weights.
    """
    losses = np.asarray(losses, dtype=np.float64)
    low = np.flatnonzero(losses < losses.mean())
    kept_low = rng.choice(low, size=keep_count(len(low), rate), replace=False)
    use = losses >= losses.mean()
    use[kept_low] = True
    weight = np.ones(len(losses))
    weight[kept_low] = 1.0 / (1.0 - rate)
    ids = np.flatnonzero(use)
    return ids, weight[ids]


class InfoBatchPlan(DynamicPlan):
    """InfoBatch (Qin et al., ICLR 2024), as the authors' code, per epoch e of E:

    - while e + 1 <= 0.875 E (their sampler's counter): ``infobatch_selection``
      on every sample's most recent training loss;
    - afterwards every sample, weight 1.

    Every sample starts with the same loss (their 3), so none is below the
    mean and epoch 0 trains on everything.
    """

    name = "infobatch"

    def __init__(self, targets: np.ndarray, rate: float, *, num_classes: int | None = None, epochs: int,
                 delta: float = INFOBATCH_DELTA):
        if epochs is None:
            raise PruneError("infobatch stops pruning at a fraction of the epochs: it needs the number of epochs")
        super().__init__(targets, rate, num_classes=num_classes, epochs=epochs, initial_loss=3.0)
        self.delta = float(delta)

    def prunes(self, epoch: int) -> bool:
        return epoch + 1 <= self.delta * self.epochs

    def select(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.prunes(epoch):
            return np.arange(self.n, dtype=np.int64), None
        ids, weight = infobatch_selection(self.last_losses(), self.rate, rng)
        return ids, (None if np.all(weight == 1.0) else weight)

    def params(self) -> dict:
        return {"rate": self.rate, "delta": self.delta, "epochs_pruned": sum(self.prunes(e) for e in range(self.epochs))}


# ---------------------------------------------------------------------------- the registry


# ---------------------------------------------------------------------------- any score × sampler


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


def _positive(flag: str) -> Callable[[Any], str | None]:
    def check(value) -> str | None:
        return None if value > 0 else f"{flag} must be positive, got {value}"
    return check


@dataclass(frozen=True)
class DynamicRule:
    """A dynamic pruning rule (``prune train --dynamic NAME``) and what it takes.

    ``plan`` is built as ``plan(targets, rate, num_classes=C, epochs=E,
    **options)`` with ``options`` its ``defaults`` overridden by what the
    user gave. ``max_rate``/``rate_note`` and ``budgets``/``budget_note``
    limit the ``--rate`` and ``--budget`` it accepts (and say why);
    ``rate_of`` names what ``--rate`` is a fraction of when it is not every
    sample (then the samples per epoch vary).
    """

    name: str
    plan: type[DynamicPlan]
    summary: str  # one phrase, shown by `prune train --help`
    paper: str
    defaults: Mapping[str, Any] = field(default_factory=dict)  # options of `prune train` it reads, with their defaults
    checks: Mapping[str, Callable[[Any], str | None]] = field(default_factory=dict)  # option -> error line or None
    max_rate: float | None = None
    rate_note: str = ""
    budgets: tuple[str, ...] | None = None  # None: every --budget
    budget_note: str = ""
    rate_of: str | None = None

    def options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Its options: the defaults, then those ``given`` (None: not given); a given value is checked."""
        out = dict(self.defaults)
        for name, value in given.items():
            if value is None or name not in self.defaults:
                continue
            bad = self.checks[name](value) if name in self.checks else None
            if bad:
                raise PruneError(bad)
            out[name] = value
        return out

    def check_rate(self, rate: float, budget: str | None = None) -> None:
        """The rates (and ``--budget``, if given) it accepts: one line each, saying why."""
        if not 0 < rate < 1:
            raise PruneError(f"--rate must be in (0, 1), got {rate}")
        if self.max_rate is not None and rate > self.max_rate:
            raise PruneError(f"--dynamic {self.name} {self.rate_note}; --rate must be at most {self.max_rate}, got {rate}")
        if budget is not None and self.budgets is not None and budget not in self.budgets:
            raise PruneError(f"--dynamic {self.name} {self.budget_note}; only --budget {' or '.join(self.budgets)} "
                             f"applies to it")

    def build(self, targets: np.ndarray, rate: float, *, num_classes: int | None = None, epochs: int | None = None,
              **given: Any) -> DynamicPlan:
        """The plan of this rule, its options filled in from the defaults."""
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise PruneError(f"--dynamic {self.name} takes no {', '.join(unknown)} "
                             f"(it takes {', '.join(self.defaults) or 'no options'})")
        self.check_rate(rate)
        return self.plan(targets, rate, num_classes=num_classes, epochs=epochs, **self.options(given))


#: Dynamic pruning rules by name (``prune train --dynamic``).
DYNAMIC: dict[str, DynamicRule] = {}


def register_dynamic(rule: DynamicRule, *, replace: bool = False) -> DynamicRule:
    """Add a dynamic pruning rule (``prune train --dynamic``, ``DynamicSampler``)."""
    if not isinstance(rule, DynamicRule):
        raise TypeError(f"expected a DynamicRule, got {type(rule).__name__}")
    if not (isinstance(rule.plan, type) and issubclass(rule.plan, DynamicPlan)):
        raise TypeError(f"dynamic rule {rule.name!r}: plan must be a DynamicPlan subclass")
    if rule.name in DYNAMIC and not replace:
        raise ValueError(f"a dynamic rule named {rule.name!r} is registered; pass replace=True to replace it")
    DYNAMIC[rule.name] = rule
    return rule


#: Functions name -> DynamicRule or None, asked for a name not in DYNAMIC (composed rules such as "tdds+ccs").
RESOLVERS: list[Callable[[str], DynamicRule | None]] = []


def get_dynamic(name: str) -> DynamicRule:
    if name in DYNAMIC:
        return DYNAMIC[name]
    for resolve in RESOLVERS:
        rule = resolve(name)
        if rule is not None:
            return rule
    composed = " or SCORE+SAMPLER (e.g. tdds+ccs)" if RESOLVERS else ""
    raise PruneError(f"unknown --dynamic method {name!r}; choose one of: {', '.join(DYNAMIC)}{composed}")


def dynamic_help() -> str:
    """Every rule with its summary, for ``--dynamic``'s help: "rs2 (…), rcap (…), infobatch (…)"."""
    return ", ".join(f"{r.name} ({r.summary})" for r in DYNAMIC.values())


def option_readers(option: str) -> list[str]:
    """The rules that read ``option``."""
    return [r.name for r in DYNAMIC.values() if option in r.defaults]


register_dynamic(DynamicRule(
    "rs2", RS2Plan, "a fresh random subset each epoch, without replacement across epochs by default",
    "Okanovic et al., ICLR 2024", defaults={"with_replacement": False, "stratify": False}))
register_dynamic(DynamicRule(
    "rcap", RCAPPlan, "class-aware: class budgets from loss mass, high-loss samples sampled first",
    "Hassan et al., UAI 2025", defaults={"beta": RCAP_BETA, "clip": None},
    checks={"beta": _positive("--beta"), "clip": _positive("--clip")}))
register_dynamic(DynamicRule(
    "infobatch", InfoBatchPlan, "drop part of the below-mean-loss samples each epoch, rescale the loss of the rest",
    "Qin et al., ICLR 2024", max_rate=INFOBATCH_MAX_RATE,
    rate_note="keeps at least 10% of the low-loss samples (as its authors' code)",
    budgets=("epochs",), budget_note="trains on a loss-dependent number of samples each epoch",
    rate_of="the below-mean-loss samples"))
