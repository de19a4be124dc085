"""``--method d2``: D2 pruning (Maharana et al., ICLR 2024), message passing on a k-NN graph of embeddings.

Deterministic; an exact k-NN graph (O(n² · d) in chunks of BLAS matrix
products), then a heap walk (O(n_keep · k · log n)).
"""

from __future__ import annotations

import heapq
import operator

import numpy as np

from pipeline.select.samplers._common import (_BLOCK_BYTES, _as_embeddings, _as_scores, _check_fraction, _check_n_keep,
                                              _mask_to_positions)
from pipeline.select.samplers.ccs import _ccs_allocate, _ccs_bins, drop_hardest
from pipeline.select.base import Option, Pool, Sampler
from pipeline.select.samplers.ccs import BETA_HELP, STRATA_HELP


#: Floor of a neighbour's importance in D2's forward pass, as in the authors'
#: code (``max(score_j, 1e-7)``), so a zero-importance neighbour still counts.
D2_EPSILON = 1e-7



def knn_graph(emb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected k-nearest-neighbour graph (Euclidean), as compressed rows.

    Each sample is joined to its ``min(k, n - 1)`` nearest other samples, and
    every edge is made mutual, as in D2's code (``kneighbors_graph`` with the
    connectivity filled in both directions): ``j`` is a neighbour of ``i``
    if either is among the other's ``k`` nearest. Exact brute force in
    blocks of matrix products (torch); distances of the chosen pairs are
    recomputed directly in float64. Ties at the k-th distance are cut by
    ``torch.topk`` (deterministic, not necessarily by position).

    Returns
    -------
    indptr, indices, distances : numpy.ndarray
        Neighbours of ``i`` are ``indices[indptr[i]:indptr[i+1]]`` (ascending)
        at ``distances[...]``.
    """
    emb = _as_embeddings(emb)
    n = emb.shape[0]
    k = operator.index(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0)

    import torch  # its top-k is several times faster than numpy's argpartition here

    x = torch.from_numpy(emb)
    sq = (x * x).sum(dim=1)
    rows = max(1, _BLOCK_BYTES // (4 * n))
    near = np.empty((n, k), dtype=np.int64)
    for a in range(0, n, rows):  # a loop over blocks of rows
        b = min(n, a + rows)
        # |x_i - x_j|² = |x_i|² + |x_j|² - 2 x_i·x_j, in float32: it only ranks
        # the candidates; the distances kept are recomputed exactly below.
        d2 = torch.addmm(sq[a:b, None] + sq[None, :], x[a:b], x.T, alpha=-2.0)
        d2[torch.arange(b - a), torch.arange(a, b)] = float("inf")  # not one's own neighbour
        near[a:b] = torch.topk(d2, k, dim=1, largest=False).indices.numpy()
    src = np.repeat(np.arange(n, dtype=np.int64), k)
    dst = near.ravel()
    # One row per undirected edge (the pair in ascending order), then both directions.
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    key = np.unique(lo * n + hi)
    lo, hi = key // n, key % n
    diff = emb[lo].astype(np.float64) - emb[hi].astype(np.float64)
    dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    u = np.concatenate([lo, hi])
    v = np.concatenate([hi, lo])
    d = np.concatenate([dist, dist])
    order = np.lexsort((v, u))
    indptr = np.concatenate(([0], np.cumsum(np.bincount(u, minlength=n)))).astype(np.int64)
    return indptr, v[order], d[order]


def d2_forward(importance: np.ndarray, indptr: np.ndarray, indices: np.ndarray, distances: np.ndarray,
               *, gamma_forward: float = 1.0) -> np.ndarray:
    """D2 forward message passing: ``x_i = s_i + Σ_{j~i} exp(-γ_f d_ij) · max(s_j, ε)``.

    Maharana, Yadav and Bansal, "D2 Pruning: Message Passing for Balancing
    Diversity and Difficulty in Data Pruning", ICLR 2024; one round over the
    undirected k-NN graph with the ``sum`` graph mode of their code
    (``--graph-mode sum``). The authors' code fixes ``γ_f = 1`` and uses the
    plain Euclidean distance ``d_ij``; ``ε`` is :data:`D2_EPSILON`.
    """
    s = np.asarray(importance, dtype=np.float64)
    rows = np.repeat(np.arange(s.shape[0]), np.diff(indptr))
    messages = np.exp(-gamma_forward * distances) * np.maximum(s[indices], D2_EPSILON)
    return s + np.bincount(rows, weights=messages, minlength=s.shape[0])


def d2_reverse(density: np.ndarray, indptr: np.ndarray, indices: np.ndarray, distances: np.ndarray,
               n_keep: int, *, gamma: float) -> np.ndarray:
    """D2 reverse message passing: greedy picks that lower their neighbours.

    Repeatedly take the unpicked sample of highest (current) value ``x_i``
    (ties: lower position), then lower each unpicked neighbour ``j`` by
    ``exp(-γ_r d_ij) · x_i`` (the authors' ``--graph-sampling-mode
    weighted``). A heap with lazy deletion replaces the authors' full
    ``argmax`` per pick; the picks are the same. Returns sorted positions.
    """
    n = density.shape[0]
    n_keep = _check_n_keep(n_keep, n)
    if n_keep == n:
        return np.arange(n, dtype=np.int64)
    # Plain Python lists: the walk touches a handful of entries per pick, where
    # numpy's per-call overhead would dominate.
    x = density.astype(np.float64).tolist()
    ptr = indptr.tolist()
    nbr = indices.tolist()
    weight = np.exp(-gamma * distances).tolist()
    heap = [(-v, i) for i, v in enumerate(x)]
    heapq.heapify(heap)
    picked = [False] * n
    out = []
    while len(out) < n_keep:  # a loop over picks (the greedy is sequential)
        neg, i = heapq.heappop(heap)
        if picked[i] or -neg != x[i]:
            continue  # stale entry: the value changed after it was pushed
        picked[i] = True
        out.append(i)
        xi = x[i]
        for e in range(ptr[i], ptr[i + 1]):
            j = nbr[e]
            if not picked[j]:
                x[j] -= weight[e] * xi
                heapq.heappush(heap, (-x[j], j))
    return np.sort(np.asarray(out, dtype=np.int64))


def _d2_importance(scores: np.ndarray, keep_high: bool) -> np.ndarray:
    # D2 wants importance oriented "high = keep" and (for its epsilon floor and
    # its sum of messages) non-negative. The authors feed forgetting counts
    # as they are and shift margins to start at zero; a non-negative score
    # whose high end is kept is used unchanged, any other is shifted so the
    # least important sample has 0.
    s = scores.astype(np.float64)
    if keep_high:
        low = s.min()
        return s if low >= 0 else s - low
    return s.max() - s


def _d2_block(importance: np.ndarray, emb: np.ndarray, n_keep: int, k: int, gamma: float,
              gamma_forward: float) -> np.ndarray:
    if n_keep == 0:
        return np.empty(0, dtype=np.int64)
    if n_keep == importance.shape[0]:
        return np.arange(n_keep, dtype=np.int64)
    indptr, indices, distances = knn_graph(emb, k)
    density = d2_forward(importance, indptr, indices, distances, gamma_forward=gamma_forward)
    return d2_reverse(density, indptr, indices, distances, n_keep, gamma=gamma)


def select_d2(
    scores: np.ndarray,
    emb: np.ndarray,
    n_keep: int,
    *,
    higher_is_harder: bool,
    keep: str = "hard",
    k: int = 5,
    gamma: float = 0.1,
    gamma_forward: float = 1.0,
    beta: float = 0.0,
    strata: int = 1,
) -> np.ndarray:
    """D2 pruning: difficulty and diversity by message passing on a k-NN graph.

    Maharana, Yadav and Bansal, ICLR 2024, as in the authors' code
    (``GraphDensitySampler`` with ``--graph-mode sum --graph-sampling-mode
    weighted``; defaults ``k = 5``, ``γ_r = 0.1`` of their CIFAR command):

    1. Hard cutoff (optional, the authors' ``--mis-ratio``): drop the
       ``round(beta · n)`` hardest samples, as :func:`select_ccs` does.
    2. Importance ``s``: the score oriented so the kept end is high, made
       non-negative (see ``_d2_importance``).
    3. Undirected k-NN graph of the embeddings (:func:`knn_graph`).
    4. Forward pass: ``x_i = s_i + Σ_{j~i} exp(-γ_f d_ij) max(s_j, ε)``
       (:func:`d2_forward`, ``γ_f = 1`` in the authors' code).
    5. Reverse pass: pick the highest ``x``, lower its neighbours by
       ``exp(-γ_r d_ij) x_pick``, repeat ``n_keep`` times (:func:`d2_reverse`).

    With ``strata > 1`` steps 3-5 run inside CCS strata (the authors'
    ``--coreset-mode stratified --sampling-mode graph``): the scores left
    after the cutoff are split into equal-width bins, the budget is spread
    over them as CCS does (:func:`pipeline.select.samplers._ccs_allocate`),
    and D2 picks each bin's share on a graph of that bin. Where a bin holds
    at most ``k`` samples the authors fall back to a random draw; here the
    graph joins all of the bin's samples (``k = size - 1``), which keeps D2
    deterministic.

    Parameters
    ----------
    scores : numpy.ndarray
        Shape ``(n,)``, finite.
    emb : numpy.ndarray
        Embeddings, shape ``(n, d)``.
    n_keep : int
        ``0 <= n_keep <= n - round(beta · n)``.
    higher_is_harder : bool
        Which end of the score is hard.
    keep : {"hard", "easy"}
        Which end D2 treats as important.
    k, gamma, gamma_forward : int, float, float
        Neighbours per sample, reverse and forward kernel widths.
    beta : float
        Hard-cutoff fraction in ``[0, 1]``.
    strata : int
        Number of CCS bins (1: D2 on the whole set).

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` positions, length ``n_keep``.
    """
    if keep not in ("hard", "easy"):
        raise ValueError(f"keep must be 'hard' or 'easy', got {keep!r}")
    scores = _as_scores(scores, finite=True)
    n = scores.shape[0]
    emb = _as_embeddings(emb, n)
    n_keep = _check_n_keep(n_keep, n)
    beta = _check_fraction(beta, "beta")
    strata = operator.index(strata)
    if strata < 1:
        raise ValueError(f"strata must be >= 1, got {strata}")
    if operator.index(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    for name, value in (("gamma", gamma), ("gamma_forward", gamma_forward)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    rest = drop_hardest(scores, n_keep, beta, higher_is_harder=higher_is_harder, method="D2")
    if n_keep == 0:
        return np.empty(0, dtype=np.int64)
    if rest is None:
        rest = np.arange(n, dtype=np.int64)
    values = scores[rest].astype(np.float64)
    importance = _d2_importance(values, keep_high=(keep == "hard") == bool(higher_is_harder))
    sub = emb[rest]

    if strata == 1:
        return rest[_d2_block(importance, sub, n_keep, k, gamma, gamma_forward)]
    bins = _ccs_bins(values, strata)
    alloc = _ccs_allocate(np.bincount(bins, minlength=strata), n_keep)
    mask = np.zeros(n, dtype=bool)
    for b in np.flatnonzero(alloc).tolist():  # a loop over bins, not samples
        members = np.flatnonzero(bins == b)
        picked = _d2_block(importance[members], sub[members], int(alloc[b]), k, gamma, gamma_forward)
        mask[rest[members[picked]]] = True
    return _mask_to_positions(mask)


D2_K = 5
D2_GAMMA = 0.1  # γ_r of the authors' CIFAR command (`--gamma 0.1`)
D2_GAMMA_FORWARD = 1.0  # γ_f, fixed in the authors' code


def _d2(pool: Pool, n_keep: int, rng, *, keep: str, k: int, gamma: float, gamma_forward: float, beta: float,
        strata: int) -> np.ndarray:
    return select_d2(pool.scores, pool.emb, n_keep, higher_is_harder=pool.higher_is_harder, keep=keep, k=k,
                     gamma=gamma, gamma_forward=gamma_forward, beta=beta, strata=strata)


SAMPLER = Sampler(
    "d2", _d2, "message passing on a k-NN graph of embeddings (difficulty + diversity), greedy reverse passing",
    "Maharana et al., ICLR 2024", needs=("scores", "embeddings"),
    options=(Option("keep", "hard", "keep the 'hard' end of the scores or the 'easy' end", type=str, choices=("hard", "easy")),
             Option("k", D2_K, "neighbours per sample in the k-NN graph of embeddings", type=int, low=1),
             Option("gamma", D2_GAMMA, "a pick lowers a neighbour at distance d by exp(−gamma·d) times its own value; "
                    "larger gamma, more local", low=0.0),
             Option("gamma_forward", D2_GAMMA_FORWARD, "γ_f of the forward (importance) pass", low=0.0),
             Option("beta", 0.0, BETA_HELP, low=0.0, high=1.0, high_open=True),
             Option("strata", 1, STRATA_HELP, type=int, low=1)))
