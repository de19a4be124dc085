"""Self-supervised prototypes (Sorscher et al., NeurIPS 2022): distance to the nearest k-means centroid."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.base import ScoreMethod


def prototype_distance(embeddings: np.ndarray, clusters: int, seed: int = 0, distance: str = "cosine") -> np.ndarray:
    """Distance of every embedding to its nearest of ``clusters`` k-means centroids; labels are not used.

    ``distance="cosine"`` (the paper's): k-means on L2-normalised embeddings,
    score 1 − max_j cos(h, c_j). ``"euclidean"``: k-means on the raw
    embeddings, score min_j ‖h − c_j‖₂. k-means is scikit-learn's (k-means++
    seeding, best of 3 restarts of at most 100 Lloyd iterations, from ``seed``;
    the paper's own code is not public). High = far from every prototype = hard.
    """
    from sklearn.cluster import KMeans

    x = np.asarray(embeddings, dtype=np.float64)
    if distance == "cosine":
        # all-zero embeddings (dead ReLUs) have no direction; they stay at the origin
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    km = KMeans(n_clusters=clusters, n_init=3, max_iter=100, random_state=seed).fit(x)
    if distance == "cosine":
        c = km.cluster_centers_ / np.maximum(np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True), 1e-12)
        return 1.0 - (x @ c.T).max(axis=1)
    return km.transform(x).min(axis=1)


def compute(run, params) -> np.ndarray:
    if params["distance"] not in ("cosine", "euclidean"):
        raise PruneError(f"--distance must be 'cosine' or 'euclidean', got {params['distance']!r}")
    k = run.num_classes if params["clusters"] is None else int(params["clusters"])
    if not 1 <= k <= run.n:
        raise PruneError(f"--clusters {k} must be between 1 and the number of samples ({run.n})")
    emb = run.embeddings(params["snapshot"])
    # the table's metadata records what was actually used
    params.update(clusters=k, snapshot=run.snapshot_epochs[-1] if params["snapshot"] is None else params["snapshot"])
    return np.mean([prototype_distance(e, k, int(params["seed"]), params["distance"]) for e in emb], axis=0)


METHOD = ScoreMethod(
    name="prototype",
    compute=compute,
    higher_is_harder=True,
    formula="k-means (k = --clusters, default the class count) on the embeddings at --snapshot; distance to the nearest centroid (--distance cosine|euclidean); label-free",
    paper="Sorscher et al., Beyond neural scaling laws: beating power law scaling via data pruning, NeurIPS 2022",
    defaults={"clusters": None, "snapshot": None, "seed": 0, "distance": "cosine"},
    needs=("embeddings (prune record --embeddings E1,E2,...)",),
)
