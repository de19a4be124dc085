"""``--method glister``: GLISTER (Killamsetty et al., AAAI 2021) as DeepCore runs it.

Greedy selection by the Taylor-approximated gain of a sample on the
validation loss, ``<g_i, g_val>``, where ``g_val`` is the mean validation
gradient after one gradient step of the last layer on the samples picked so
far. Deterministic (DeepCore's default LazyGreedy).

Cost per pick: the new validation gradient, O(n_val · C · (d + 1)), and a few
re-evaluated gains, O(C · (d + 1)) each; memory that of the gradients' factors.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.select.base import Option, Pool, Sampler
from pipeline.select.lastlayer import softmax
from pipeline.select.samplers._common import _check_n_keep, _one_blas_thread
from pipeline.select.samplers.gradmatch import DEEPCORE_BATCH, VAL_HELP

#: DeepCore's ``eta``: its ``--lr``, 0.1 by default.
GLISTER_ETA = 0.1


class _ValidationGradient:
    """The mean validation gradient after one SGD step of the last layer on the mean gradient of the picks.

    DeepCore's ``update_val_gradients``: the validation logits ``z`` become
    ``z - eta · [1, h] M^T`` with ``M`` the mean gradient of the picks
    (``C × (d + 1)``; the embeddings ``h`` do not move), and the validation
    gradient is recomputed at those logits. Logits are recovered from the
    probabilities as ``log p`` (softmax ignores a constant per row), the
    labels from ``probs − err`` (the one-hot vector).
    """

    def __init__(self, val, eta: float):
        self.n = val.n
        self.eta = eta
        self.h1 = [h for _, h in val.parts]
        labels = np.argmax(val.probs - val.parts[0][0], axis=1)
        self.rows = (np.arange(self.n), labels)
        with np.errstate(divide="ignore"):  # a probability that underflowed to 0 stays 0
            self.logp = []
            for e, _ in val.parts:
                p = e.copy()
                p[self.rows] += 1.0
                self.logp.append(np.log(np.maximum(p, 0.0)))
        self.current = tuple(e.T @ h / self.n for e, h in val.parts)

    def step(self, mean_picked: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        out = []
        for logp, h1, m in zip(self.logp, self.h1, mean_picked):
            err = softmax(logp - self.eta * (h1 @ m.T))
            err[self.rows] -= 1.0
            out.append(err.T @ h1 / self.n)
        self.current = tuple(out)
        return self.current


def glister_greedy(grads, val, n_keep: int, eta: float, *, update: bool = True) -> np.ndarray:
    """GLISTER's picks, in order: DeepCore's ``Glister`` with its ``LazyGreedy`` optimizer.

    The gain of sample ``i`` is ``<g_i, g_val>``; after each pick ``g_val``
    is recomputed (:class:`_ValidationGradient`) with the mean gradient of
    all picks so far and learning rate ``eta`` (at the scale of ``grads``).
    LazyGreedy keeps each sample's last computed gain; per pick it takes the
    sample of largest kept gain (ties: lower position), recomputes its gain,
    and picks it once the same sample comes out on top twice in a row of
    recomputations. ``update=False`` never recomputes ``g_val``, which
    reduces the greedy to the ``n_keep`` largest initial gains.

    Parameters
    ----------
    grads, val : LastLayer
        The candidates' gradients and the validation samples'.
    n_keep : int
        ``0 <= n_keep <= n``.
    eta : float
        Learning rate of the step, ``>= 0``.

    Returns
    -------
    numpy.ndarray
        The picks in the order made (``int64``).
    """
    n = grads.n
    k = _check_n_keep(n_keep, n)
    if not (math.isfinite(eta) and eta >= 0):
        raise ValueError(f"eta must be a finite number >= 0, got {eta!r}")
    if k and val.n == 0:
        raise ValueError("no validation samples to compute a validation gradient on")
    if k == 0:
        return np.empty(0, dtype=np.int64)
    state = _ValidationGradient(val, eta)
    gain = grads.dot(state.current)
    if not update:
        return np.argsort(-gain, kind="stable")[:k].astype(np.int64)
    picked_sum = [np.zeros_like(g) for g in state.current]
    order = np.empty(k, dtype=np.int64)
    one = np.empty(1, dtype=np.int64)
    with _one_blas_thread():
        for m in range(k):  # a loop over picks: each moves the validation gradient
            best, last = -np.inf, -1
            while True:  # LazyGreedy: recompute the top kept gain until the same sample stays on top
                top = int(np.argmax(gain))
                if top == last:
                    break
                one[0] = top
                new = float(grads.dot(state.current, one)[0])
                gain[top] = new
                if new >= best:
                    best, last = new, top
            order[m] = top
            gain[top] = -np.inf
            if m + 1 < k:
                for s, (e, h) in zip(picked_sum, grads.parts):
                    s += np.outer(e[top], h[top])
                state.step(tuple(s / (m + 1) for s in picked_sum))
    return order


def _glister(pool: Pool, n_keep: int, rng, *, eta: float, val: bool, update: bool) -> np.ndarray:
    if val and pool.val_grads.n == 0 and n_keep:
        raise ValueError("val=true reads the validation gradient, but there are no validation samples of this "
                         "pool's classes")
    if n_keep == pool.n:  # a class kept whole: the greedy's order would change nothing
        return np.arange(pool.n, dtype=np.int64)
    order = glister_greedy(pool.grads, pool.val_grads if val else pool.grads, n_keep, eta / DEEPCORE_BATCH,
                           update=update)
    return np.sort(order)


SAMPLER = Sampler(
    "glister", _glister,
    "greedy by the Taylor gain <g_i, g_val>, the validation gradient moved by a last-layer step on the picks",
    "Killamsetty et al., AAAI 2021, as DeepCore", needs=("gradients", "val_gradients"),
    options=(Option("eta", GLISTER_ETA, "learning rate of the last-layer step on the picks' mean gradient, at "
                    "DeepCore's gradient scale (the mean loss of a batch of 256)", low=0.0),
             Option("val", False, VAL_HELP, type=bool),
             Option("update", True, "recompute the validation gradient after each pick; false ranks by the first "
                    "gains, which is what DeepCore's released code does (see docs/selection.md)", type=bool)))
