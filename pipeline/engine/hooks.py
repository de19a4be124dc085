"""Hooks on the training loop: subclass :class:`Hook` and override only what you use (as Lightning's callbacks).

A hook sees every training batch's sample ids, logits and per-sample losses
(detached, on the training device) and every epoch's end with the model and
its evaluation. Recording (``pipeline.engine.recording``) and dynamic pruning
(``pipeline.engine.plans``) are hooks; a plan also answers which samples an
epoch trains on.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Hook:
    """Every method does nothing by default."""

    def on_batch(self, epoch: int, idx, logits, loss) -> None:
        """One training batch: sample ids ``idx`` (int64), ``logits`` (batch, C), per-sample ``loss`` (batch,)."""

    def on_epoch_end(self, epoch: int, model, evals: dict) -> None:
        """After epoch ``epoch`` (0-based) and its evaluation: ``evals`` maps a split name to its metrics."""

    def state_dict(self) -> dict[str, Any]:
        """What the hook needs to continue after a resume (nothing by default)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def overrides(hook: Hook, method: str) -> bool:
    """Whether ``hook`` does something in ``method`` (the loop skips the per-batch call otherwise)."""
    return getattr(type(hook), method, None) is not getattr(Hook, method)


class Plan(Hook):
    """A hook that also says which samples each epoch trains on, and with which loss weights.

    ``normalize_weights``: each batch's loss is divided by the sum of its
    weights rather than by its size (a manifest's weights, as DeepCore trains
    a weighted subset; see :func:`pipeline.engine.loop.weighted_loss`).
    """

    normalize_weights: bool = False

    def ids_for_epoch(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """Sample ids of ``epoch`` and their loss weights (None: all 1)."""
        raise NotImplementedError
