"""Random scores: the baseline every method must beat."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import ScoreMethod


def random_scores(n: int, seed: int) -> np.ndarray:
    """uniform(0, 1) per sample from ``seed``."""
    return np.random.default_rng(seed).random(n)


def compute(run, params) -> np.ndarray:
    return random_scores(run.n, int(params["seed"]))


def pool(run, params) -> np.ndarray:
    """uniform(0, 1) per pool sample from --seed (random acquisition)."""
    return random_scores(len(run.pool_ids), int(params["seed"]))


METHOD = ScoreMethod(
    name="random",
    compute=compute,
    pool=pool,
    higher_is_harder=None,
    formula="uniform(0, 1) from --seed (on the pool too: random acquisition)",
    paper="baseline",
    defaults={"seed": 0},
    needs=("nothing",),
)
