"""Class quotas of the catalog (DRoP, StrategyQ, Normalize, water-filling): hand-computed budgets."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from pipeline.select.quotas import quota_drop, quota_like, quota_normalize, water_fill

# --------------------------------------------------------------------------
# DRoP (paper, Algorithm 1): budget_k ∝ e_k N_k, saturated classes kept whole
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sizes, recalls, n_keep, expected",
    [
        # e = .1 .2 .3, N = 100 each: d_k = 60 e_k / 60 -> 10, 20, 30; nothing saturates.
        ([100, 100, 100], [0.9, 0.8, 0.7], 60, [10, 20, 30]),
        # Densities, not counts, follow the error: e = .2, .1 on N = 100, 900 gives
        # weights 20 : 90 -> 90.9 and 409.1 (densities .91 and .45, 2 : 1).
        # The authors' code (counts ∝ e) would give 333 : 167, capped to 100 : 400.
        ([100, 900], [0.8, 0.9], 500, [91, 409]),
        # Two rounds of saturation: weights 10, 10, 10 -> 20 each; class 0 (10) is
        # kept whole; 50 left -> 25 each; class 1 (20) kept whole; class 2 takes 30.
        ([10, 20, 100], [0.0, 0.5, 0.9], 60, [10, 20, 30]),
        # Saturation, a zero-error class and rounding at once. e = .5 .1 0 .05,
        # weights 20, 6, 0, 10. The zero-error class keeps the floor (1); 179 left:
        # class 0 would get 179·20/36 = 99.4 > 40 -> kept whole; 139 left over
        # weights 6 : 10 -> 52.125, 86.875 -> floors 52 + 86, the unit to class 3.
        ([40, 60, 100, 200], [0.5, 0.9, 1.0, 0.95], 180, [40, 52, 1, 87]),
        # Equal shares of 10/3: the one unit left goes to the lowest class index.
        ([10, 10, 10], [0.5, 0.5, 0.5], 10, [4, 3, 3]),
        # Every class with an error kept whole (10 + 20) and budget left (29): it
        # goes to the zero-error classes by size above their floors: 30 : 40 of
        # 29 + 2 floors -> 12.43 + 17.57 (rounded 12, 17 after the floors' 1s).
        ([10, 20, 30, 40], [0.5, 0.9, 1.0, 1.0], 59, [10, 20, 12, 17]),
        ([10, 20, 30], [0.5, 0.9, 1.0], 59, [10, 20, 29]),
        # No error anywhere: proportional to size, floors first: 60·(10, 100, 100)/210
        # = 2.857, 28.571, 28.571 -> 2, 28, 28 and the two units to classes 0 and 1.
        ([10, 100, 100], [1.0, 1.0, 1.0], 60, [3, 29, 28]),
        # Fewer kept samples than classes: no floor can hold, the error decides.
        ([5, 5, 5], [1.0, 1.0, 0.5], 2, [0, 0, 2]),
        # An empty class gets nothing and needs no floor.
        ([0, 10, 10], [0.0, 0.5, 1.0], 6, [0, 5, 1]),
        ([10, 20], [0.3, 0.6], 0, [0, 0]),
        ([10, 20], [0.3, 0.6], 30, [10, 20]),
    ],
)
def test_quota_drop_hand_computed(sizes, recalls, n_keep, expected):
    got = quota_drop(np.array(sizes), np.array(recalls), n_keep)
    assert got.dtype == np.int64
    assert got.tolist() == expected
    assert got.sum() == n_keep


def test_quota_drop_zero_error_class_keeps_the_floor():
    # Class 1 was learned perfectly; the paper's density would be 0.
    got = quota_drop(np.array([100, 100, 100]), np.array([0.6, 1.0, 0.8]), 90)
    assert got[1] == 1
    # The rest follows the errors .4 : .2 on 89 -> 59.33, 29.67 -> 59, 30.
    assert got.tolist() == [59, 1, 30]
    assert quota_drop(np.array([100, 100, 100]), np.array([0.6, 1.0, 0.8]), 90, floor=0).tolist() == [60, 0, 30]
    assert quota_drop(np.array([100, 3, 100]), np.array([0.6, 1.0, 0.8]), 90, floor=5).tolist() == [58, 3, 29]


def test_quota_drop_sums_and_bounds_randomised():
    gen = np.random.default_rng(3)
    for _ in range(300):
        K = int(gen.integers(1, 12))
        sizes = gen.integers(0, 300, size=K)
        recalls = np.round(gen.uniform(0, 1, size=K), 3)
        recalls[gen.uniform(size=K) < 0.2] = 1.0
        n_keep = int(gen.integers(0, sizes.sum() + 1))
        got = quota_drop(sizes, recalls, n_keep)
        assert got.sum() == n_keep and ((got >= 0) & (got <= sizes)).all()
        if n_keep >= (sizes > 0).sum():
            assert (got[sizes > 0] >= 1).all()  # the floor
        # Higher error never means a lower density among unsaturated classes.
        free = (got < sizes) & (sizes > 0) & (got > 1)
        err = 1 - recalls
        dens = got / np.maximum(sizes, 1)
        for i in np.flatnonzero(free):
            for j in np.flatnonzero(free):
                if err[i] > err[j] + 1e-9:
                    assert dens[i] >= dens[j] - 1.0 / max(1, sizes[i]) - 1.0 / max(1, sizes[j])


@pytest.mark.parametrize("recalls", [[0.5, 1.5], [0.5, np.nan], [0.5]])
def test_quota_drop_rejects_bad_recalls(recalls):
    with pytest.raises(ValueError):
        quota_drop(np.array([10, 10]), np.array(recalls), 5)


# --------------------------------------------------------------------------
# water-filling core
# --------------------------------------------------------------------------

def test_water_fill_lower_bound_binds():
    # clip(λ·1, 5, 50) + clip(100 λ, 0, 50) = 30 -> λ = .25: 5 and 25.
    assert water_fill([1, 100], np.array([5, 0]), np.array([50, 50]), 30).tolist() == [5, 25]


def test_water_fill_exact_fractions_and_zero_weights():
    got = water_fill([Fraction(1, 3), Fraction(2, 3), 0], np.array([0, 0, 2]), np.array([9, 9, 9]), 11)
    assert got.tolist() == [3, 6, 2]
    with pytest.raises(ValueError):
        water_fill([1, 1], np.array([0, 0]), np.array([1, 1]), 3)


# --------------------------------------------------------------------------
# StrategyQ: class shares of another selection
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "sizes, like, n_keep, expected",
    [
        ([10, 20, 30], [5, 0, 5], 30, [10, 0, 20]),  # 15 : 15 capped at 10, surplus to class 2
        ([10, 20, 30], [1, 1, 1], 7, [3, 2, 2]),
        ([10, 20, 30], [2, 4, 6], 12, [2, 4, 6]),
        # The reference classes cannot hold 25: class 0 full, the rest by size 20 : 30.
        ([10, 20, 30], [1, 0, 0], 25, [10, 6, 9]),
    ],
)
def test_quota_like_hand_computed(sizes, like, n_keep, expected):
    got = quota_like(np.array(sizes), np.array(like), n_keep)
    assert got.tolist() == expected and got.sum() == n_keep


def test_quota_like_rejects_empty_reference():
    with pytest.raises(ValueError):
        quota_like(np.array([3, 3]), np.array([0, 0]), 2)


# --------------------------------------------------------------------------
# Normalize: per-class min-max, global top
# --------------------------------------------------------------------------

def test_quota_normalize_hand_computed():
    labels = np.array([0, 0, 1, 1, 1, 2, 2])
    scores = np.array([0.0, 10.0, 5.0, 6.0, 7.0, 3.0, 3.0])
    # normalised: 0, 1 | 0, .5, 1 | .5, .5 (constant class -> .5)
    # top 4: positions 1 and 4 (1.0), then .5 at positions 3, 5, 6 -> 3, 5.
    got = quota_normalize(scores, labels, 4, higher_is_harder=True, num_classes=3)
    assert got.tolist() == [1, 2, 1]
    # The easy end: 0 at positions 0 and 2, then .5 at 3 and 5.
    assert quota_normalize(scores, labels, 4, higher_is_harder=True, keep="easy", num_classes=3).tolist() == [1, 2, 1]
    # Lower is harder: the hard end is the low one, same as keep easy above.
    assert quota_normalize(scores, labels, 2, higher_is_harder=False, num_classes=4).tolist() == [1, 1, 0, 0]


def test_quota_normalize_is_scale_free_per_class():
    gen = np.random.default_rng(0)
    labels = np.repeat([0, 1], 50)
    base = gen.normal(size=100)
    scaled = base.copy()
    scaled[labels == 1] = scaled[labels == 1] * 1000 + 7  # class 1 on another scale
    a = quota_normalize(base, labels, 40, higher_is_harder=True)
    b = quota_normalize(scaled, labels, 40, higher_is_harder=True)
    assert a.tolist() == b.tolist() and a.sum() == 40
