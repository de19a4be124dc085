"""``DynamicSampler``: dynamic data pruning (RS2, RCAP, InfoBatch) in any training loop, as a torch Sampler.

::

    sampler = DynamicSampler("infobatch", targets, rate=0.5, epochs=E, seed=0)
    loader = DataLoader(IndexedDataset(ds), batch_size=128, sampler=sampler)
    for epoch in range(E):
        sampler.set_epoch(epoch)
        for x, y, idx in loader:
            loss = F.cross_entropy(model(x), y, reduction="none")
            w = sampler.update(idx, loss)          # per-sample loss weights (InfoBatch's rescale; else 1)
            (loss * w).mean().backward()
            ...

The same rules as ``prune train --dynamic`` (the registry of
:mod:`pipeline.train.dynamic`, plus the SCORE+SAMPLER rules of
:mod:`pipeline.api.composite`). Unlike InfoBatch's own code it patches nothing
in torch and never touches numpy's global random state: every draw comes from
a generator seeded by (seed, epoch).
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Sampler

from pipeline.io import PruneError


class DynamicSampler(Sampler):
    """A ``torch.utils.data.Sampler`` that re-selects the training samples every epoch.

    Parameters
    ----------
    name : "rs2", "rcap" or "infobatch"
    targets : array of int (N,)
        Labels of the full training set, in sample order.
    rate : float
        Fraction of the samples removed each epoch (InfoBatch: of the
        samples whose loss is below the mean).
    seed : int
        Draws of epoch e come from ``numpy.random.default_rng([seed, e])``.
    epochs : int
        Total epochs (InfoBatch stops pruning after 87.5% of them).
    **options
        The rule's own options (rs2: with_replacement, stratify; rcap: beta, clip), each checked
        by the option the rule declares (a value of the wrong type is refused, never converted).
    """

    def __init__(self, name: str, targets, rate: float, *, seed: int = 0, epochs: int | None = None,
                 num_classes: int | None = None, **options):
        import torch

        from pipeline.counts import checked_keep_count
        y = np.asarray(targets.cpu() if isinstance(targets, torch.Tensor) else targets)
        if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) == 0 or y.min() < 0:
            raise PruneError("targets must be a non-empty one-dimensional array of non-negative integer labels")
        checked_keep_count(len(y), rate, flag="rate", what="samples")
        self.name, self.rate, self.seed = name, float(rate), int(seed)
        self.targets = y.astype(np.int64)
        from pipeline.train.dynamic import get_dynamic

        rule = get_dynamic(name)
        if name == "infobatch" and epochs is None:
            raise PruneError("DynamicSampler('infobatch', ...) needs epochs=E (it stops pruning after 87.5% of them)")
        self.plan = rule.build(self.targets, self.rate, num_classes=num_classes, epochs=epochs, **options)
        self.epoch = 0
        self._drawn: int | None = None  # the epoch whose ids are drawn
        self._iterated = False
        self._ids = np.zeros(0, dtype=np.int64)
        self._order = self._ids
        self._weight = None  # torch (N,) loss weights of the drawn epoch, per device

    # -- the Sampler protocol -------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Select the samples of ``epoch`` (from the losses given to :meth:`update` so far)."""
        if int(epoch) < 0:
            raise PruneError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)
        self._iterated = False

    def __iter__(self):
        if self._iterated and self._drawn == self.epoch:  # iterated again without set_epoch: the next epoch
            self.epoch += 1
        self._draw()
        self._iterated = True
        return iter(self._order.tolist())

    def __len__(self) -> int:
        self._draw()
        return len(self._ids)

    # -- losses in, weights out -------------------------------------------------
    def update(self, idx, loss, logits=None):
        """Tell the rule the per-sample losses of one batch; returns those samples' loss weights.

        ``idx`` and ``loss`` are (B,) tensors (any device; no host sync). The
        weights are 1 except for InfoBatch's kept low-loss samples (1 / (1 − rate)).
        A SCORE+SAMPLER rule (e.g. "tdds+ccs") scores the training logits:
        pass them as ``logits`` (B, C).
        """
        import torch

        self._draw()
        loss = loss.detach() if isinstance(loss, torch.Tensor) else torch.as_tensor(np.asarray(loss))
        idx = idx if isinstance(idx, torch.Tensor) else torch.as_tensor(np.asarray(idx))
        idx = idx.to(loss.device).long()
        if logits is not None and not isinstance(logits, torch.Tensor):
            logits = torch.as_tensor(np.asarray(logits))
        self.plan.on_batch(self.epoch, idx, None if logits is None else logits.detach().to(loss.device), loss)
        w = self._weight.get(str(loss.device))
        if w is None:
            w = self._weight[str(loss.device)] = self._weight["cpu"].to(loss.device)
        return w[idx].to(loss.dtype)

    @property
    def samples_this_epoch(self) -> np.ndarray:
        """Sorted ids the current epoch trains on."""
        self._draw()
        return self._ids

    def _draw(self) -> None:
        import torch

        if self._drawn == self.epoch:
            return
        rng = np.random.default_rng([self.seed, self.epoch])
        ids, weights = self.plan.ids_for_epoch(self.epoch, rng)
        self._ids = np.asarray(ids, dtype=np.int64)
        self._order = self._ids[rng.permutation(len(self._ids))]
        full = np.ones(len(self.targets), dtype=np.float32)
        if weights is not None:
            full[self._ids] = weights
        self._weight = {"cpu": torch.from_numpy(full)}
        self._drawn = self.epoch

