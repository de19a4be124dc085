"""The factored last-layer gradients equal autograd's, and every product of them equals the dense one."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.select.lastlayer import LastLayer


def _case(inits=1, n=9, d=4, C=3, seed=0):
    g = np.random.default_rng(seed)
    emb = g.normal(size=(inits, n, d))
    W, b = g.normal(size=(inits, C, d)), g.normal(size=(inits, C))
    y = g.integers(0, C, n)
    return emb, W, b, y


def test_gradients_are_autograds_of_the_cross_entropy_in_deepcores_order():
    emb, W, b, y = _case()
    dense = LastLayer.from_head(emb[0], W[0], b[0], y).dense()
    for i in range(len(y)):
        lin = torch.nn.Linear(4, 3).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W[0]))
            lin.bias.copy_(torch.from_numpy(b[0]))
        F.cross_entropy(lin(torch.from_numpy(emb[0, i:i + 1])), torch.tensor([int(y[i])])).backward()
        want = torch.cat([lin.bias.grad, lin.weight.grad.flatten()]).numpy()  # DeepCore: [bias, weight rows]
        np.testing.assert_allclose(dense[i], want, rtol=1e-12, atol=1e-12)


def test_factored_products_equal_the_dense_ones_over_inits():
    emb, W, b, y = _case(inits=2)
    ll = LastLayer.from_head(emb, W, b, y)
    G = ll.dense()
    assert G.shape == (9, ll.dim) == (9, 2 * 3 * 5)
    np.testing.assert_allclose(ll.gram(), G @ G.T, rtol=1e-12)
    np.testing.assert_allclose(ll.gram([1, 4], [0, 2, 3]), G[[1, 4]] @ G[[0, 2, 3]].T, rtol=1e-12)
    np.testing.assert_allclose(ll.sq_norms(), (G ** 2).sum(1), rtol=1e-12)
    w = np.arange(9, dtype=float)
    S = ll.sum(w)
    flat = np.concatenate([np.concatenate([s[:, 0], s[:, 1:].ravel()]) for s in S])  # back to DeepCore's order
    np.testing.assert_allclose(flat, w @ G, rtol=1e-12)
    np.testing.assert_allclose(ll.dot(S), G @ (w @ G), rtol=1e-12)
    pos = np.array([5, 0, 7])
    np.testing.assert_allclose(ll.take(pos).dense(), G[pos], rtol=1e-12)
    np.testing.assert_allclose(ll.dot(S, pos), G[pos] @ (w @ G), rtol=1e-12)
    np.testing.assert_allclose(ll.probs.sum(1), 1.0)
