"""One rule from a rate to a count, the same in every stage (DESIGN.md §9)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.counts import checked_keep_count, keep_count, proportional_shares, round_half_up
from pipeline.io import PruneError

HALF_CASES = [(10, 0.25, 7), (5, 0.5, 2), (50, 0.29, 35), (3, 0.5, 1), (16000, 0.3, 11200), (7, 0.5, 3)]


@pytest.mark.parametrize("n,rate,kept", HALF_CASES)
def test_keep_count_rounds_halves_up_on_the_decimal_rate(n, rate, kept):
    assert keep_count(n, rate) == kept
    assert checked_keep_count(n, rate) == kept


@pytest.mark.parametrize("n,rate,kept", HALF_CASES)
def test_every_stage_uses_the_rule(n, rate, kept):
    from pipeline.data.noise import flip_labels
    from pipeline.train.dynamic import RCAPPlan, RS2Plan
    from pipeline.select.samplers import n_keep_for

    y = np.arange(n) % 2
    rng = np.random.default_rng(0)
    assert n_keep_for(n, rate) == kept
    assert len(RS2Plan(y, rate, num_classes=2).ids_for_epoch(0, rng)[0]) == kept
    assert len(RCAPPlan(y, rate, num_classes=2, beta=0.25).ids_for_epoch(0, rng)[0]) == kept
    # label noise flips round_half_up(fraction·n) labels: n − kept of them
    assert int((flip_labels(y, 2, rate, seed=0) != y).sum()) == n - kept


def test_round_half_up():
    assert [round_half_up(0.5, k) for k in range(6)] == [0, 1, 1, 2, 2, 3]  # banker's would give 0, 0, 1, 2, 2, 2
    assert round_half_up(0.125, 100) == 13  # 12.5 → 13


@pytest.mark.parametrize("n,rate,message", [
    (10, 0.96, "removes all 10"),   # round(9.6) = 10
    (10, 0.04, "removes none"),     # round(0.4) = 0
    (10, 0.0, "must be in (0, 1)"),
    (10, 1.0, "must be in (0, 1)"),
    (10, float("nan"), "must be in (0, 1)"),
])
def test_a_rate_that_keeps_all_or_nothing_is_refused(n, rate, message):
    with pytest.raises(PruneError, match=message.replace("(", r"\(").replace(")", r"\)")):
        checked_keep_count(n, rate)


def test_proportional_shares_sum_exactly_by_largest_remainder():
    # 7 of (5, 3, 2): exact shares 3.5, 2.1, 1.4 → floors 3, 2, 1 (6); the largest remainder (0.5) gets the unit
    np.testing.assert_array_equal(proportional_shares(np.array([5, 3, 2]), 7), [4, 2, 1])
    # ties go to the lower index: 1 of (1, 1) → (1, 0)
    np.testing.assert_array_equal(proportional_shares(np.array([1, 1]), 1), [1, 0])
    np.testing.assert_array_equal(proportional_shares(np.array([0, 0]), 0), [0, 0])
