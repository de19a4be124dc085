"""CoreSet acquisition (Sener & Savarese, ICLR 2018): greedy k-center on the pool, from the labelled set."""

from __future__ import annotations

import math

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import ScoreMethod, pool_only

#: float64 bytes of one block of pool × labelled squared distances (the start), and float32 bytes of one block of
#: pool rows (each pick's update): the memory beyond the embeddings themselves stays near these.
BLOCK_BYTES = 32 << 20

HOW = ("prune score --pool on a run recorded with --pool --embeddings final; to prune the training set with "
       "k-center use `prune select --method kcenter`")


def nearest_sq_distance(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """min_j ‖x_i − c_j‖₂² for every row of ``points``, in float64, by blocks of both (never a full P × n matrix).

    ‖x‖² − 2 x·c + ‖c‖² in float64 matrix products; float64 keeps the
    cancellation of near pairs at ~1e-16 of ‖x‖², and negatives from it are
    clipped at 0.
    """
    P, n = len(points), len(centres)
    out = np.full(P, np.inf)
    if n == 0 or P == 0:
        return out
    rows = max(1, int(math.isqrt(BLOCK_BYTES // 8)))
    for a in range(0, n, rows):
        c = np.asarray(centres[a:a + rows], dtype=np.float64)
        cc = np.einsum("ij,ij->i", c, c)
        for b in range(0, P, rows):
            x = np.asarray(points[b:b + rows], dtype=np.float64)
            d = np.einsum("ij,ij->i", x, x)[:, None] - 2.0 * (x @ c.T) + cc[None, :]
            np.minimum(out[b:b + rows], d.min(axis=1), out=out[b:b + rows])
    return np.maximum(out, 0.0)


def greedy_kcenter(pool: np.ndarray, labelled: np.ndarray, picks: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center over the pool (P, D) with the labelled rows (n, D) as the first centres.

    Each of ``picks`` steps takes the pool point farthest (Euclidean) from
    its nearest centre (ties to the lower position) and makes it a centre.
    Returns the picks in order and the distance of every pool point to its
    nearest centre after the last pick (0 for the picked points). Each step
    updates one vector of nearest distances from exact differences x − c,
    by blocks of rows: O(P·D) time and bounded extra memory.
    """
    pool = np.ascontiguousarray(pool, dtype=np.float32)
    P = len(pool)
    nearest = nearest_sq_distance(pool, labelled)  # float64 squared distances
    order = np.empty(picks, dtype=np.int64)
    rows = max(1, BLOCK_BYTES // (4 * max(1, pool.shape[1])))
    picked = np.zeros(P, dtype=bool)
    for t in range(picks):  # a loop over picks; each is one pass over the pool
        i = int(np.argmax(np.where(picked, -np.inf, nearest)))
        order[t] = i
        picked[i] = True
        c = pool[i]
        for a in range(0, P, rows):
            diff = pool[a:a + rows] - c
            np.minimum(nearest[a:a + rows], np.einsum("ij,ij->i", diff, diff, dtype=np.float64), out=nearest[a:a + rows])
        nearest[i] = 0.0
    return order, np.sqrt(nearest)


def acquisition_scores(order: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Scores whose top k are the first k picks, for every k ≤ len(order).

    The t-th pick (t = 0, 1, …) scores offset + (picks − t), offset = 1 +
    the largest distance of an unpicked point; an unpicked point scores its
    distance to the nearest centre after all picks.
    """
    out = np.asarray(distance, dtype=np.float64).copy()
    rest = np.ones(len(out), dtype=bool)
    rest[order] = False
    offset = 1.0 + (float(out[rest].max()) if rest.any() else 0.0)
    out[order] = offset + (len(order) - np.arange(len(order), dtype=np.float64))
    return out


def _flat(emb: np.ndarray) -> np.ndarray:
    """(init, sample, dim) → (sample, init·dim): the inits' features side by side, one space."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(emb, dtype=np.float32), 0, 1).reshape(emb.shape[1], -1))


def pool(run, params) -> np.ndarray:
    snapshot = params["snapshot"]
    labelled = run.embeddings(snapshot)  # (init, n, dim); one line naming the record flag when missing
    k = len(run.snapshot_epochs) - 1 if snapshot is None else run.snapshot_epochs.index(int(snapshot))
    params["snapshot"] = run.snapshot_epochs[k]  # the table records the snapshot actually used
    emb = run.pool_array("pool_embeddings")  # (init, snapshot, pool, dim)
    if emb.shape[1] != len(run.snapshot_epochs) or emb.shape[3] != labelled.shape[2]:
        raise PruneError(f"run {run.path} is damaged: pool_embeddings has shape {tuple(emb.shape)}, the labelled "
                         f"embeddings {tuple(labelled.shape)}; record the run again")
    P = emb.shape[2]
    picks = math.ceil(0.1 * P) if params["picks"] is None else int(params["picks"])
    if picks < 0:
        raise PruneError(f"--picks must be at least 0, got {picks}")
    picks = params["picks"] = min(picks, P)  # at most the pool; the table records the count used
    order, distance = greedy_kcenter(_flat(emb[:, k]), _flat(labelled), picks)
    return acquisition_scores(order, distance)


METHOD = ScoreMethod(
    name="kcenter",
    compute=pool_only("kcenter", HOW),
    pool=pool,
    pool_only=True,
    higher_is_harder=True,
    hard_end="high: the top k are the greedy k-center batch for every k ≤ --picks",
    formula="greedy k-center on the embeddings at --snapshot (default last; the inits' features concatenated), "
            "centres starting at the labelled rows: each pick is the pool point farthest from its nearest centre; "
            "pick t of --picks (default ceil(10% of the pool)) scores 1 + max(rest) + picks − t, every other point "
            "its distance to the nearest centre (pool only)",
    paper="Sener & Savarese, Active Learning for Convolutional Neural Networks: A Core-Set Approach, ICLR 2018",
    defaults={"snapshot": None, "picks": None},
    needs=("embeddings and pool_embeddings (prune record --manifest M --pool --embeddings final)",),
)
