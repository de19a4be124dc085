"""``infobatch``: drop part of the below-mean-loss samples each epoch and rescale the loss of the rest (Qin et al.,
"InfoBatch: Lossless Training Speed Up by Unbiased Dynamic Data Pruning", ICLR 2024)."""

from __future__ import annotations

import numpy as np

from pipeline.counts import keep_count
from pipeline.engine.plans import DynamicPlan
from pipeline.io.errors import PruneError
from pipeline.train.dynamic.registry import DYNAMIC, DynamicRule

# InfoBatch's code (``InfoBatch(..., delta=0.875)``) prunes during the first
# 87.5% of epochs and trains on everything for the rest.
INFOBATCH_DELTA = 0.875
# InfoBatch's code keeps at least 10% of the below-mean samples
# (``keep_ratio = max(0.1, 1 - prune_ratio)``); higher rates are refused.
INFOBATCH_MAX_RATE = 0.9


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


RULE = DYNAMIC.register(DynamicRule(
    "infobatch", InfoBatchPlan, "drop part of the below-mean-loss samples each epoch, rescale the loss of the rest",
    "Qin et al., ICLR 2024", max_rate=INFOBATCH_MAX_RATE,
    rate_note="keeps at least 10% of the low-loss samples (as its authors' code)",
    budgets=("epochs",), budget_note="trains on a loss-dependent number of samples each epoch",
    rate_of="the below-mean-loss samples"), builtin=True)
