"""``rs2``: a fresh random subset every epoch (Okanovic et al., "Repeated Random Sampling for Minimizing the
Time-to-Accuracy of Learning", ICLR 2024)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.counts import keep_count, proportional_shares
from pipeline.engine.hooks import Plan
from pipeline.engine.plans import DynamicPlan, pack_state, unpack_state
from pipeline.registry import Option
from pipeline.train.dynamic.registry import DYNAMIC, DynamicRule


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
        return {**super().state_dict(), "queues": [pack_state(r.queue) for r in self.rounds]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for r, q in zip(self.rounds, state["queues"]):
            r.queue = unpack_state(q)


RULE = DYNAMIC.register(DynamicRule(
    "rs2", RS2Plan, "a fresh random subset each epoch, without replacement across epochs by default",
    "Okanovic et al., ICLR 2024",
    options=(
        Option("with_replacement", False, "draw each epoch's subset afresh, instead of going through every sample "
               "before any repeats", type=bool),
        Option("stratify", False, "sample each class in proportion to its size", type=bool),
    )), builtin=True)
