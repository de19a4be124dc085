"""``--method herding``: greedy mean matching on embeddings (Welling, ICML 2009; DeepCore's ``herding.py``).

Deterministic; one matrix-vector product per pick, O(n · n_keep · d) in all, O(n · d) memory.
"""

from __future__ import annotations

import numpy as np

from pipeline.registry import Option
from pipeline.select.base import Pool, Sampler
from pipeline.select.samplers._common import _as_embeddings, _check_n_keep, _mask_to_positions, _one_blas_thread


def select_herding(emb: np.ndarray, n_keep: int, *, rule: str = "welling") -> np.ndarray:
    """Herding: pick, one at a time, the sample that keeps the kept set's mean closest to the pool's mean.

    With μ the pool's mean embedding and S the sum of the ``i`` samples kept
    so far, pick ``i + 1`` is the unkept x minimising ‖μ − (S + x)/(i + 1)‖,
    that is ‖r − x‖ with r = (i + 1)μ − S (Welling's herding: the kept
    set's mean follows μ). Ties go to the lower position.

    ``rule="deepcore"`` reproduces DeepCore's ``herding.py``: it computes the
    same r but takes the unkept x *farthest* from it (``torch.argmax`` of
    the distance), which moves the kept mean away from μ rather than
    towards it. Kept as an option so that DeepCore's numbers can be
    reproduced; the default follows the paper.

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
    if rule not in ("welling", "deepcore"):
        raise ValueError(f"rule must be 'welling' or 'deepcore', got {rule!r}")
    emb = _as_embeddings(emb)
    n = emb.shape[0]
    n_keep = _check_n_keep(n_keep, n)
    if n_keep == n:
        return np.arange(n, dtype=np.int64)
    x = emb.astype(np.float64)
    mu = x.mean(axis=0)
    sq = np.einsum("ij,ij->i", x, x)
    total = np.zeros(x.shape[1])
    kept = np.zeros(n, dtype=bool)
    sign = 1.0 if rule == "welling" else -1.0
    with _one_blas_thread():
        for i in range(n_keep):
            r = (i + 1) * mu - total
            d = sign * (sq - 2.0 * (x @ r))  # ‖r − x‖² − ‖r‖²: the same order over x
            d[kept] = np.inf
            p = int(np.argmin(d))  # the first minimum: ties to the lower position
            kept[p] = True
            total += x[p]
    return _mask_to_positions(kept)


def _herding(pool: Pool, n_keep: int, rng, rule: str) -> np.ndarray:
    return select_herding(pool.emb, n_keep, rule=rule)


SAMPLER = Sampler("herding", _herding, "greedy mean matching on embeddings: the kept set's mean follows the pool's",
                  "Welling, ICML 2009, as DeepCore's herding.py", needs=("embeddings",),
                  options=(Option("rule", "welling", "'welling': the sample that brings the kept mean closest to "
                                  "the pool's (the paper); 'deepcore': the farthest one, as DeepCore's code picks",
                                  type=str, choices=("welling", "deepcore")),))
