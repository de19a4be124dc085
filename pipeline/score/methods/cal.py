"""Contrastive active learning (Margatina et al., EMNLP 2021): how much a sample's prediction differs from its
nearest neighbours'."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import ScoreMethod

#: float64 bytes of one block of query × member squared distances: memory stays near this whatever the class size
BLOCK_BYTES = 32 << 20


def nearest_neighbours(points: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` nearest other rows of ``points`` (Euclidean) for every row, nearest first, (n, k) int64.

    Squared distances ‖a‖² − 2 a·b + ‖b‖² in float64, by blocks of query
    rows (never the full n × n matrix at once). A row is never its own
    neighbour; equal distances go to the lower row. ``k`` larger than n − 1
    is cut to n − 1.
    """
    x = np.asarray(points, dtype=np.float64)
    n = len(x)
    k = min(int(k), n - 1)
    out = np.empty((n, max(k, 0)), dtype=np.int64)
    if k <= 0:
        return out
    sq = np.einsum("ij,ij->i", x, x)
    rows = max(1, BLOCK_BYTES // (8 * n))
    for a in range(0, n, rows):
        b = min(n, a + rows)
        d = sq[a:b, None] - 2.0 * (x[a:b] @ x.T) + sq[None, :]
        d[np.arange(b - a), np.arange(a, b)] = np.inf  # not its own neighbour
        cand = np.argpartition(d, k - 1, axis=1)[:, :k]  # the k smallest, in no order, ties arbitrary
        cd = np.take_along_axis(d, cand, axis=1)
        order = np.lexsort((cand, cd), axis=1)  # by distance, then by row
        out[a:b] = np.take_along_axis(cand, order, axis=1)
        # where the k-th distance is shared with rows left out, the lowest rows among the tied must be taken
        tied = np.flatnonzero((d <= cd.max(axis=1, keepdims=True)).sum(axis=1) > k)
        for t in tied:
            out[a + t] = np.argsort(d[t], kind="stable")[:k]
    return out


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def contrastive_kl(log_p: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Mean over each sample's neighbours j of ½ KL(p_i ‖ p_j) + ½ KL(p_j ‖ p_i),
    which is ½ Σ_c (p_ic − p_jc)(log p_ic − log p_jc): finite wherever the log-probabilities are.

    ``log_p`` (n, C) log-probabilities, ``neighbours`` (n, k) rows of it; a
    sample without neighbours (k = 0) scores 0.
    """
    log_p = np.asarray(log_p, dtype=np.float64)
    p = np.exp(log_p)
    n, k = neighbours.shape
    if k == 0:
        return np.zeros(n)
    rows = max(1, BLOCK_BYTES // (8 * k * log_p.shape[1]))
    out = np.empty(n)
    for a in range(0, n, rows):
        nb = neighbours[a:a + rows]
        sym = 0.5 * ((p[a:a + rows, None] - p[nb]) * (log_p[a:a + rows, None] - log_p[nb])).sum(axis=2)
        out[a:a + rows] = sym.mean(axis=1)
    return out


def neighbourhoods(features: np.ndarray, targets: np.ndarray | None, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows of a group, their ``k`` nearest neighbours in ``features`` as positions in the group) for every class of
    ``targets`` (None: one group, every sample)."""
    n = len(features)
    groups = [np.arange(n)] if targets is None else [np.flatnonzero(targets == c) for c in np.unique(targets)]
    return [(g, nearest_neighbours(features[g], k)) for g in groups]  # a loop over classes, each in bulk


def cal_scores(features: np.ndarray, log_p: np.ndarray, targets: np.ndarray | None, k: int,
               hoods: list[tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """CAL score of every sample: its ``k`` nearest neighbours in ``features``, within its class of ``targets``
    (None: among every sample), and the mean symmetric KL divergence of their predictions from its own.
    ``hoods``: those neighbourhoods already found (:func:`neighbourhoods`)."""
    out = np.empty(len(log_p))
    for g, nb in neighbourhoods(features, targets, k) if hoods is None else hoods:
        out[g] = contrastive_kl(log_p[g], nb)
    return out


def user_features(run, path: str) -> np.ndarray:
    """``--opt features=PATH``: an (n, d) .npy, one row per training sample of the run (or of the whole training set
    when the run trained on a manifest's subset)."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise PruneError(f"--features {path}: cannot read it as a .npy array ({err})") from None
    if arr.ndim != 2 or len(arr) not in (run.n, run.n_total) or not np.issubdtype(arr.dtype, np.number):
        raise PruneError(f"--features {path}: expected a numeric (samples, dim) array with {run.n} rows"
                         f"{f' (or {run.n_total}, the whole training set)' if run.n_total != run.n else ''}, "
                         f"got {arr.dtype} {tuple(arr.shape)}")
    out = np.asarray(arr if len(arr) == run.n else arr[run.sample_ids], dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise PruneError(f"--features {path}: holds NaN or inf")
    return out


def compute(run, params) -> np.ndarray:
    emb = run.embeddings(params["snapshot"])  # (init, sample, dim); names the record flag when missing
    weight, bias = run.heads(params["snapshot"])  # the classifier that reads them, at the same snapshot
    params["snapshot"] = run.snapshot_epochs[-1] if params["snapshot"] is None else params["snapshot"]  # recorded as used
    targets = run.targets if params["balance"] else None
    k = int(params["neighbors"])
    # a user's features are one space for every init: their neighbours are found once
    hoods = (neighbourhoods(user_features(run, params["features"]), targets, k) if params["features"] is not None
             else None)
    scores = []
    for e, w, b in zip(emb, weight, bias):
        log_p = log_softmax(e.astype(np.float64) @ w.T + b)
        scores.append(cal_scores(e, log_p, targets, k, hoods))
    return np.mean(scores, axis=0)


METHOD = ScoreMethod(
    name="cal",
    compute=compute,
    higher_is_harder=True,
    hard_end="high (predicted unlike its neighbours); DeepCore's code keeps the low end (--keep easy)",
    formula="mean over the --neighbors 10 nearest (Euclidean) embeddings at --snapshot (default last), within the "
            "sample's class (--balance, DeepCore's default), of ½KL(p‖p_j) + ½KL(p_j‖p), p = softmax of the recorded "
            "classifier on the embedding; --features PATH: neighbours in a user's (n, d) .npy instead; mean over inits",
    paper="Margatina et al., Active Learning by Acquiring Contrastive Examples, EMNLP 2021 (as DeepCore's Cal)",
    defaults={"snapshot": None, "neighbors": 10, "balance": True, "features": None},
    needs=("embeddings with their classifier (prune record --embeddings E1,E2,...)",),
)
