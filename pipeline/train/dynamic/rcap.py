"""``rcap``: class budgets from class loss mass, high-loss samples sampled first (Hassan et al., "RCAP: Robust,
Class-Aware, Probabilistic Dynamic Dataset Pruning", UAI 2025; as DataCull's official implementation).

Each step is a pure function over arrays (``rcap_probabilities``,
``rcap_budgets``, ``sample_by_class``), tested on hand-computed cases; the
plan only keeps the state between epochs. Loops run over classes at most.
"""

from __future__ import annotations

import numpy as np

from pipeline.counts import keep_count
from pipeline.engine.plans import DynamicPlan
from pipeline.registry import Option
from pipeline.train.dynamic.registry import DYNAMIC, DynamicRule

# RCAP's softmax temperature in the authors' example.
RCAP_BETA = 0.25


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


RULE = DYNAMIC.register(DynamicRule(
    "rcap", RCAPPlan, "class-aware: class budgets from loss mass, high-loss samples sampled first",
    "Hassan et al., UAI 2025",
    options=(
        Option("beta", RCAP_BETA, "softmax temperature of the losses, the RCAP example's by default; smaller "
               "favours high-loss samples more", low=0.0, low_open=True),
        Option("clip", None, "losses are clipped to this value before the softmax (default: the log of the number "
               "of classes)", low=0.0, low_open=True, none_ok=True),
    )), builtin=True)
