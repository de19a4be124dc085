"""``--method kcenter``: greedy k-center on embeddings (Sener & Savarese 2018; DRoP's CoreSet).

Deterministic; O(n · d) per pick (one matrix-vector product), O(n · n_keep · d) in all.
"""

from __future__ import annotations

import numpy as np

from pipeline.select.samplers._common import _BLOCK_BYTES, _as_embeddings, _check_n_keep, _mask_to_positions, _one_blas_thread
from pipeline.select.base import Pool, Sampler


def select_kcenter(emb: np.ndarray, n_keep: int) -> np.ndarray:
    """Greedy k-center (farthest-point) selection on embeddings.

    Core-set selection of Sener and Savarese (ICLR 2018) as DRoP's CoreSet
    diversifier runs it for data pruning (Vysogorets et al., ICLR 2025, code
    release): the first center is the sample nearest the mean embedding;
    then, ``n_keep - 1`` times, the sample farthest (Euclidean) from its
    nearest chosen center becomes a center. Ties go to the lower position.

    The authors pick ``n_keep`` farthest points after the start point and
    then overwrite the last one with the start point; that is the same set
    as starting from it. Once every remaining sample coincides with a center
    (all distances 0) their ``argmax`` returns an already chosen one, a
    duplicate; here chosen samples are excluded, so the lowest unchosen
    position comes next.

    Parameters
    ----------
    emb : numpy.ndarray
        Shape ``(n, d)``, finite.
    n_keep : int
        ``0 <= n_keep <= n``.

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` positions, length ``n_keep``.
    """
    emb = _as_embeddings(emb)
    n = emb.shape[0]
    n_keep = _check_n_keep(n_keep, n)
    if n_keep == 0:
        return np.empty(0, dtype=np.int64)
    if n_keep == n:
        return np.arange(n, dtype=np.int64)

    sq = np.einsum("ij,ij->i", emb, emb, dtype=np.float64)
    mean = emb.mean(axis=0, dtype=np.float64)
    # The start is computed exactly (float64 differences, in blocks), since it
    # decides everything after it; the per-pick updates below only rank.
    to_mean = np.empty(n)
    rows = max(1, _BLOCK_BYTES // (8 * emb.shape[1] or 1))
    for a in range(0, n, rows):
        diff = emb[a:a + rows] - mean
        to_mean[a:a + rows] = np.einsum("ij,ij->i", diff, diff)
    center = int(np.argmin(to_mean))  # first minimum: ties to the lower position

    nearest = np.full(n, np.inf)
    chosen = np.zeros(n, dtype=bool)
    with _one_blas_thread():
        for _ in range(n_keep - 1):  # a loop over picks; each pick is one matrix-vector product
            chosen[center] = True
            dist = sq - 2.0 * (emb @ emb[center]).astype(np.float64) + sq[center]
            np.minimum(nearest, dist, out=nearest)
            nearest[center] = -np.inf  # never picked again, whatever rounding left there
            center = int(np.argmax(nearest))
    chosen[center] = True
    return _mask_to_positions(chosen)


def _kcenter(pool: Pool, n_keep: int, rng) -> np.ndarray:
    return select_kcenter(pool.emb, n_keep)


SAMPLER = Sampler("kcenter", _kcenter, "greedy k-center on embeddings, from the sample nearest the mean",
                  "Sener & Savarese 2018, as DRoP's CoreSet", needs=("embeddings",))
