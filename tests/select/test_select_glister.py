"""GLISTER (DeepCore's Glister with LazyGreedy) against a dense reimplementation that moves the classifier itself."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.io import PruneError
from pipeline.select.base import Pool
from pipeline.select.core import choose
from pipeline.select.lastlayer import LastLayer
from pipeline.select.samplers.glister import SAMPLER, glister_greedy
from pipeline.select.samplers.gradmatch import DEEPCORE_BATCH


def _problem(seed: int, n: int = 12, n_val: int = 7, c: int = 3, d: int = 4, inits: int = 2):
    gen = np.random.default_rng(seed)
    h, hv = gen.normal(size=(inits, n, d)), gen.normal(size=(inits, n_val, d))
    w, b = gen.normal(size=(inits, c, d)), gen.normal(size=(inits, c))
    return h, gen.integers(0, c, size=n), hv, gen.integers(0, c, size=n_val), w, b


def _dense(h, y, w, b) -> list[np.ndarray]:
    """Per-init gradient rows [dL/db, dL/dW] of the cross-entropy, written out (not via LastLayer)."""
    out = []
    for hi, wi, bi in zip(h, w, b):
        z = hi @ wi.T + bi
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        err = p - np.eye(wi.shape[0])[y]
        out.append(np.hstack([err, np.einsum("nc,nd->ncd", err, hi).reshape(len(y), -1)]))
    return out


def _naive_glister(h, y, hv, yv, w, b, k, eta, update):
    """DeepCore's LazyGreedy with the gain <g_i, mean validation gradient>; after each pick the classifier takes
    one SGD step (rate eta) on the mean gradient of the picks, from its initial value, and the validation
    gradient is recomputed with the moved classifier."""
    c, d = w.shape[1], w.shape[2]
    train = np.hstack(_dense(h, y, w, b))

    def val_grad(w_, b_):
        return np.hstack(_dense(hv, yv, w_, b_)).mean(axis=0)

    g_val = val_grad(w, b)
    gain = train @ g_val
    selected = np.zeros(len(y), dtype=bool)
    order = []
    for _ in range(k):
        best, last = -np.inf, -1
        while True:
            top = int(np.argmax(gain))
            if top == last:
                break
            new = train[top] @ g_val
            gain[top] = new
            if new >= best:
                best, last = new, top
        selected[top] = True
        gain[top] = -np.inf
        order.append(top)
        if update:
            step = train[selected].mean(axis=0)
            per_init = np.split(step, len(w))
            w_new = np.stack([wi - eta * s[c:].reshape(c, d) for wi, s in zip(w, per_init)])
            b_new = np.stack([bi - eta * s[:c] for bi, s in zip(b, per_init)])
            g_val = val_grad(w_new, b_new)
    return np.array(order, dtype=np.int64)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("eta", [0.0, 0.5, 3.0])
def test_greedy_matches_the_dense_reimplementation(seed, eta):
    h, y, hv, yv, w, b = _problem(seed)
    grads, val = LastLayer.from_head(h, w, b, y), LastLayer.from_head(hv, w, b, yv)
    for k in (1, 4, 8, 12):
        for update in (True, False):
            got = glister_greedy(grads, val, k, eta, update=update)
            np.testing.assert_array_equal(got, _naive_glister(h, y, hv, yv, w, b, k, eta, update))


def test_the_update_changes_the_picks():
    # a large step moves the validation gradient enough to change some selections (else the test above is blind)
    differ = 0
    for seed in range(8):
        h, y, hv, yv, w, b = _problem(seed)
        a = _naive_glister(h, y, hv, yv, w, b, 6, 3.0, True)
        differ += set(a) != set(_naive_glister(h, y, hv, yv, w, b, 6, 3.0, False))
    assert differ >= 2


@pytest.mark.parametrize("seed", range(4))
def test_choose_reads_eta_at_deepcores_scale_and_the_training_pool_by_default(seed):
    h, y, hv, yv, w, b = _problem(seed)
    grads, val = LastLayer.from_head(h, w, b, y), LastLayer.from_head(hv, w, b, yv)
    kept, params, _, weights = choose(targets=y, grads=grads, val_grads=val, val_targets=yv, n_keep=6,
                                      method="glister", seed=seed, options={"eta": 3.0 * DEEPCORE_BATCH})
    assert params == {"eta": 3.0 * DEEPCORE_BATCH, "val": False, "update": True} and weights is None
    # DeepCore's default (no dst_val): the pool's own training samples stand for the validation set
    np.testing.assert_array_equal(kept, np.sort(_naive_glister(h, y, h, y, w, b, 6, 3.0, True)))
    kept, _, _, _ = choose(targets=y, grads=grads, val_grads=val, val_targets=yv, n_keep=6, method="glister",
                           options={"eta": 3.0 * DEEPCORE_BATCH, "val": True})
    np.testing.assert_array_equal(kept, np.sort(_naive_glister(h, y, hv, yv, w, b, 6, 3.0, True)))
    again, _, _, _ = choose(targets=y, grads=grads, val_grads=val, val_targets=yv, n_keep=6, method="glister",
                            options={"eta": 3.0 * DEEPCORE_BATCH, "val": True}, seed=seed + 1)
    np.testing.assert_array_equal(again, kept)  # no randomness


def test_per_class_pools_match_against_their_class():
    h, y, hv, yv, w, b = _problem(3, n=12, n_val=9)
    grads, val = LastLayer.from_head(h, w, b, y), LastLayer.from_head(hv, w, b, yv)
    kept, _, _, _ = choose(targets=y, grads=grads, val_grads=val, val_targets=yv, n_keep=6, method="glister",
                           quota="proportional", options={"val": True})
    assert len(kept) == 6
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        mine = np.flatnonzero(np.isin(kept, members))
        if 0 < len(mine) < len(members):
            vc = yv == c
            want = _naive_glister(h[:, members], y[members], hv[:, vc], yv[vc], w, b, len(mine),
                                  0.1 / DEEPCORE_BATCH, True)
            np.testing.assert_array_equal(kept[mine], np.sort(members[want]))


@pytest.mark.parametrize("n_keep", [0, 1, 5, 12])
def test_exact_counts(n_keep):
    h, y, hv, yv, w, b = _problem(1)
    grads, val = LastLayer.from_head(h, w, b, y), LastLayer.from_head(hv, w, b, yv)
    pool = Pool(n=12, targets=y, grads=grads, val_grads=val)
    pos = SAMPLER.fn(pool, n_keep, np.random.default_rng(0), eta=0.1, val=True, update=True)
    assert pos.dtype == np.int64 and len(np.unique(pos)) == n_keep and (np.diff(pos) > 0).all()


def test_a_pool_of_one_identical_gradients_and_underflowed_probabilities():
    one = LastLayer.from_head(np.ones((1, 2)), np.ones((3, 2)), np.zeros(3), np.array([2]))
    assert glister_greedy(one, one, 1, 0.5).tolist() == [0]
    same = LastLayer.from_head(np.ones((5, 2)), np.ones((3, 2)), np.zeros(3), np.zeros(5, dtype=int))
    assert glister_greedy(same, same, 3, 0.5).tolist() == [0, 1, 2]  # all tied: the lower positions
    # a probability that underflows to 0 (logit gap > 745) stays 0 after the step, and nothing turns NaN
    far = LastLayer.from_head(np.ones((4, 1)), np.array([[900.0], [0.0]]), np.zeros(2), np.array([0, 1, 0, 1]))
    assert np.any(far.parts[0][0] + np.eye(2)[[0, 1, 0, 1]] == 0)
    got = glister_greedy(far, far, 3, 0.5)
    assert len(np.unique(got)) == 3


def test_no_validation_samples_of_the_class_is_one_line():
    h, y, hv, yv, w, b = _problem(0, n_val=3)
    yv = np.zeros(3, dtype=int)  # validation of class 0 only
    y = np.array([0] * 6 + [1] * 6)
    grads, val = LastLayer.from_head(h, w, b, y), LastLayer.from_head(hv, w, b, yv)
    with pytest.raises(PruneError, match="no validation samples"):
        choose(targets=y, grads=grads, val_grads=val, val_targets=yv, n_keep=6, method="glister",
               quota="proportional", options={"val": True})
    kept, _, _, _ = choose(targets=y, grads=grads, val_grads=val, val_targets=yv, n_keep=6, method="glister",
                           quota="proportional")  # val=false never reads them
    assert len(kept) == 6
