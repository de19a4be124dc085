"""What DeepCore's submodular samplers share: a similarity kernel on last-layer gradients, and the greedy optimisers.

DeepCore (``methods_utils/submodular_function.py``, ``submodular_optimizer.py``) builds a similarity between
per-sample gradients, then greedily maximises a set function of it. Here the kernel is computed from the
factored gradients (:class:`pipeline.select.lastlayer.LastLayer`): held as one dense ``n × n`` float64 matrix
when that takes at most :data:`DENSE_BYTES`, otherwise computed a block of columns at a time when needed, so
memory stays bounded whatever the pool's size (DeepCore's unbalanced Craig holds a dense N × N float64).
"""

from __future__ import annotations

import heapq

import numpy as np

#: Largest similarity matrix held whole (float64: 5,792 samples); a larger pool computes its columns when needed.
DENSE_BYTES = 256 << 20
#: Columns computed at once in the blocked mode.
BLOCK = 512


#: Gains are compared at this many decimals: gains equal in exact arithmetic but for rounding tie, and a tie goes
#: to the lower position, whichever order the floating-point sums took.
DECIMALS = 10


def _q(x):
    return np.round(x, DECIMALS)


class Kernel:
    """Pairwise similarities of a pool's gradients: ``cos`` (DeepCore's ``cossim_np``, (1 + cos)/2 in [0, 1]) or
    ``craig`` (DeepCore's Craig: max distance − Euclidean distance + 1e-3, so every similarity is positive)."""

    def __init__(self, grads, kind: str):
        self.g, self.kind, self.n = grads, kind, grads.n
        self.sq = np.maximum(grads.sq_norms(), 0.0)
        self.norm = np.sqrt(self.sq)
        self.shift = 0.0
        self._dense = None
        if kind == "craig":  # the largest distance of the pool, over blocks
            self.shift = max((float(self._distance(np.arange(a, min(self.n, a + BLOCK)), None).max())
                              for a in range(0, self.n, BLOCK)), default=0.0) + 1e-3
        if self.n * self.n * 8 <= DENSE_BYTES:
            self._dense = self._compute(None, None)

    def _distance(self, rows, cols) -> np.ndarray:
        r = slice(None) if rows is None else rows
        c = slice(None) if cols is None else cols
        d2 = self.sq[r][:, None] + self.sq[c][None, :] - 2.0 * self.g.gram(rows, cols)
        return np.sqrt(np.maximum(d2, 0.0))

    def _compute(self, rows, cols) -> np.ndarray:
        if self.kind == "craig":
            return self.shift - self._distance(rows, cols)
        r = slice(None) if rows is None else rows
        c = slice(None) if cols is None else cols
        den = self.norm[r][:, None] * self.norm[c][None, :]
        cos = np.divide(self.g.gram(rows, cols), den, out=np.zeros(np.broadcast_shapes(den.shape)), where=den > 0)
        return 0.5 + 0.5 * cos

    def columns(self, cols) -> np.ndarray:
        """``S[:, cols]`` (n, len(cols)), float64."""
        cols = np.asarray(cols, dtype=np.int64)
        if self._dense is not None:
            return self._dense[:, cols]
        return self._compute(None, cols)

    def column_sums(self) -> np.ndarray:
        if self._dense is not None:
            return self._dense.sum(axis=0)
        return np.concatenate([self.columns(np.arange(a, min(self.n, a + BLOCK))).sum(axis=0)
                               for a in range(0, self.n, BLOCK)])

    def diagonal(self) -> np.ndarray:
        if self.kind == "craig":
            return np.full(self.n, self.shift)
        return np.where(self.norm > 0, 1.0, 0.5)


def facility_location(kernel: Kernel, k: int) -> np.ndarray:
    """Greedy maximisation of f(A) = Σ_i max_{a∈A} S_ia (DeepCore's FacilityLocation, empty max = 0) with lazy
    evaluations: a heap of upper bounds (gains only shrink as A grows), re-evaluated at the top until the top's
    fresh gain is still the largest. The picks equal plain greedy's, ties to the lower position. Returns the
    picks in the order made."""
    n = kernel.n
    cur = np.zeros(n)
    gains = np.concatenate([np.maximum(kernel.columns(np.arange(a, min(n, a + BLOCK))), 0.0).sum(axis=0)
                            for a in range(0, n, BLOCK)]) if n else np.zeros(0)
    heap = [(-float(g), j) for j, g in enumerate(_q(gains))]
    heapq.heapify(heap)
    picks: list[int] = []
    fresh = np.full(n, -1)  # the pick count at which a sample's heap entry was computed
    while len(picks) < k:
        neg, j = heapq.heappop(heap)
        if fresh[j] == len(picks) or not picks:
            picks.append(j)
            cur = np.maximum(cur, kernel.columns([j])[:, 0])
            continue
        g = float(_q(np.maximum(kernel.columns([j])[:, 0] - cur, 0.0).sum()))
        fresh[j] = len(picks)
        heapq.heappush(heap, (-g, j))
    return np.asarray(picks, dtype=np.int64)


def graph_cut(kernel: Kernel, k: int, lam: float) -> np.ndarray:
    """Greedy maximisation of GraphCut, f(A) = λ Σ_{i∈V, a∈A} S_ia − Σ_{a,b∈A} S_ab, with DeepCore's gain
    g(j | A) = λ Σ_i S_ij − 2 Σ_{a∈A} S_aj, kept up to date one row per pick: the exact greedy, O(n) a pick
    after the column sums. Ties to the lower position; the picks in the order made."""
    gains = lam * kernel.column_sums()
    taken = np.zeros(kernel.n, dtype=bool)
    picks = []
    for _ in range(k):
        g = np.where(taken, -np.inf, _q(gains))
        j = int(np.argmax(g))
        picks.append(j)
        taken[j] = True
        gains -= 2.0 * kernel.columns([j])[:, 0]
    return np.asarray(picks, dtype=np.int64)


def log_determinant(kernel: Kernel, k: int) -> np.ndarray:
    """Greedy maximisation of f(A) = log det S_A: each pick the sample whose conditional variance
    S_jj − S_jA S_A⁻¹ S_Aj is largest (the gain is its logarithm), kept up to date by an incremental Cholesky
    factor, O(n) a pick and O(n·k) memory. Ties to the lower position; a sample whose variance has reached 0
    (a duplicate of the kept ones) is taken only when nothing else is left. The picks in the order made."""
    n = kernel.n
    var = kernel.diagonal().astype(np.float64).copy()
    factor = np.zeros((k, n))
    taken = np.zeros(n, dtype=bool)
    picks = []
    for t in range(k):
        v = np.where(taken, -np.inf, _q(var))
        j = int(np.argmax(v))
        picks.append(j)
        taken[j] = True
        if var[j] > 1e-12 and t + 1 < k:
            col = kernel.columns([j])[:, 0]
            factor[t] = (col - factor[:t].T @ factor[:t, j]) / np.sqrt(var[j])
            var = var - factor[t] ** 2
        var[j] = -np.inf
    return np.asarray(picks, dtype=np.int64)
