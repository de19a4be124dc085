"""Per-sample last-layer gradients, never materialised: what the gradient-based DeepCore samplers read.

For cross-entropy on a linear classifier ``z = W h + b`` the gradient of one
sample's loss with respect to ``(b, W)`` has the closed form

    g_i = e_i ⊗ [1, h_i],   e_i = softmax(W h_i + b) − onehot(y_i),

a ``C × (d + 1)`` matrix (DeepCore's ``calc_gradient`` lays the same numbers
out as ``[e_i, e_i ⊗ h_i]``: one permutation of the coordinates, which
changes no inner product, norm or distance; its ``submodular.py`` still takes
the loss of a second softmax, docs/selection.md). Every quantity the samplers need
is an inner product of such outer products, so it factors:

    <g_i, g_j>      = (e_i · e_j) (1 + h_i · h_j)
    <g_i, G>        = e_i^T G [1, h_i]        for a C × (d + 1) matrix G (a sum of gradients)
    Σ_i w_i g_i     = E^T diag(w) H1

and costs ``O(n (C + d))`` memory instead of ``O(n C d)``: at N = 50,000,
C = 10, d = 512 the dense gradients would be 1 GB in float32, the factors
are 100 MB. A pairwise block (``gram``) is formed only for the rows asked for,
so a sampler bounds its memory by asking for blocks.

Several inits (``prune record --inits``) live in unrelated spaces, as their
embeddings do; their gradients are concatenated, so inner products add up
over inits (``parts`` holds one factor pair per init).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LastLayer", "softmax"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, stable for large logits."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


@dataclass(frozen=True)
class LastLayer:
    """The last-layer gradients of ``n`` samples, as one ``(err, h1)`` pair per init.

    ``err`` is ``(n, C)`` float64, ``softmax − onehot``; ``h1`` is ``(n, d + 1)``
    float64, the embedding with a leading 1 (the bias's input). ``probs`` is
    the softmax of the first init (Contextual Diversity reads predictions).
    """

    parts: tuple[tuple[np.ndarray, np.ndarray], ...]
    probs: np.ndarray

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_head(cls, emb, weight, bias, targets) -> "LastLayer":
        """From embeddings and the classifier that reads them.

        ``emb`` is ``(n, d)`` or ``(inits, n, d)``; ``weight`` ``(C, d)`` or
        ``(inits, C, d)``; ``bias`` ``(C,)`` or ``(inits, C)``; ``targets``
        ``(n,)`` class indices.
        """
        emb, weight, bias = np.asarray(emb), np.asarray(weight), np.asarray(bias)
        if emb.ndim == 2:
            emb, weight, bias = emb[None], weight[None], bias[None]
        targets = np.asarray(targets, dtype=np.int64)
        parts, first = [], None
        for h, W, b in zip(emb, weight, bias):
            h = np.asarray(h, dtype=np.float64)
            p = softmax(h @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64))
            if first is None:
                first = p.copy()
            p[np.arange(len(targets)), targets] -= 1.0
            parts.append((p, np.hstack([np.ones((h.shape[0], 1)), h])))
        return cls(tuple(parts), first)

    def take(self, pos: np.ndarray) -> "LastLayer":
        """The gradients of positions ``pos`` (in that order)."""
        return LastLayer(tuple((e[pos], h[pos]) for e, h in self.parts), self.probs[pos])

    # ------------------------------------------------------------------ shape

    @property
    def n(self) -> int:
        return int(self.probs.shape[0])

    @property
    def dim(self) -> int:
        """Length of one flattened gradient: Σ over inits of C·(d + 1)."""
        return sum(e.shape[1] * h.shape[1] for e, h in self.parts)

    # ------------------------------------------------------------------ algebra

    def gram(self, rows: np.ndarray | slice | None = None, cols: np.ndarray | slice | None = None) -> np.ndarray:
        """``<g_i, g_j>`` for i in ``rows`` and j in ``cols`` (None: all), float64, shape (len rows, len cols)."""
        rows = slice(None) if rows is None else rows
        cols = slice(None) if cols is None else cols
        out = None
        for e, h in self.parts:
            block = (e[rows] @ e[cols].T) * (h[rows] @ h[cols].T)
            out = block if out is None else out + block
        return out

    def sq_norms(self) -> np.ndarray:
        """``|g_i|²`` for every sample, (n,)."""
        return sum(np.einsum("ij,ij->i", e, e) * np.einsum("ij,ij->i", h, h) for e, h in self.parts)

    def sum(self, weights: np.ndarray | None = None, pos: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """``Σ_i w_i g_i`` over ``pos`` (None: all; weights default 1), one ``C × (d + 1)`` matrix per init."""
        out = []
        for e, h in self.parts:
            if pos is not None:
                e, h = e[pos], h[pos]
            out.append(e.T @ (h if weights is None else h * np.asarray(weights, dtype=np.float64)[:, None]))
        return tuple(out)

    def dot(self, G: tuple[np.ndarray, ...], pos: np.ndarray | None = None) -> np.ndarray:
        """``<g_i, G>`` for every sample (or those at ``pos``), with ``G`` as :meth:`sum` returns it."""
        out = None
        for (e, h), g in zip(self.parts, G):
            if pos is not None:
                e, h = e[pos], h[pos]
            v = np.einsum("ic,ic->i", e, h @ g.T)
            out = v if out is None else out + v
        return out

    def dense(self, pos: np.ndarray | None = None) -> np.ndarray:
        """The gradients as rows, ``(len pos, dim)`` float64, in DeepCore's order per init (bias, then weight
        row by row). For tests and small pools: this is the array the factored form exists to avoid."""
        blocks = []
        for e, h in self.parts:
            if pos is not None:
                e, h = e[pos], h[pos]
            blocks.append(e)  # the bias gradient: e ⊗ 1
            blocks.append((e[:, :, None] * h[:, None, 1:]).reshape(len(e), -1))
        return np.hstack(blocks)
