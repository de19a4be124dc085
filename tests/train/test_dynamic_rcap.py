"""``--dynamic rcap``: class budgets from loss mass, high-loss samples first (pipeline/train/dynamic/rcap.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.train.dynamic import RCAPPlan, rcap_budgets, rcap_probabilities, sample_by_class

from cli_helpers import error_line, prune  # noqa: E402


def test_rcap_probabilities_hand_computed():
    # beta 1, clip ln 4: class 0 losses (0, ln 3) -> (1, 3)/4; class 1 (0, 0, 10 -> ln 4) -> (1, 1, 4)/6
    p = rcap_probabilities(np.array([0.0, np.log(3), 0.0, 0.0, 10.0]), np.array([0, 0, 1, 1, 1]), 2, 1.0, np.log(4))
    np.testing.assert_allclose(p, [1 / 4, 3 / 4, 1 / 6, 1 / 6, 4 / 6])
    # beta scales the exponent: (0, ln 3) / 0.5 -> (1, 9)/10
    p = rcap_probabilities(np.array([0.0, np.log(3)]), np.array([0, 0]), 1, 0.5, 5.0)
    np.testing.assert_allclose(p, [0.1, 0.9])


def test_rcap_budgets_hand_computed():
    # equal mass: a = sqrt(prior) = sqrt(.6, .3, .1); 7 * a / sum a = (3.31, 2.34, 1.35): class 2 is capped at 1,
    # the other 6 re-spread as (3.515, 2.485) -> floors (3, 2) + the one left to the larger remainder
    np.testing.assert_array_equal(rcap_budgets(np.ones(3), np.array([6, 3, 1]), 7), [4, 2, 1])
    # mass (1, .25, .1), sizes (2, 8, 10): a = sqrt(.1, .1, .05); 10 * a / sum a = (3.69, 3.69, 2.61): class 0 capped
    # at 2, then 8 * (1, sqrt .5) / (1 + sqrt .5) = (4.686, 3.314) -> (2, 5, 3)
    np.testing.assert_array_equal(rcap_budgets(np.array([1.0, 0.25, 0.1]), np.array([2, 8, 10]), 10), [2, 5, 3])
    # budgets always sum exactly to the total and never exceed a class
    rng = np.random.default_rng(0)
    for _ in range(50):
        sizes = rng.integers(1, 40, size=6)
        total = int(rng.integers(6, sizes.sum() + 1))
        b = rcap_budgets(rng.random(6), sizes, total)
        assert b.sum() == total and np.all(b <= sizes) and np.all(b >= 1)


def test_class_sampling_follows_successive_draws_without_replacement():
    # 20,000 independent classes of 3 samples, p = (.5, .3, .2), 2 drawn from each: the chance that sample i is
    # left out is sum over first draws j != i of p_j * p_k / (1 - p_j), k the third sample
    p3 = np.array([0.5, 0.3, 0.2])
    out = np.array([sum(p3[j] * p3[3 - i - j] / (1 - p3[j]) for j in range(3) if j != i) for i in range(3)])
    m = 20000
    targets = np.repeat(np.arange(m), 3)
    ids = sample_by_class(np.tile(p3, m), targets, np.full(m, 2), np.random.default_rng(3))
    assert len(ids) == 2 * m
    np.testing.assert_array_equal(np.bincount(targets[ids], minlength=m), np.full(m, 2))
    freq_out = 1 - np.bincount(ids % 3, minlength=3) / m
    np.testing.assert_allclose(freq_out, out, atol=0.01)


def test_rcap_plan_first_epoch_and_loss_feedback():
    targets = np.repeat([0, 1], [6, 4])
    plan = RCAPPlan(targets, 0.5, num_classes=2, beta=1.0)
    assert plan.clip == pytest.approx(np.log(2))
    rng = np.random.default_rng(0)
    ids, w = plan.ids_for_epoch(0, rng)
    # epoch 0: every loss is the clip value and the mass of every class is 1: budgets ∝ sqrt(prior)
    np.testing.assert_array_equal(np.bincount(targets[ids], minlength=2),
                                  rcap_budgets(np.ones(2), np.array([6, 4]), 5))
    assert w is None
    # losses of the trained samples replace the initial ones; the others keep theirs
    plan.on_batch(0, torch.from_numpy(ids), None, torch.zeros(len(ids)))
    last = plan.last_losses()
    assert np.all(last[ids] == 0) and np.allclose(np.delete(last, ids), np.log(2))
    p = rcap_probabilities(last, targets, 2, 1.0, np.log(2))
    mass = np.bincount(targets[ids], weights=p[ids], minlength=2)
    ids2, _ = plan.ids_for_epoch(1, rng)
    np.testing.assert_array_equal(np.bincount(targets[ids2], minlength=2), rcap_budgets(mass, np.array([6, 4]), 5))


def test_rcap_from_the_cli(train_dynamic):
    m, samples, per_epoch = train_dynamic("rcap", "--beta", "0.5")
    N = m["n_total"]
    assert per_epoch["n"].to_list() == [N - round(0.5 * N)] * 3
    assert samples["weight"].unique().to_list() == [1.0]
    assert m["dynamic"]["beta"] == 0.5


@pytest.mark.parametrize("args, expected", [
    (["--dynamic", "rs2", "--rate", "0.5", "--beta", "1"], "rcap only"),
    (["--dynamic", "rcap", "--rate", "0.5", "--beta", "0"], "--beta of --dynamic rcap must be a number > 0"),
])
def test_rcap_options_are_one_line(dynamic_run, args, expected):
    assert expected in error_line(prune("train", "--run", dynamic_run, *args, ok=False))
