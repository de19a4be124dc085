"""``--method random``: a uniformly random subset, every pruning paper's baseline."""

from __future__ import annotations

import operator

import numpy as np

from pipeline.select.samplers._common import _check_n_keep, _mask_to_positions
from pipeline.select.base import Pool, Sampler


def select_random(n: int, n_keep: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random subset of ``n_keep`` of ``n`` positions.

    The random-pruning baseline of every pruning paper (e.g. Zheng et al.,
    ICLR 2023; Vysogorets et al., ICLR 2025): each ``n_keep``-subset is
    equally likely, drawn without replacement from ``rng``.

    Parameters
    ----------
    n : int
        Number of positions.
    n_keep : int
        ``0 <= n_keep <= n``.
    rng : numpy.random.Generator
        The only source of randomness; same state, same subset.

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` positions, length ``n_keep``.
    """
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    n_keep = _check_n_keep(n_keep, n)
    # Draw whichever of the kept or dropped sets is smaller: the draw costs
    # grow with its size, and a boolean mask gives sorted output without a sort.
    small = min(n_keep, n - n_keep)
    picked = rng.choice(n, size=small, replace=False, shuffle=False)
    mask = np.zeros(n, dtype=bool)
    mask[picked] = True
    if small != n_keep:
        np.logical_not(mask, out=mask)
    return _mask_to_positions(mask)


def _random(pool: Pool, n_keep: int, rng) -> np.ndarray:
    return select_random(pool.n, n_keep, rng)


SAMPLER = Sampler("random", _random, "uniformly random subset", "every pruning paper's baseline", needs=())
