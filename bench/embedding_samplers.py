"""Embedding samplers at scale: D2 (k-NN graph + message passing) and k-center.

Random Gaussian embeddings and scores; times the pure selection functions
(no I/O). D2 builds an exact k-NN graph (O(N²·d) in blocks), k-center costs one
distance update per pick (O(N·n_keep·d)).

    python bench/embedding_samplers.py [--n 50000] [--dim 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pipeline.select.samplers import knn_graph, select_d2, select_kcenter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--kcenter-keep", type=int, default=5_000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((a.n, a.dim)).astype(np.float32)
    scores = rng.random(a.n)
    t0 = time.perf_counter()
    knn_graph(emb, 5)
    t_graph = time.perf_counter() - t0
    t0 = time.perf_counter()
    select_d2(scores, emb, a.n // 2, higher_is_harder=True)
    t_d2 = time.perf_counter() - t0
    t0 = time.perf_counter()
    select_kcenter(emb, a.kcenter_keep)
    t_kc = time.perf_counter() - t0
    print(f"N={a.n:,} dim={a.dim}")
    print(f"k-NN graph (k=5)            {t_graph:7.2f}s")
    print(f"d2, keep half (incl. graph) {t_d2:7.2f}s")
    print(f"kcenter, keep {a.kcenter_keep:,}         {t_kc:7.2f}s")


if __name__ == "__main__":
    main()
