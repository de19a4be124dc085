"""GradMatch (regularised OMP, DeepCore's orthogonal_matching_pursuit_np) against a dense reimplementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from pipeline.io import PruneError
from pipeline.select.base import Pool
from pipeline.select.core import choose
from pipeline.select.lastlayer import LastLayer
from pipeline.select.samplers.gradmatch import (DEEPCORE_BATCH, SAMPLER, gradmatch_omp, mean_gradient,
                                                select_gradmatch)


def _problem(seed: int, n: int = 12, c: int = 3, d: int = 4, inits: int = 2):
    gen = np.random.default_rng(seed)
    h = gen.normal(size=(inits, n, d))
    w = gen.normal(size=(inits, c, d))
    b = gen.normal(size=(inits, c))
    y = gen.integers(0, c, size=n)
    return h, w, b, y


def _dense(h, w, b, y) -> np.ndarray:
    """Per-sample cross-entropy gradients of (b, W) per init, concatenated: written out, not via LastLayer."""
    rows = []
    for hi, wi, bi in zip(h, w, b):
        z = hi @ wi.T + bi
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        err = p - np.eye(wi.shape[0])[y]
        rows.append(np.hstack([err, np.einsum("nc,nd->ncd", err, hi).reshape(len(y), -1)]))
    return np.hstack(rows)


def _naive_omp(A: np.ndarray, target: np.ndarray, k: int, reg: float):
    """DeepCore's OMP on dense rows A (n × D): the ridge step by lstsq of the stacked system [A_S^T; √reg·I]."""
    picks, resid = [], target.copy()
    for m in range(k):
        corr = A @ resid
        corr[picks] = -np.inf
        j = int(np.argmax(corr))
        picks.append(j)
        S = A[picks]
        if m == 0:
            x = np.array([corr[j] / (S[0] @ S[0])])
        else:
            stacked = np.vstack([S.T, np.sqrt(reg) * np.eye(m + 1)])
            x = np.linalg.lstsq(stacked, np.concatenate([target, np.zeros(m + 1)]), rcond=None)[0]
        resid = target - S.T @ x
    S = A[picks]
    weights = nnls(S @ S.T + reg * np.eye(k), S @ target)[0] if k > 1 else np.ones(1)
    return np.array(picks), x, weights


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("reg", [0.05, 1.0, 20.0])
def test_omp_matches_the_dense_reimplementation(seed, reg):
    h, w, b, y = _problem(seed)
    grads = LastLayer.from_head(h, w, b, y)
    A = _dense(h, w, b, y)
    target = A.mean(axis=0)
    for k in (1, 2, 5, 9, 12):
        order, ridge, weights = gradmatch_omp(grads, mean_gradient(grads), k, reg)
        want_order, want_ridge, want_weights = _naive_omp(A, target, k, reg)
        np.testing.assert_array_equal(order, want_order)
        np.testing.assert_allclose(ridge, want_ridge, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(weights, want_weights, rtol=1e-6, atol=1e-9)
        assert np.all(weights >= 0)


def test_the_ridge_step_is_the_least_squares_solution():
    h, w, b, y = _problem(3)
    grads = LastLayer.from_head(h, w, b, y)
    A = _dense(h, w, b, y)
    target = A.mean(axis=0)
    reg = 0.3
    order, ridge, _ = gradmatch_omp(grads, mean_gradient(grads), 7, reg)
    S = A[order]
    # the regularised normal equations as DeepCore states them, and the stacked least squares they come from
    normal = np.linalg.lstsq(S @ S.T + reg * np.eye(7), S @ target, rcond=None)[0]
    stacked = np.linalg.lstsq(np.vstack([S.T, np.sqrt(reg) * np.eye(7)]), np.concatenate([target, np.zeros(7)]),
                              rcond=None)[0]
    np.testing.assert_allclose(ridge, normal, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ridge, stacked, rtol=1e-8, atol=1e-12)


def _expected_selection(grads, A, target, k, reg, seed):
    """The sampler's rule on top of the dense OMP: positive weights kept, the rest drawn with weight 1/n."""
    order, _, weights = _naive_omp(A, target, k, reg)
    kept, wk = order[weights > 0], weights[weights > 0]
    short = k - len(kept)
    rng = np.random.default_rng(seed)
    drawn = np.sort(rng.choice(np.setdiff1d(np.arange(len(A)), kept), size=short, replace=False))
    kept = np.concatenate([kept, drawn])
    wk = np.concatenate([wk, np.full(short, 1.0 / len(A))])
    sort = np.argsort(kept)
    return kept[sort], wk[sort]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("reg, n_keep", [(0.5, 7), (20.0, 11)])
def test_choose_keeps_the_positive_weights_and_fills_the_rest(seed, reg, n_keep):
    h, w, b, y = _problem(seed, n=12)
    grads = LastLayer.from_head(h, w, b, y)
    A = _dense(h, w, b, y)
    kept, params, _, weights = choose(targets=y, grads=grads, val_grads=grads, val_targets=y, n_keep=n_keep,
                                      method="gradmatch", seed=seed, options={"lam": reg / DEEPCORE_BATCH ** 2})
    assert params == {"lam": reg / DEEPCORE_BATCH ** 2, "val": False}
    # the sampler's generator: core hands it default_rng(seed) and GradMatch draws from it only for the fill
    want_kept, want_w = _expected_selection(grads, A, A.mean(axis=0), n_keep, reg, seed)
    np.testing.assert_array_equal(kept, want_kept)
    np.testing.assert_allclose(weights, want_w, rtol=1e-6, atol=1e-9)
    again = choose(targets=y, grads=grads, val_grads=grads, val_targets=y, n_keep=n_keep, method="gradmatch", seed=seed,
                   options={"lam": reg / DEEPCORE_BATCH ** 2})
    np.testing.assert_array_equal(again.kept, kept)
    np.testing.assert_array_equal(again.weights, weights)


@pytest.mark.parametrize("seed", [0, 2])
def test_picks_without_weight_are_replaced_by_a_draw(seed):
    # a class kept whole (n_keep = n, as a quota may ask): here one pick gets weight 0 and is drawn again
    h, w, b, y = _problem(seed)
    grads = LastLayer.from_head(h, w, b, y)
    A = _dense(h, w, b, y)
    assert np.sum(_naive_omp(A, A.mean(axis=0), 12, 20.0)[2] == 0) == 1
    pool = Pool(n=12, targets=y, grads=grads, val_grads=grads)
    pos, wt = SAMPLER.fn(pool, 12, np.random.default_rng(seed), lam=20.0 / DEEPCORE_BATCH ** 2, val=False)
    want_kept, want_w = _expected_selection(grads, A, A.mean(axis=0), 12, 20.0, seed)
    sort = np.argsort(pos)
    np.testing.assert_array_equal(pos[sort], want_kept)
    np.testing.assert_allclose(wt[sort], want_w, rtol=1e-6, atol=1e-9)
    assert np.sum(wt == 1 / 12) == 1


def test_the_validation_target():
    h, w, b, y = _problem(5)
    gen = np.random.default_rng(9)
    hv, yv = gen.normal(size=(2, 8, 4)), gen.integers(0, 3, size=8)
    grads, val = LastLayer.from_head(h, w, b, y), LastLayer.from_head(hv, w, b, yv)
    A = _dense(h, w, b, y)
    target = _dense(hv, w, b, yv).mean(axis=0)
    order, _, weights = gradmatch_omp(grads, mean_gradient(val), 6, 2.0)
    want_order, _, want_weights = _naive_omp(A, target, 6, 2.0)
    np.testing.assert_array_equal(order, want_order)
    np.testing.assert_allclose(weights, want_weights, rtol=1e-6, atol=1e-9)
    kept, params, _, _ = choose(targets=y, grads=grads, val_grads=val, val_targets=yv, n_keep=6, method="gradmatch",
                                options={"lam": 2.0 / DEEPCORE_BATCH ** 2, "val": True})
    assert params["val"] is True
    assert set(kept) >= set(want_order[want_weights > 0])


def test_default_lam_is_deepcores_at_its_gradient_scale():
    h, w, b, y = _problem(1)
    grads = LastLayer.from_head(h, w, b, y)
    A = _dense(h, w, b, y)
    kept, params, _, weights = choose(targets=y, grads=grads, val_grads=grads, val_targets=y, n_keep=5,
                                      method="gradmatch")
    assert params == {"lam": 1.0, "val": False}
    # DeepCore: gradients / 256 and lam 1 give the same fit as per-sample gradients and lam 256²
    order, _, dc = _naive_omp(A / DEEPCORE_BATCH, A.mean(axis=0) / DEEPCORE_BATCH, 5, 1.0)
    _, _, ours = gradmatch_omp(grads, mean_gradient(grads), 5, DEEPCORE_BATCH ** 2)
    np.testing.assert_allclose(ours, dc, rtol=1e-6, atol=1e-12)
    assert set(order[dc > 0]) <= set(kept) and len(kept) == 5


@pytest.mark.parametrize("n_keep", [0, 1, 5, 12])
def test_exact_counts_and_weights(n_keep):
    h, w, b, y = _problem(2)
    grads = LastLayer.from_head(h, w, b, y)
    pos, wt = select_gradmatch(grads, mean_gradient(grads), n_keep, np.random.default_rng(0))
    assert len(pos) == len(np.unique(pos)) == len(wt) == n_keep and pos.dtype == np.int64
    assert np.all(np.isfinite(wt)) and np.all(wt >= 0)


def test_a_pool_of_one_and_identical_gradients():
    grads = LastLayer.from_head(np.ones((1, 4)), np.ones((3, 4)), np.zeros(3), np.array([1]))
    pos, wt = select_gradmatch(grads, mean_gradient(grads), 1, np.random.default_rng(0))
    assert pos.tolist() == [0] and wt.tolist() == [1.0]
    same = LastLayer.from_head(np.ones((6, 4)), np.ones((3, 4)), np.zeros(3), np.zeros(6, dtype=int))
    for k in range(7):
        pos, wt = select_gradmatch(same, mean_gradient(same), k, np.random.default_rng(0))
        assert len(np.unique(pos)) == k and np.all(np.isfinite(wt)) and np.all(wt >= 0)
    # gradients that are exactly zero (a confident, correct prediction): the first weight is 0, not 0/0
    zero = LastLayer.from_head(np.ones((4, 2)), np.array([[900.0, 900.0], [0, 0]]), np.zeros(2), np.zeros(4, int))
    assert zero.sq_norms().max() == 0
    pos, wt = select_gradmatch(zero, mean_gradient(zero), 2, np.random.default_rng(0))
    assert len(np.unique(pos)) == 2 and np.all(wt == 1 / 4)


def test_bad_options_and_too_large_pools_are_one_line():
    h, w, b, y = _problem(0)
    grads = LastLayer.from_head(h, w, b, y)
    with pytest.raises(PruneError):
        choose(targets=y, grads=grads, val_grads=grads, val_targets=y, n_keep=3, method="gradmatch",
               options={"lam": 0.0})
    big = LastLayer.from_head(np.zeros((9000, 1)), np.zeros((2, 1)), np.zeros(2), np.zeros(9000, dtype=int))
    with pytest.raises(ValueError, match="--quota proportional"):  # refused before any work
        gradmatch_omp(big, mean_gradient(big), 8193, 1.0)
