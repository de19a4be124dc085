"""``--method contextual``: k-center greedy on predictions with Contextual Diversity's symmetric KL distance.

Agarwal, Arora, Anand and Arora, "Contextual Diversity for Active Learning", ECCV 2020, as DeepCore's
``contextualdiversity.py`` selects with it. O(n · C) per pick, no n × n matrix.
"""

from __future__ import annotations

import numpy as np

from pipeline.select.base import Pool, Sampler
from pipeline.select.samplers._common import _check_n_keep, _mask_to_positions

TINY = np.finfo(np.float64).tiny  # probabilities are clipped here, so that log stays finite


def symmetric_kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """½ KL(a ‖ b) + ½ KL(b ‖ a) = ½ Σ_c (a_c − b_c)(log a_c − log b_c), of each row of ``a`` against ``b`` (C,)."""
    return 0.5 * np.einsum("ic,ic->i", a - b, np.log(a) - np.log(b))


def select_contextual(probs: np.ndarray, n_keep: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-center on softmax predictions under the symmetric KL distance.

    As DeepCore's ``kCenterGreedy`` with ``ContextualDiversity``'s metric:
    the first center is a uniformly random sample (DeepCore's
    ``np.random.randint`` with its seed; here drawn from ``rng``); then, until
    ``n_keep`` are kept, the sample whose nearest center is farthest becomes a
    center (ties to the lower position, as ``torch.argmax``). The distance
    from a new center to every sample is computed when it is picked, so no
    n × n matrix is ever held. Probabilities are clipped at the smallest
    positive float64 before the logarithm (DeepCore's float32 softmax gives
    NaN where a probability underflows to 0).

    Parameters
    ----------
    probs : numpy.ndarray
        Shape ``(n, C)``, rows of probabilities.
    n_keep : int
        ``0 <= n_keep <= n``.
    rng : numpy.random.Generator
        Draws the first center.
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), TINY, None)
    n = p.shape[0]
    n_keep = _check_n_keep(n_keep, n)
    if n_keep == 0:
        return np.empty(0, dtype=np.int64)
    if n_keep == n:
        return np.arange(n, dtype=np.int64)
    kept = np.zeros(n, dtype=bool)
    center = int(rng.integers(0, n))
    nearest = np.full(n, np.inf)
    for _ in range(n_keep - 1):
        kept[center] = True
        np.minimum(nearest, symmetric_kl(p, p[center]), out=nearest)
        nearest[kept] = -1.0  # as DeepCore's mins[p] = -1: a center is never picked again
        center = int(np.argmax(nearest))
    kept[center] = True
    return _mask_to_positions(kept)


def _contextual(pool: Pool, n_keep: int, rng) -> np.ndarray:
    return select_contextual(pool.grads.probs, n_keep, rng)


SAMPLER = Sampler("contextual", _contextual, "k-center on predictions with the symmetric KL distance (Contextual "
                  "Diversity), from a random first center", "Agarwal et al., ECCV 2020, as DeepCore's "
                  "contextualdiversity.py", needs=("gradients",))
