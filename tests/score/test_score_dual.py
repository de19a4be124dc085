"""DUAL on hand-computed trajectories: windows of p_y, std · (1 − mean), averaged; the authors' T = 30 default, their
training pass, and the same values from dynamics/ p_true."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.io import open_run
from pipeline.record.synthetic import write_run
from pipeline.score.methods._arrays import log_p_true
from pipeline.score.methods.dual import dual_of_p, dual_score, from_dynamics, p_true_mean
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


def test_three_samples_over_four_epochs_by_hand():
    # windows of J = 3 over 4 epochs: k = 0 (epochs 0-2) and k = 1 (epochs 1-3), the score their mean.
    # sample 0: p_y = 0.1, 0.3, 0.2, 0.6. Window 0: mean 0.2, unbiased std √((0.01 + 0.01 + 0)/2) = 0.1,
    #   term 0.1 · (1 − 0.2) = 0.08. Window 1: mean 11/30, deviations −2/30, −5/30, 7/30, so the std is
    #   √((4 + 25 + 49)/900 / 2) = √39/30, term √39/30 · 19/30.
    # sample 1: p_y = 0.5 throughout: std 0, score 0.
    # sample 2: p_y = 1 − sample 0's: the same stds, difficulties 0.2 and 11/30: as uncertain, easier, lower.
    p = np.array([[0.1, 0.5, 0.9], [0.3, 0.5, 0.7], [0.2, 0.5, 0.8], [0.6, 0.5, 0.4]])
    want = [(0.08 + np.sqrt(39) * 19 / 900) / 2, 0.0, (0.1 * 0.2 + np.sqrt(39) * 11 / 900) / 2]
    got = dual_score(_logits_for(p), np.zeros(3, int), window=3)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert got[0] > got[2] > got[1]


def test_a_learnt_sample_keeps_an_exact_small_score():
    # p_y ≈ 1 barely moving: the windows' std is 1e-7 on values near 1, kept exact by centring the sums
    p = 1 - np.array([[1e-6], [1.2e-6], [0.9e-6], [1.1e-6], [1e-6]])
    want = np.mean([x.std(ddof=1) * (1 - x.mean()) for x in (p[k:k + 3, 0] for k in range(3))])
    np.testing.assert_allclose(dual_of_p(p[None], 3), [want], rtol=1e-6)


def test_the_training_pass_is_read_as_the_authors_record_it(tmp_path):
    g = np.random.default_rng(2)
    train, held = g.uniform(0.05, 0.95, size=(6, 4)), g.uniform(0.05, 0.95, size=(6, 4))
    run = write_run(tmp_path / "run", _logits_for(train).astype(np.float32), np.zeros(4, int),
                    eval_logits=_logits_for(held).astype(np.float32))
    _, _, _, values, _ = compute(run=run, method="dual", params={"window": 3})
    np.testing.assert_allclose(values, dual_score(_logits_for(train), np.zeros(4, int), 3), rtol=1e-5)


def test_from_the_dynamics_as_from_the_logits(tmp_path):
    g = np.random.default_rng(3)
    logits = g.normal(size=(2, 9, 7, 4)).astype(np.float32)  # two inits
    targets = g.integers(0, 4, 7)
    run = open_run(write_run(tmp_path / "run", logits, targets))
    want = dual_score(logits, targets, 4)
    _, _, params, values, _ = compute(run=run, method="dual", params={"window": 4})
    np.testing.assert_allclose(values, want, rtol=1e-6)
    np.testing.assert_allclose(from_dynamics(run, params), want, rtol=1e-5)  # the --logits none path
    p = np.exp(log_p_true(logits, targets))
    np.testing.assert_allclose(p_true_mean(run, 5), p[:, :5].mean(axis=1).mean(axis=0), rtol=1e-6)
