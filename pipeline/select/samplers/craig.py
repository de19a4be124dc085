"""``--method craig``: Craig (Mirzasoleiman, Bilmes and Leskovec, ICML 2020), as DeepCore's ``craig.py``.

Facility location on the Euclidean distances of last-layer gradients, greedy; each kept sample weighted by
the samples it stands for. A weighted sampler: the manifest keeps the weights and training uses them.
"""

from __future__ import annotations

import numpy as np

from pipeline.select.base import Pool, Sampler
from pipeline.select.samplers._common import _check_n_keep
from pipeline.select.samplers._submodular import BLOCK, Kernel, facility_location


def craig_weights(kernel: Kernel, picks: np.ndarray) -> np.ndarray:
    """DeepCore's ``calc_weights``: every sample of the pool goes to the kept sample most similar to it (ties to
    the lower position; a kept sample goes to itself), and a kept sample's weight is 1 + the samples that went to
    it. Computed a block of kept columns at a time."""
    picks = np.sort(np.asarray(picks, dtype=np.int64))
    best = np.full(kernel.n, -np.inf)
    owner = np.zeros(kernel.n, dtype=np.int64)
    for a in range(0, len(picks), BLOCK):
        cols = kernel.columns(picks[a:a + BLOCK])
        arg = np.argmax(cols, axis=1)
        val = cols[np.arange(kernel.n), arg]
        better = val > best  # strictly: an equal value in a later block keeps the earlier (lower) kept sample
        best[better], owner[better] = val[better], a + arg[better]
    return 1.0 + np.bincount(owner, minlength=len(picks)).astype(np.float64)


def select_craig(grads, n_keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Craig's kept positions (sorted) and their weights, on the pool's last-layer gradients.

    DeepCore's Craig: similarity = max distance − distance + 1e-3 over the pool (its ``-1 · dist``, shifted
    by its minimum minus 1e-3), facility location maximised by lazy greedy, weights by :func:`craig_weights`.
    """
    n = grads.n
    n_keep = _check_n_keep(n_keep, n)
    if n_keep == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    kernel = Kernel(grads, "craig")
    picks = np.sort(facility_location(kernel, n_keep)) if n_keep < n else np.arange(n, dtype=np.int64)
    return picks, craig_weights(kernel, picks)


def _craig(pool: Pool, n_keep: int, rng):
    return select_craig(pool.grads, n_keep)


SAMPLER = Sampler("craig", _craig, "facility location on gradient distances, each kept sample weighted by the "
                  "samples it stands for (a weighted subset)", "Mirzasoleiman et al., ICML 2020, as DeepCore's "
                  "craig.py", needs=("gradients",))
