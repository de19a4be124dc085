"""Training budgets: how many epochs a subset trains for (``prune train --budget``).

A pruned subset can be trained for as many epochs as full-data training, for as
many optimiser steps, or for DRoP's stretched schedule. The learning-rate
schedule needs no change of its own: cosine runs over the epochs actually
trained, and multistep milestones are fractions of those epochs
(``TrainConfig.milestones``), so they scale by E'/E with them.
"""

from __future__ import annotations

import math

BUDGETS: tuple[str, ...] = ("epochs", "iterations", "drop")


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimiser steps of one epoch over ``n`` samples: ceil(n / batch_size), as the loop cuts them."""
    return max(1, math.ceil(n / batch_size))


def drop_epochs(epochs: int, n_kept: int, n_total: int) -> int:
    """DRoP's stretched epoch count E' = int((0.5 + 0.5 f) · E / f), f = n_kept / n_total.

    Vysogorets et al. (ICLR 2025), ``epochs_correction`` in their code: a
    subset of density f trains for E(0.5 + 0.5 f)/f epochs, truncated. The
    product is evaluated exactly in integers, E(N + n) // (2n), so that a
    whole number is never truncated to the one below by float rounding.
    """
    return (epochs * (n_total + n_kept)) // (2 * n_kept)


def iteration_epochs(epochs: int, n_kept: int, n_total: int, batch_size: int) -> int:
    """Epochs that give at least as many optimiser steps as full-data training (CCS protocol).

    Zheng et al. (ICLR 2023) train a coreset for the full data's number of
    iterations; their loop runs whole epochs until the count is used up, so
    it trains ceil(steps_full / steps_per_epoch) epochs. The same here.
    """
    full = epochs * steps_per_epoch(n_total, batch_size)
    return math.ceil(full / steps_per_epoch(n_kept, batch_size))


def budget_epochs(budget: str, epochs: int, n_kept: int, n_total: int, batch_size: int) -> int:
    """Epochs to train a subset of ``n_kept`` of ``n_total`` samples under ``budget``.

    ``epochs`` is E, the full-data training's epoch count.
    """
    if budget == "epochs":
        return epochs
    if budget == "iterations":
        return iteration_epochs(epochs, n_kept, n_total, batch_size)
    if budget == "drop":
        return drop_epochs(epochs, n_kept, n_total)
    raise ValueError(f"unknown budget {budget!r}")  # validated by the caller
