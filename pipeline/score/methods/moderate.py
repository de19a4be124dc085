"""Moderate coreset (Xia et al., ICLR 2023): distance to the class's median embedding."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import ScoreMethod


def median_distance(embeddings: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """‖h_n − median_{m: y_m = y_n} h_m‖₂ per sample, the median taken element-wise per class.

    As the authors' code: one prototype per class, the coordinate-wise median
    of its members' embeddings; the score is the Euclidean distance to it.
    Their selector then keeps the samples whose distance is closest to the
    median distance (`prune select --method moderate`).
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    out = np.empty(len(emb))
    for c in np.unique(targets):  # a loop over classes; every sample is handled in bulk
        members = targets == c
        centre = np.median(emb[members], axis=0)
        out[members] = np.linalg.norm(emb[members] - centre, axis=1)
    return out


def compute(run, params) -> np.ndarray:
    emb = run.embeddings(params["snapshot"])  # (init, sample, dim); names the record flag when missing
    params["snapshot"] = run.snapshot_epochs[-1] if params["snapshot"] is None else params["snapshot"]  # recorded as used
    y = run.targets
    return np.mean([median_distance(e, y) for e in emb], axis=0)


METHOD = ScoreMethod(
    name="moderate",
    compute=compute,
    higher_is_harder=True,
    hard_end="high (far from the class median); `prune select --method moderate` keeps the middle",
    formula="‖h − median_class(h)‖₂: distance of the embedding at --snapshot (default last) to its class's element-wise median",
    paper="Xia et al., Moderate Coreset: A Universal Method of Data Selection for Real-world Data-efficient Deep Learning, ICLR 2023",
    defaults={"snapshot": None},
    needs=("embeddings (prune record --embeddings E1,E2,...)",),
)
