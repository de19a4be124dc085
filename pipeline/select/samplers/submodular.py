"""``--method graphcut``, ``facility``, ``logdet``: DeepCore's submodular samplers on last-layer gradients.

DeepCore's ``submodular.py`` with its functions (``methods_utils/submodular_function.py``) on the similarity
(1 + cos)/2 of per-sample last-layer gradients (``cossim_np``), maximised greedily. One file for the three: they
share everything but the set function (:mod:`pipeline.select.samplers._submodular`).
"""

from __future__ import annotations

import numpy as np

from pipeline.registry import Option
from pipeline.select.base import Pool, Sampler
from pipeline.select.samplers._common import _check_n_keep
from pipeline.select.samplers._submodular import Kernel, facility_location, graph_cut, log_determinant


def _run(pool: Pool, n_keep: int, pick) -> np.ndarray:
    n_keep = _check_n_keep(n_keep, pool.n)
    if n_keep == 0:
        return np.empty(0, dtype=np.int64)
    if n_keep == pool.n:
        return np.arange(pool.n, dtype=np.int64)
    return np.sort(pick(Kernel(pool.grads, "cos"), n_keep))


def _graphcut(pool: Pool, n_keep: int, rng, lam: float) -> np.ndarray:
    return _run(pool, n_keep, lambda k, m: graph_cut(k, m, lam))


def _facility(pool: Pool, n_keep: int, rng) -> np.ndarray:
    return _run(pool, n_keep, facility_location)


def _logdet(pool: Pool, n_keep: int, rng) -> np.ndarray:
    return _run(pool, n_keep, log_determinant)


_PAPER = "Iyer et al. (submodular subset selection), as DeepCore's submodular.py"
GRAPHCUT = Sampler("graphcut", _graphcut, "greedy GraphCut on gradient similarities: representative, not redundant",
                   _PAPER, needs=("gradients",),
                   options=(Option("lam", 1.0, "GraphCut's λ: weight of coverage against redundancy", low=0.0),))
FACILITY = Sampler("facility", _facility, "greedy facility location on gradient similarities (lazy greedy)",
                   _PAPER, needs=("gradients",))
LOGDET = Sampler("logdet", _logdet, "greedy log-determinant of gradient similarities: diverse", _PAPER,
                 needs=("gradients",))
