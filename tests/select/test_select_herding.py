"""Herding and Contextual Diversity: greedy picks in order against naive re-implementations on tiny pools."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.select.samplers.contextual import select_contextual
from pipeline.select.samplers.herding import select_herding


def naive_herding(x, k, farthest=False):
    x = np.asarray(x, dtype=float)
    mu, picks = x.mean(0), []
    for i in range(k):
        best, arg = None, None
        for j in range(len(x)):
            if j in picks:
                continue
            if farthest:  # DeepCore: the distance of x_j to (i+1)·mu - sum of the kept
                v = np.linalg.norm((i + 1) * mu - x[picks].sum(0) - x[j])
            else:  # Welling: how far the kept mean with x_j lands from mu
                v = -np.linalg.norm(mu - (x[picks].sum(0) + x[j]) / (i + 1))
            if best is None or v > best + 1e-12:
                best, arg = v, j
        picks.append(arg)
    return picks


LINE = np.array([[0.0], [1.0], [2.0], [10.0], [4.0]])  # mean 3.4


def test_herding_by_hand():
    # Welling: 4.0 is nearest the mean 3.4; with 4.0 kept, r = 2·3.4 − 4 = 2.8 is nearest 2.0; then
    # r = 3·3.4 − 6 = 4.2: 1.0 is 3.2 away, 0.0 4.2 and 10.0 5.8, so 1.0
    assert naive_herding(LINE, 3) == [4, 2, 1]
    assert select_herding(LINE, 3).tolist() == [1, 2, 4]
    # DeepCore's rule: the farthest from 3.4 first (10.0), then from 6.8 - 10 = -3.2: 10 is kept, 4.0 (7.2)
    assert naive_herding(LINE, 2, farthest=True) == [3, 4]
    assert select_herding(LINE, 2, rule="deepcore").tolist() == [3, 4]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("rule", ["welling", "deepcore"])
def test_herding_equals_the_naive_greedy(seed, rule):
    x = np.random.default_rng(seed).normal(size=(9, 3))
    for k in range(10):
        want = sorted(naive_herding(x, k, farthest=rule == "deepcore"))
        assert select_herding(x, k, rule=rule).tolist() == want


def naive_contextual(p, k, first):
    def d(a, b):
        return sum(0.5 * a[c] * np.log(a[c] / b[c]) + 0.5 * b[c] * np.log(b[c] / a[c]) for c in range(len(a)))

    picks = [first]
    while len(picks) < k:
        far = [min(d(p[c], p[j]) for c in picks) if j not in picks else -1.0 for j in range(len(p))]
        picks.append(int(np.argmax(far)))
    return picks


@pytest.mark.parametrize("seed", range(5))
def test_contextual_diversity_equals_the_naive_k_center(seed):
    g = np.random.default_rng(seed)
    z = g.normal(size=(8, 3)) * 2
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    for k in range(1, 9):
        first = int(np.random.default_rng(seed).integers(0, 8))
        got = select_contextual(p, k, np.random.default_rng(seed))
        assert got.tolist() == sorted(naive_contextual(p, k, first))
    assert select_contextual(p, 0, g).tolist() == []


def test_contextual_survives_probabilities_that_underflow():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    assert len(select_contextual(p, 2, np.random.default_rng(0))) == 2
