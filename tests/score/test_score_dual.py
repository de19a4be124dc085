"""DUAL on hand-computed trajectories: windows of p_y, std · (1 − mean), averaged; the authors' T = 30 default."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.record.synthetic import write_run
from pipeline.score.methods.dual import dual_score
from pipeline.score.run import compute


def _logits_for(p_true: np.ndarray) -> np.ndarray:
    """Two-class logits (init=1, epoch, sample, 2) whose softmax gives class 0 the probability ``p_true``."""
    z = np.log(p_true / (1 - p_true))
    return np.stack([z, np.zeros_like(z)], axis=-1)[None]


def test_dual_by_hand():
    # sample 0: p_y = 0.2, 0.4, 0.6, 0.8 over 4 epochs; windows of J = 2: (0.2, 0.4), (0.4, 0.6), (0.6, 0.8)
    # each window: unbiased std = 0.1·√2; means 0.3, 0.5, 0.7 → mean of √0.02 · (0.7, 0.5, 0.3) = √0.02 · 0.5
    # sample 1: p_y constant 0.5: std 0 → 0
    p = np.array([[0.2, 0.5], [0.4, 0.5], [0.6, 0.5], [0.8, 0.5]])
    got = dual_score(_logits_for(p), np.array([0, 0]), window=2)
    np.testing.assert_allclose(got, [np.sqrt(0.02) * 0.5, 0.0], atol=1e-12)
    # J = 4: one window, std of (0.2, 0.4, 0.6, 0.8) = √(0.2/3), mean 0.5
    np.testing.assert_allclose(dual_score(_logits_for(p), np.array([0, 0]), window=4)[0], np.sqrt(0.2 / 3) * 0.5)


def test_the_authors_loop_on_random_trajectories():
    g = np.random.default_rng(0)
    p = g.uniform(0.01, 0.99, size=(12, 5))
    want = []
    for i in range(5):
        w = [p[k:k + 4, i] for k in range(12 - 4 + 1)]
        want.append(np.mean([x.std(ddof=1) * (1 - x.mean()) for x in w]))
    np.testing.assert_allclose(dual_score(_logits_for(p), np.zeros(5, int), window=4), want, rtol=1e-9)


def test_a_run_scores_its_first_30_epochs_by_default(tmp_path):
    g = np.random.default_rng(1)
    p = g.uniform(0.05, 0.95, size=(34, 6))
    run = write_run(tmp_path / "run", _logits_for(p).astype(np.float32), np.zeros(6, int))
    _, _, params, values, _ = compute(run=run, method="dual", params={})
    assert params == {"window": 10, "epochs": 30}
    np.testing.assert_allclose(values, dual_score(_logits_for(p[:30]), np.zeros(6, int), 10), rtol=1e-5)
    _, _, params, values, _ = compute(run=run, method="dual", params={"epochs": 12, "window": 3})
    np.testing.assert_allclose(values, dual_score(_logits_for(p[:12]), np.zeros(6, int), 3), rtol=1e-5)


def test_a_window_longer_than_the_epochs_is_one_line(tmp_path):
    from pipeline.io import PruneError

    run = write_run(tmp_path / "run", _logits_for(np.full((3, 2), 0.5)).astype(np.float32), np.zeros(2, int))
    with pytest.raises(PruneError, match="--window 10"):
        compute(run=run, method="dual", params={})
