"""Selection samplers and class quotas: exact values on hand-computed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.select.quotas import quota_balanced, quota_proportional, select_with_quota
from pipeline.select.samplers import (
    _ccs_allocate,
    _ccs_bins,
    ccs_default_beta,
    hardness_order,
    n_keep_for,
    select_ccs,
    select_moderate,
    select_random,
    select_topk,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------
# n_keep_for: removed = floor(rate * n + 0.5), kept = n - removed
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "n, rate, kept",
    [
        (5, 0.5, 2),      # 2.5 removed -> 3 (banker's rounding would remove 2)
        (7, 0.5, 3),      # 3.5 -> 4
        (3, 0.5, 1),      # 1.5 -> 2
        (10, 0.25, 7),    # 2.5 -> 3
        (10, 0.3, 7),
        (10, 0.34, 7),    # 3.4 -> 3
        (10, 0.35, 6),    # 3.5 -> 4
        (50, 0.29, 35),   # 14.5 -> 15, although 0.29 * 50 == 14.499999999999998
        (0, 0.3, 0),
        (10, 0.0, 10),
        (10, 1.0, 0),
        (16000, 0.3, 11200),
    ],
)
def test_n_keep_for_round_half_up(n, rate, kept):
    assert n_keep_for(n, rate) == kept


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan")])
def test_n_keep_for_rejects_bad_rate(rate):
    with pytest.raises(ValueError):
        n_keep_for(10, rate)


# --------------------------------------------------------------------------
# hardness order and top-k
# --------------------------------------------------------------------------

TIES = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 0.0])


def test_hardness_order_ties_by_position():
    assert hardness_order(TIES, True).tolist() == [0, 2, 4, 3, 1, 5]
    assert hardness_order(TIES, False).tolist() == [5, 1, 3, 0, 2, 4]


def test_hardness_order_integer_extremes():
    s = np.array([np.iinfo(np.int64).min, 5, np.iinfo(np.int64).min, 5])
    assert hardness_order(s, True).tolist() == [1, 3, 0, 2]
    assert hardness_order(s, False).tolist() == [0, 2, 1, 3]


def test_hardness_order_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        hardness_order(np.array([1.0, np.nan]), True)


@pytest.mark.parametrize(
    "n_keep, higher, keep, expected",
    [
        (2, True, "hard", [0, 2]),        # three 3.0 tie: lowest positions win
        (3, True, "hard", [0, 2, 4]),
        (4, True, "hard", [0, 2, 3, 4]),
        (2, True, "easy", [1, 5]),
        (3, True, "easy", [1, 3, 5]),
        (4, True, "easy", [0, 1, 3, 5]),  # one of the three 3.0: position 0
        (2, False, "hard", [1, 5]),       # low is hard: same as keeping easy above
        (4, False, "easy", [0, 2, 3, 4]),
        (0, True, "hard", []),
        (6, True, "easy", [0, 1, 2, 3, 4, 5]),
    ],
)
def test_select_topk_exact(n_keep, higher, keep, expected):
    got = select_topk(TIES, n_keep, higher_is_harder=higher, keep=keep)
    assert got.dtype == np.int64
    assert got.tolist() == expected


def test_select_topk_matches_hardness_order():
    gen = rng(3)
    for _ in range(50):
        s = gen.integers(0, 4, size=40).astype(float)
        for higher in (True, False):
            order = hardness_order(s, higher)
            for k in (0, 1, 7, 20, 39, 40):
                hard = select_topk(s, k, higher_is_harder=higher, keep="hard")
                easy = select_topk(s, k, higher_is_harder=higher, keep="easy")
                assert hard.tolist() == sorted(order[:k].tolist())
                # Easiest with ties to the lower position: stable ascending
                # order of the "easiness" (the reversed hard end).
                easy_order = hardness_order(s, not higher)
                assert easy.tolist() == sorted(easy_order[:k].tolist())


def test_select_topk_rejects_bad_input():
    with pytest.raises(ValueError):
        select_topk(TIES, 7, higher_is_harder=True)
    with pytest.raises(ValueError):
        select_topk(TIES, 2, higher_is_harder=True, keep="middle")
    with pytest.raises(ValueError):
        select_topk(np.array([1.0, np.nan]), 1, higher_is_harder=True)


# --------------------------------------------------------------------------
# random
# --------------------------------------------------------------------------

@pytest.mark.parametrize("n, n_keep", [(100, 30), (100, 70), (100, 0), (100, 100), (1, 1)])
def test_select_random_contract(n, n_keep):
    got = select_random(n, n_keep, rng(1))
    assert got.dtype == np.int64
    assert got.shape == (n_keep,)
    assert np.unique(got).shape == (n_keep,)
    assert (np.diff(got) > 0).all()
    assert n_keep == 0 or (got[0] >= 0 and got[-1] < n)


def test_select_random_seeded():
    a = select_random(1000, 300, rng(7))
    b = select_random(1000, 300, rng(7))
    c = select_random(1000, 300, rng(8))
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()


def test_select_random_is_roughly_uniform():
    hits = np.zeros(20)
    gen = rng(11)
    for _ in range(2000):
        hits[select_random(20, 15, gen)] += 1  # complement branch (keep > n/2)
    # Each position is kept with probability 3/4: 1500 expected, sd ~19.4.
    assert np.abs(hits - 1500).max() < 100


# --------------------------------------------------------------------------
# CCS default beta
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "rate, beta",
    [(0.0, 0.0), (0.3, 0.0), (0.5, 0.0), (0.7, 0.1), (0.8, 0.1), (0.9, 0.3), (0.95, 0.3), (1.0, 0.3)],
)
def test_ccs_default_beta_knots(rate, beta):
    assert ccs_default_beta(rate) == beta


def test_ccs_default_beta_between_knots():
    assert ccs_default_beta(0.6) == pytest.approx(0.05)
    assert ccs_default_beta(0.85) == pytest.approx(0.2)
    rates = np.linspace(0, 1, 101)
    betas = [ccs_default_beta(r) for r in rates]
    assert all(b <= r for b, r in zip(betas, rates))
    assert all(b2 >= b1 for b1, b2 in zip(betas, betas[1:]))


# --------------------------------------------------------------------------
# CCS allocation
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "counts, budget, expected",
    [
        # visit order by count: bin1 (1), bin3 (3), bin2 (6), bin0 (10)
        # bin1 min(1, 9//4=2)=1 -> 8 left; bin3 min(3, 8//3=2)=2 -> 6;
        # bin2 min(6, 6//2=3)=3 -> 3; bin0 min(10, 3//1)=3.
        ([10, 1, 6, 3], 9, [3, 1, 3, 2]),
        # equal counts: visited by bin index, the lowest takes the floor.
        # 7//4=1 -> 6; 6//3=2 -> 4; 4//2=2 -> 2; 2.
        ([5, 5, 5, 5], 7, [1, 2, 2, 2]),
        # empty bins take nothing and do not dilute the others.
        ([0, 4, 0, 9], 10, [0, 4, 0, 6]),
        ([2, 2, 2], 6, [2, 2, 2]),
        ([3, 0, 1], 0, [0, 0, 0]),
    ],
)
def test_ccs_allocate_exact(counts, budget, expected):
    assert _ccs_allocate(np.array(counts), budget).tolist() == expected


def _authors_allocate(counts, budget):
    # The greedy as written in the authors' loop, on plain Python ints.
    order = sorted(range(len(counts)), key=lambda b: (counts[b], b))
    alloc = [0] * len(counts)
    left = budget
    for i, b in enumerate(order):
        alloc[b] = min(counts[b], left // (len(counts) - i))
        left -= alloc[b]
    return alloc, left


def test_ccs_allocate_always_fills_the_budget():
    # Exhaustive over small count vectors: the smallest-first greedy never
    # leaves a remainder when the bins hold enough samples (see the proof in
    # _ccs_allocate), so no extra fill pass exists to test.
    for n_bins in (1, 2, 3, 4):
        for counts in itertools.product(range(6), repeat=n_bins):
            for budget in range(sum(counts) + 1):
                expected, left = _authors_allocate(list(counts), budget)
                assert left == 0, (counts, budget)
                got = _ccs_allocate(np.array(counts), budget)
                assert got.tolist() == expected
                assert (got <= np.array(counts)).all()
    gen = rng(5)
    for _ in range(300):
        counts = gen.integers(0, gen.integers(1, 5000), size=gen.integers(1, 60))
        budget = int(gen.integers(0, counts.sum() + 1))
        got = _ccs_allocate(counts, budget)
        assert got.sum() == budget and (got <= counts).all()


# --------------------------------------------------------------------------
# CCS selection
# --------------------------------------------------------------------------

# 20 scores in [0, 8]: with 4 strata the top edge is 8 + 1e-4 * 8 = 8.0008 and
# the bin width 2.0002, so the bins are [0, 2.0002), [2.0002, 4.0004),
# [4.0004, 6.0006), [6.0006, 8.0008). 2.0 and 6.0 sit just below an edge.
_BINNED = {
    0: [0.0, 0.5, 1.0, 1.5, 2.0, 0.2, 0.4, 0.6, 0.8, 1.2],  # 10
    1: [3.0],                                               # 1
    2: [4.5, 5.0, 5.5, 6.0, 4.8, 5.2],                      # 6
    3: [7.0, 7.5, 8.0],                                     # 3
}


def _hand_case():
    scores = np.concatenate([_BINNED[b] for b in range(4)])
    true_bin = np.concatenate([[b] * len(_BINNED[b]) for b in range(4)])
    perm = rng(99).permutation(scores.shape[0])  # interleave the bins
    return scores[perm], true_bin[perm]


@pytest.mark.parametrize("seed", range(5))
def test_ccs_hand_computed_bins(seed):
    scores, true_bin = _hand_case()
    got = select_ccs(scores, 9, higher_is_harder=True, beta=0.0, strata=4, rng=rng(seed))
    assert got.shape == (9,) and (np.diff(got) > 0).all()
    # Allocation worked out in test_ccs_allocate_exact: [3, 1, 3, 2].
    assert np.bincount(true_bin[got], minlength=4).tolist() == [3, 1, 3, 2]


def test_ccs_equal_bins_tie_by_bin_index():
    scores = np.array(
        [0, 0.5, 1, 1.5, 1.9, 2.5, 3, 3.5, 3.9, 2.1, 4.5, 5, 5.5, 5.9, 4.1, 6.5, 7, 7.5, 8, 6.1]
    )
    got = select_ccs(scores, 7, higher_is_harder=False, beta=0.0, strata=4, rng=rng(0))
    assert np.bincount(np.arange(20)[got] // 5, minlength=4).tolist() == [1, 2, 2, 2]


def test_ccs_seeded():
    scores, _ = _hand_case()
    a = select_ccs(scores, 9, higher_is_harder=True, beta=0.0, strata=4, rng=rng(1))
    b = select_ccs(scores, 9, higher_is_harder=True, beta=0.0, strata=4, rng=rng(1))
    assert a.tolist() == b.tolist()
    draws = {
        tuple(select_ccs(scores, 9, higher_is_harder=True, beta=0.0, strata=4, rng=rng(s)))
        for s in range(10)
    }
    assert len(draws) > 1


def test_ccs_beta_cutoff_removes_exactly_the_hardest():
    scores = np.arange(20, dtype=float)
    # beta 0.1 of 20 -> drop 2: the two highest scores, positions 18 and 19.
    got = select_ccs(scores, 18, higher_is_harder=True, beta=0.1, rng=rng(0))
    assert got.tolist() == list(range(18))
    # Low is hard: the two lowest go.
    got = select_ccs(scores, 18, higher_is_harder=False, beta=0.1, rng=rng(0))
    assert got.tolist() == list(range(2, 20))
    # Round half up: 0.125 * 20 = 2.5 -> 3 dropped.
    got = select_ccs(scores, 17, higher_is_harder=True, beta=0.125, rng=rng(0))
    assert got.tolist() == list(range(17))


def test_ccs_beta_cutoff_ties_drop_lower_position_first():
    scores = np.array([3.0, 9.0, 9.0, 9.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0])
    got = select_ccs(scores, 8, higher_is_harder=True, beta=0.2, rng=rng(0))
    assert got.tolist() == [0, 3, 4, 5, 6, 7, 8, 9]


def test_ccs_bins_span_the_scores_left_after_the_cutoff():
    # An outlier would put every other sample in bin 0; once the cutoff drops
    # it, 0..18 span two bins of width 9.0009: 0..9 (10) and 10..18 (9).
    scores = np.concatenate([np.arange(19, dtype=float), [1000.0]])[rng(4).permutation(20)]
    for seed in range(5):
        got = select_ccs(scores, 4, higher_is_harder=True, beta=0.05, strata=2, rng=rng(seed))
        assert (scores[got] < 1000).all()
        assert np.bincount((scores[got] >= 10).astype(int), minlength=2).tolist() == [2, 2]


def test_ccs_negative_scores_translation_invariant():
    scores, true_bin = _hand_case()
    for shift in (-10.0, -100.0):
        shifted = scores + shift  # max is negative: the authors' edge would lose it
        for seed in range(3):
            base = select_ccs(scores, 9, higher_is_harder=True, beta=0.0, strata=4, rng=rng(seed))
            neg = select_ccs(shifted, 9, higher_is_harder=True, beta=0.0, strata=4, rng=rng(seed))
            assert neg.tolist() == base.tolist()
            assert np.bincount(true_bin[neg], minlength=4).tolist() == [3, 1, 3, 2]
    everything = select_ccs(scores - 10, 20, higher_is_harder=True, beta=0.0, strata=4, rng=rng(0))
    assert everything.tolist() == list(range(20))


def _bins_by_binary_search(values: np.ndarray, strata: int) -> np.ndarray:
    # The definition: the authors' edges and half-open test, clipped at the ends.
    lo, hi_value = values.min(), values.max()
    if hi_value == lo:
        return np.zeros(values.shape[0], dtype=np.intp)
    step = (hi_value + 1e-4 * (hi_value - lo) - lo) / strata
    edges = lo + np.arange(strata + 1, dtype=np.float64) * step
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, strata - 1)


@pytest.mark.parametrize("strata", [1, 2, 7, 50, 300])
def test_ccs_bins_are_exactly_the_binary_search(strata):
    # _ccs_bins guesses each bin arithmetically and repairs the guesses that
    # rounding puts one bin off; the result must be the binary search's.
    gen = rng(3)
    lo, step = 0.1, (0.7 * (1 + 1e-4) - 0.1) / strata
    edges = lo + np.arange(strata + 1) * step
    on_edges = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)])
    cases = [
        gen.normal(size=5000),
        gen.integers(0, 20, 5000).astype(float),
        np.clip(on_edges, 0.1, 0.7),  # values on and next to every edge
        1e15 + gen.integers(0, 5, 1000) * 0.125,  # a tiny range next to the magnitude
        1.0 + np.arange(1000) * np.finfo(float).eps,
        gen.exponential(size=5000) ** 3,
        -gen.exponential(size=5000),
        gen.normal(size=1000) * 1e-300,
        np.array([0.0, 5e-324, 1e-323]),  # the step underflows
        np.array([-1.7e308, 1.7e308, 3.0]),  # the range overflows
    ]
    for values in cases:
        with np.errstate(over="ignore", invalid="ignore"):
            expected = _bins_by_binary_search(values, strata)
            got = _ccs_bins(values, strata)
        assert got.tolist() == expected.tolist()


@pytest.mark.parametrize("value", [3.0, 0.0, -2.5])
def test_ccs_constant_scores_is_one_random_bin(value):
    scores = np.full(20, value)
    got = select_ccs(scores, 7, higher_is_harder=True, beta=0.0, rng=rng(4))
    assert got.tolist() == select_random(20, 7, rng(4)).tolist()


def test_ccs_beta_too_large():
    scores = np.arange(10, dtype=float)
    # keep 8 of 10 (rate 0.2) but beta 0.3 drops 3.
    with pytest.raises(ValueError, match=r"beta must be at most 0\.2"):
        select_ccs(scores, 8, higher_is_harder=True, beta=0.3, rng=rng(0))
    # The largest beta it names does fit.
    assert select_ccs(scores, 8, higher_is_harder=True, beta=0.2, rng=rng(0)).shape == (8,)


def test_ccs_rejects_bad_input():
    with pytest.raises(ValueError):
        select_ccs(np.array([1.0, np.inf]), 1, higher_is_harder=True, beta=0.0, rng=rng(0))
    with pytest.raises(ValueError):
        select_ccs(np.arange(5.0), 2, higher_is_harder=True, beta=0.0, strata=0, rng=rng(0))
    with pytest.raises(ValueError):
        select_ccs(np.arange(5.0), 2, higher_is_harder=True, beta=1.5, rng=rng(0))


# --------------------------------------------------------------------------
# Quotas
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "counts, n_keep, expected",
    [
        # shares 5.625, 28.125, 56.25: floors 89, the one left to class 0
        ([10, 50, 100], 90, [6, 28, 56]),
        # shares 2/3 each: remainders tie, lowest class indices win
        ([1, 1, 1], 2, [1, 1, 0]),
        # shares 1.5, 1.5, 0, 2: one unit left, tie between 0 and 1 -> 0
        ([3, 3, 0, 4], 5, [2, 1, 0, 2]),
        ([10, 50, 100], 160, [10, 50, 100]),
        ([10, 50, 100], 0, [0, 0, 0]),
        ([0, 0], 0, [0, 0]),
    ],
)
def test_quota_proportional_exact(counts, n_keep, expected):
    got = quota_proportional(np.array(counts), n_keep)
    assert got.dtype == np.int64
    assert got.tolist() == expected
    assert got.sum() == n_keep


@pytest.mark.parametrize(
    "counts, n_keep, expected",
    [
        # level 40: class 0 (10) is smaller than the level and kept whole
        ([10, 50, 100], 90, [10, 40, 40]),
        ([10, 50, 100], 91, [10, 41, 40]),
        ([10, 50, 100], 92, [10, 41, 41]),
        ([10, 50, 100], 130, [10, 50, 70]),
        # level 5 (fills 18), two left for the lowest classes with room
        ([3, 8, 8, 8], 20, [3, 6, 6, 5]),
        ([0, 5, 2], 6, [0, 4, 2]),
        ([10, 50, 100], 160, [10, 50, 100]),
        ([10, 50, 100], 0, [0, 0, 0]),
        ([4, 4, 4], 5, [2, 2, 1]),
    ],
)
def test_quota_balanced_exact(counts, n_keep, expected):
    got = quota_balanced(np.array(counts), n_keep)
    assert got.dtype == np.int64
    assert got.tolist() == expected
    assert got.sum() == n_keep


@pytest.mark.parametrize("quota", [quota_proportional, quota_balanced])
def test_quota_sums_and_bounds(quota):
    gen = rng(2)
    for _ in range(200):
        counts = gen.integers(0, 200, size=gen.integers(1, 12))
        n_keep = int(gen.integers(0, counts.sum() + 1))
        got = quota(counts, n_keep)
        assert got.sum() == n_keep
        assert ((got >= 0) & (got <= counts)).all()
    with pytest.raises(ValueError):
        quota(np.array([3, 4]), 8)


def test_select_with_quota_topk_inside_classes():
    labels = np.array([0, 1, 2] * 4)
    scores = np.arange(12, dtype=float)
    budget = np.array([2, 1, 0])

    def topk(pos, b):
        return pos[select_topk(scores[pos], b, higher_is_harder=True)]

    got = select_with_quota(budget, labels, topk)
    # class 0 holds positions 0, 3, 6, 9 -> 6, 9; class 1: 1, 4, 7, 10 -> 10
    assert got.tolist() == [6, 9, 10]
    assert np.bincount(labels[got], minlength=3).tolist() == [2, 1, 0]


def test_select_with_quota_larger_case_counts():
    gen = rng(6)
    labels = gen.integers(0, 5, size=1000)
    scores = gen.normal(size=1000)
    counts = np.bincount(labels, minlength=5)
    for quota in (quota_proportional, quota_balanced):
        budget = quota(counts, 300)
        got = select_with_quota(
            budget, labels, lambda pos, b: pos[select_topk(scores[pos], b, higher_is_harder=False)]
        )
        assert np.bincount(labels[got], minlength=5).tolist() == budget.tolist()
        for k in range(5):  # the kept ones are the class's lowest scores
            in_class = scores[labels == k]
            assert np.sort(scores[got][labels[got] == k]).tolist() == np.sort(in_class)[: budget[k]].tolist()


def test_select_with_quota_checks():
    labels = np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="class 1"):
        select_with_quota(np.array([1, 3]), labels, lambda pos, b: pos[:b])
    with pytest.raises(ValueError, match="outside class"):
        select_with_quota(np.array([1, 1]), labels, lambda pos, b: np.array([3])[:b] if pos[0] == 0 else pos[:b])
    with pytest.raises(ValueError, match="expected"):
        select_with_quota(np.array([2, 1]), labels, lambda pos, b: pos[:1])
    with pytest.raises(ValueError, match="labels"):
        select_with_quota(np.array([1, 1]), np.array([0, 2]), lambda pos, b: pos[:b])
    # Unsorted sampler output is accepted and sorted.
    assert select_with_quota(np.array([2, 2]), labels, lambda pos, b: pos[::-1]).tolist() == [0, 1, 2, 3]


# --------------------------------------------------------------------------
# Contract of every sampler: exact length, unique, sorted, in range, seeded
# --------------------------------------------------------------------------

def _samplers():
    def topk_hard(s, y, k, g):
        return select_topk(s, k, higher_is_harder=True)

    def topk_easy(s, y, k, g):
        return select_topk(s, k, higher_is_harder=True, keep="easy")

    def random_(s, y, k, g):
        return select_random(s.shape[0], k, g)

    def ccs(s, y, k, g):
        rate = 1 - k / s.shape[0] if s.shape[0] else 0.0
        return select_ccs(s, k, higher_is_harder=True, beta=ccs_default_beta(rate), rng=g)

    def ccs_low_hard_4(s, y, k, g):
        beta = min(0.1, (s.shape[0] - k) / s.shape[0]) if s.shape[0] else 0.0
        return select_ccs(s, k, higher_is_harder=False, beta=beta, strata=4, rng=g)

    def proportional_topk(s, y, k, g):
        budget = quota_proportional(np.bincount(y, minlength=3), k)
        return select_with_quota(budget, y, lambda p, b: p[select_topk(s[p], b, higher_is_harder=True)])

    def balanced_random(s, y, k, g):
        budget = quota_balanced(np.bincount(y, minlength=3), k)
        return select_with_quota(budget, y, lambda p, b: p[select_random(p.shape[0], b, g)])

    def balanced_ccs(s, y, k, g):
        budget = quota_balanced(np.bincount(y, minlength=3), k)
        return select_with_quota(
            budget, y, lambda p, b: p[select_ccs(s[p], b, higher_is_harder=True, beta=0.0, rng=g)]
        )

    def moderate(s, y, k, g):
        return select_moderate(s, k, higher_is_harder=True)

    def proportional_moderate_low(s, y, k, g):
        budget = quota_proportional(np.bincount(y, minlength=3), k)
        return select_with_quota(budget, y, lambda p, b: p[select_moderate(s[p], b, higher_is_harder=False)])

    return [topk_hard, topk_easy, random_, ccs, ccs_low_hard_4, proportional_topk, balanced_random, balanced_ccs,
            moderate, proportional_moderate_low]


@pytest.mark.parametrize("sampler", _samplers(), ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [1, 7, 100, 1000])
@pytest.mark.parametrize("rate", [0.01, 0.3, 0.5, 0.9, 0.99])
def test_sampler_contract(sampler, n, rate):
    data = rng(n)
    scores = data.integers(0, 6, size=n).astype(float)  # many ties
    labels = data.integers(0, 3, size=n)
    k = n_keep_for(n, rate)
    got = sampler(scores, labels, k, rng(42))
    assert got.dtype == np.int64
    assert got.shape == (k,)
    assert (np.diff(got) > 0).all()
    assert k == 0 or (got[0] >= 0 and got[-1] < n)
    again = sampler(scores, labels, k, rng(42))
    assert again.tolist() == got.tolist()


# --------------------------------------------------------------------------
# Moderate: the band of the ranking around the median (Xia et al.)
# --------------------------------------------------------------------------

MODERATE = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 0.0])  # hardness order (high hard): 0 2 4 3 1 5


@pytest.mark.parametrize(
    "n_keep, higher, expected",
    [
        (3, True, [1, 3, 4]),   # drop 3: two from the hard end (0, 2), one from the easy end (5)
        (2, True, [3, 4]),      # drop 4: 0, 2 and 1, 5
        (4, True, [1, 2, 3, 4]),
        (3, False, [2, 3, 4]),  # low is hard: order 5 1 3 4 2 0; drop 5, 1 and 0
        (6, True, [0, 1, 2, 3, 4, 5]),
        (0, True, []),
        (1, True, [3]),         # drop 5: ceil(5/2) = 3 hard ones (0, 2, 4), two easy ones (1, 5)
    ],
)
def test_select_moderate_exact(n_keep, higher, expected):
    got = select_moderate(MODERATE, n_keep, higher_is_harder=higher)
    assert got.dtype == np.int64
    assert got.tolist() == expected


def test_select_moderate_ties_follow_one_order():
    # All equal: the order is by position; keep 2 of 5 -> ranks 2 and 3.
    assert select_moderate(np.zeros(5), 2, higher_is_harder=True).tolist() == [2, 3]
    # A tie straddling both cuts is never counted at both ends.
    s = np.array([1.0, 1.0, 1.0, 1.0, 9.0, 0.0])
    assert select_moderate(s, 3, higher_is_harder=True).tolist() == [1, 2, 3]


def test_select_moderate_is_the_middle_of_the_ranking():
    gen = rng(8)
    for _ in range(50):
        s = gen.integers(0, 5, size=31).astype(float)
        for k in (0, 1, 10, 30, 31):
            order = hardness_order(s, True)
            d = 31 - k
            assert select_moderate(s, k, higher_is_harder=True).tolist() == sorted(order[(d + 1) // 2:(d + 1) // 2 + k].tolist())
