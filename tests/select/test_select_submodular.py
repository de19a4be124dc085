"""GraphCut, facility location, log-determinant and Craig: gains against brute force on ≤ 12 points, greedy picks
against a naive greedy written from the definitions, the blocked kernel against the dense one, Craig's weights
counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.select.lastlayer import LastLayer
from pipeline.select.samplers import _submodular as S
from pipeline.select.samplers.craig import craig_weights, select_craig
from pipeline.select.samplers.submodular import _facility, _graphcut, _logdet
from pipeline.select.base import Pool


def grads(n, seed, C=3, d=4):
    g = np.random.default_rng(seed)
    return LastLayer.from_head(g.normal(size=(n, d)), g.normal(size=(C, d)), g.normal(size=C), g.integers(0, C, n))


def dense_cos(ll):
    G = ll.dense()
    nrm = np.linalg.norm(G, axis=1)
    return 0.5 + 0.5 * (G @ G.T) / np.outer(nrm, nrm)


def f_facility(M, A):
    return 0.0 if not A else float(np.max(M[:, A], axis=1).sum())


def f_graphcut(M, A, lam=1.0):
    return float(lam * M[:, A].sum() - M[np.ix_(A, A)].sum())


def f_logdet(M, A):
    return 0.0 if not A else float(np.linalg.slogdet(M[np.ix_(A, A)])[1])


def naive_greedy(f, n, k):
    picks = []
    for _ in range(k):
        # rounded, so that gains equal in exact arithmetic (log det of one sample: log 1) tie, to the lower j
        gains = [(round(f(picks + [j]) - f(picks), 9), -j) for j in range(n) if j not in picks]
        picks.append(-max(gains)[1])
    return picks


@pytest.mark.parametrize("seed", range(4))
def test_the_kernel_is_deepcores_cosine_and_blocks_equal_the_dense_matrix(seed, monkeypatch):
    ll = grads(11, seed)
    want = dense_cos(ll)
    np.testing.assert_allclose(S.Kernel(ll, "cos").columns(np.arange(11)), want, rtol=1e-5)
    monkeypatch.setattr(S, "DENSE_BYTES", 0)
    monkeypatch.setattr(S, "BLOCK", 3)
    k = S.Kernel(ll, "cos")
    assert k._dense is None
    np.testing.assert_allclose(k.columns(np.arange(11)), want, rtol=1e-9)
    np.testing.assert_allclose(k.column_sums(), want.sum(0), rtol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_greedy_picks_equal_the_naive_greedy_of_each_function(seed, monkeypatch):
    ll = grads(12, seed)
    M = dense_cos(ll)
    for k in (1, 4, 7):
        assert S.facility_location(S.Kernel(ll, "cos"), k).tolist() == naive_greedy(lambda A: f_facility(M, A), 12, k)
        assert S.graph_cut(S.Kernel(ll, "cos"), k, 1.0).tolist() == naive_greedy(lambda A: f_graphcut(M, A), 12, k)
        assert S.graph_cut(S.Kernel(ll, "cos"), k, 0.5).tolist() == naive_greedy(
            lambda A: f_graphcut(M, A, 0.5), 12, k)
        assert S.log_determinant(S.Kernel(ll, "cos"), k).tolist() == naive_greedy(lambda A: f_logdet(M, A), 12, k)
    monkeypatch.setattr(S, "DENSE_BYTES", 0)  # the blocked kernel: the same picks
    assert S.facility_location(S.Kernel(ll, "cos"), 5).tolist() == naive_greedy(lambda A: f_facility(M, A), 12, 5)


def test_gains_are_the_brute_force_differences():
    ll = grads(8, 9)
    M = dense_cos(ll)
    for A in ([], [2], [2, 5], [0, 3, 6]):
        for j in set(range(8)) - set(A):
            # DeepCore's GraphCut gain at λ = 1 is the increment of f plus S_jj (f's increment subtracts the
            # sample's similarity to itself once, the gain does not): S_jj = 1 for every j, so the orders agree
            gc = M[:, j].sum() - 2 * M[A, j].sum()
            assert gc == pytest.approx(f_graphcut(M, A + [j]) - f_graphcut(M, A) + M[j, j], rel=1e-9)
            assert f_facility(M, A + [j]) - f_facility(M, A) == pytest.approx(
                np.maximum(M[:, j] - (M[:, A].max(1) if A else 0), 0).sum(), rel=1e-9)


def test_craig_weights_are_one_plus_the_samples_each_kept_one_stands_for():
    # four points on a line: distances |x_i - x_j|; similarity = max distance - distance + 1e-3
    x = np.array([0.0, 1.0, 5.0, 6.0])

    class Line:
        n = 4

        def sq_norms(self):
            return x ** 2

        def gram(self, rows=None, cols=None):
            r = x if rows is None else x[rows]
            c = x if cols is None else x[cols]
            return np.outer(r, c)

    k = S.Kernel(Line(), "craig")
    np.testing.assert_allclose(k.columns([0])[:, 0], 6.0 - np.abs(x - 0.0) + 1e-3, rtol=1e-12)
    picks = S.facility_location(k, 2)
    assert sorted(picks.tolist()) == [1, 2]  # the centres of {0, 1} and {5, 6} (ties to the lower position)
    np.testing.assert_allclose(craig_weights(k, picks), [3.0, 3.0])  # each stands for 2 samples, + 1


@pytest.mark.parametrize("seed", range(3))
def test_craig_end_to_end_and_weights_sum(seed):
    ll = grads(12, seed)
    kept, w = select_craig(ll, 5)
    assert len(kept) == 5 and np.all(np.diff(kept) > 0)
    assert w.sum() == pytest.approx(12 + 5) and np.all(w >= 2)  # every sample counted once, each kept one + 1
    G = ll.dense()
    D = np.sqrt(np.maximum(((G[:, None] - G[None]) ** 2).sum(-1), 0))
    M = D.max() - D + 1e-3
    assert sorted(naive_greedy(lambda A: f_facility(M, A), 12, 5)) == kept.tolist()


def test_the_samplers_through_the_pool():
    ll = grads(10, 1)
    pool = Pool(n=10, grads=ll)
    for fn, extra in ((_facility, {}), (_graphcut, {"lam": 1.0}), (_logdet, {})):
        got = fn(pool, 4, None, **extra)
        assert len(got) == 4 and np.all(np.diff(got) > 0)
        assert fn(pool, 0, None, **extra).tolist() == [] and fn(pool, 10, None, **extra).tolist() == list(range(10))
