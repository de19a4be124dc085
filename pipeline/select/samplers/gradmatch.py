"""``--method gradmatch``: GradMatch (Killamsetty et al., ICML 2021) as DeepCore runs it, a weighted sampler.

Regularised Orthogonal Matching Pursuit on last-layer gradients: pick, one at
a time, the sample whose gradient best correlates with what is left of a
target gradient, refit the weights of all picks, repeat; finally fit
non-negative weights. Deterministic, except for the random fill of the picks
the non-negative fit gives no weight (see :func:`select_gradmatch`).

Cost per pick: one product of every gradient with the residual,
O(n · C · (d + 1)), the residual itself, O(k · C · (d + 1)), and two
triangular solves, O(k²); memory O(k²) for the Cholesky factor and the final
k × k system, never the n gradients.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import nnls

from pipeline.select.base import Option, Pool, Sampler
from pipeline.select.samplers._common import _check_n_keep, _one_blas_thread

#: DeepCore computes its gradients from ``CrossEntropyLoss()`` with the mean
#: over a selection batch (``--selection_batch``, by default ``--batch`` 256),
#: so each is the per-sample gradient divided by 256. Its regulariser (GradMatch's
#: ``lam``) and learning rate (Glister's ``eta``) act at that scale; prune's
#: gradients are per sample, so ``lam`` becomes ``lam · 256²`` and ``eta``
#: ``eta / 256`` here, which reproduces DeepCore's fits and picks.
DEEPCORE_BATCH = 256

#: DeepCore's ``lam`` (its ``GradMatch`` never passes its own ``lam`` argument
#: on, so the solver's default 1 always applies).
GRADMATCH_LAM = 1.0

#: Most picks of one pool: the final non-negative fit is a k × k system (and
#: scipy's solver copies it), 2 · 8 · k² bytes, about 1 GB at this size.
GRADMATCH_MAX_KEEP = 8192

VAL_HELP = ("the gradient of the validation samples of the pool's classes (DeepCore's dst_val) instead of the "
            "pool's own training samples (DeepCore's default): the target of gradmatch, the validation set of glister")

#: Rows of the k × k Gram matrix built at a time.
_GRAM_ROWS = 512


def mean_gradient(grads) -> tuple[np.ndarray, ...]:
    """The mean of the gradients of a :class:`~pipeline.select.lastlayer.LastLayer`, one matrix per init."""
    if grads.n == 0:
        raise ValueError("no samples to average a gradient over")
    return tuple(m / grads.n for m in grads.sum())


def _regularised_gram(grads, picks: np.ndarray, reg: float) -> np.ndarray:
    """``G + reg · I`` with ``G[a, b] = <g_picks[a], g_picks[b]>``, built in blocks of rows."""
    k = len(picks)
    out = np.empty((k, k))
    for a in range(0, k, _GRAM_ROWS):
        out[a:a + _GRAM_ROWS] = grads.gram(picks[a:a + _GRAM_ROWS], picks)
    out[np.diag_indices(k)] += reg
    return out


def gradmatch_omp(grads, target: tuple[np.ndarray, ...], n_keep: int, reg: float):
    """Regularised OMP of DeepCore's ``orthogonal_matching_pursuit_np``, on factored gradients.

    With ``A`` the gradients as columns and ``b`` the target:

    1. the residual starts at ``b``;
    2. each step picks the unpicked sample of largest ``<g_i, residual>``
       (signed, not absolute; ties to the lower position);
    3. the first pick's weight is ``<g, b> / |g|²`` (no regulariser, as
       DeepCore); later steps solve ``(A_S^T A_S + reg · I) x = A_S^T b``
       over all picks ``S`` (DeepCore's ``lstsq`` of that square system; here
       by a Cholesky factor grown by one row per pick) and the residual is
       ``b - A_S x``;
    4. after ``n_keep`` steps the weights are the non-negative least squares
       ``argmin_{x >= 0} |(A_S^T A_S + reg · I) x - A_S^T b|`` (DeepCore's
       ``nnls`` of the same system); one pick gets weight 1.

    The residual is kept as ``C × (d + 1)`` matrices (``b`` minus
    ``grads.sum(x, S)``), so no gradient is materialised.

    Parameters
    ----------
    grads : LastLayer
        The ``n`` candidates' gradients.
    target : tuple of numpy.ndarray
        ``b``, one ``C × (d + 1)`` matrix per init (as ``grads.sum`` returns).
    n_keep : int
        Picks, ``0 <= n_keep <= min(n, GRADMATCH_MAX_KEEP)``.
    reg : float
        The regulariser, ``> 0``, at the scale of ``grads``.

    Returns
    -------
    order : numpy.ndarray
        The picks, in the order OMP made them (``int64``).
    ridge : numpy.ndarray
        The regularised weights of the last step (step 3), in pick order.
    weights : numpy.ndarray
        The final non-negative weights (step 4), in pick order; some may be 0.
    """
    n = grads.n
    k = _check_n_keep(n_keep, n)
    if not (math.isfinite(reg) and reg > 0):
        raise ValueError(f"the regulariser must be a finite number > 0, got {reg!r}")
    if k > GRADMATCH_MAX_KEEP:
        raise ValueError(f"GradMatch keeps at most {GRADMATCH_MAX_KEEP} samples of one pool (its final fit is a "
                         f"{k} × {k} system), asked for {k}; select per class with --quota proportional "
                         "(DeepCore's balance=True)")
    if k == 0:
        return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0)
    to_target = grads.dot(target)  # <g_i, b>: the first correlations, and A_S^T b for every S
    sq = grads.sq_norms()
    order = np.empty(k, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    chol = np.zeros((k, k))  # lower Cholesky factor of A_S^T A_S + reg·I, one row per pick
    fwd = np.empty(k)  # chol⁻¹ A_S^T b, grown one entry per pick
    corr = to_target
    with _one_blas_thread():
        for m in range(k):  # a loop over picks: each depends on the residual the last one left
            j = int(np.argmax(np.where(taken, -np.inf, corr)))
            order[m], taken[j] = j, True
            if m == 0:
                chol[0, 0] = math.sqrt(sq[j] + reg)
                fwd[0] = to_target[j] / chol[0, 0]
                ridge = np.array([to_target[j] / sq[j] if sq[j] > 0 else 0.0])
            else:
                cross = grads.gram(order[:m], order[m:m + 1])[:, 0]
                row = solve_triangular(chol[:m, :m], cross, lower=True, check_finite=False)
                # The Schur complement is at least reg in exact arithmetic; rounding may not take it below.
                chol[m, :m] = row
                chol[m, m] = math.sqrt(max(sq[j] + reg - row @ row, reg))
                fwd[m] = (to_target[j] - row @ fwd[:m]) / chol[m, m]
                ridge = solve_triangular(chol[:m + 1, :m + 1], fwd[:m + 1], lower=True, trans="T",
                                         check_finite=False)
            if m + 1 < k:
                fitted = grads.sum(ridge, order[:m + 1])
                corr = grads.dot(tuple(b - f for b, f in zip(target, fitted)))
    del chol
    if k == 1:
        return order, ridge, np.ones(1)
    weights = nnls(_regularised_gram(grads, order, reg), to_target[order])[0]
    return order, ridge, weights


def select_gradmatch(grads, target: tuple[np.ndarray, ...], n_keep: int, rng: np.random.Generator, *,
                     lam: float = GRADMATCH_LAM) -> tuple[np.ndarray, np.ndarray]:
    """GradMatch's weighted subset: exactly ``n_keep`` positions and their weights.

    Runs :func:`gradmatch_omp` with DeepCore's regulariser ``lam`` (at its
    gradient scale, :data:`DEEPCORE_BATCH`). DeepCore keeps only the picks of
    positive weight, so it may keep fewer than asked. Here the picks the
    non-negative fit leaves at 0 are replaced as the GradMatch authors' code
    (CORDS, ``GradMatchStrategy.select``) fills a short selection: drawn
    uniformly from the pool's samples without a positive weight (a zero-weight
    pick may be drawn again), each weighted as standing for itself. CORDS
    matches the *sum* of gradients and gives a drawn sample weight 1; against
    DeepCore's *mean* that weight is ``1 / n``.

    Returns
    -------
    positions, weights : numpy.ndarray
        Unique ``int64`` positions (unsorted) and one finite weight ``>= 0`` each.
    """
    n = grads.n
    k = _check_n_keep(n_keep, n)
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a finite number > 0, got {lam!r}")
    order, _, weights = gradmatch_omp(grads, target, k, lam * DEEPCORE_BATCH ** 2)
    good = weights > 0
    kept, w = order[good], weights[good]
    short = k - len(kept)
    if short:
        rest = np.setdiff1d(np.arange(n, dtype=np.int64), kept)
        drawn = np.sort(rng.choice(rest, size=short, replace=False))
        kept = np.concatenate([kept, drawn])
        w = np.concatenate([w, np.full(short, 1.0 / n)])
    return kept.astype(np.int64, copy=False), w


def _gradmatch(pool: Pool, n_keep: int, rng, *, lam: float, val: bool):
    if n_keep == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    if val:
        if pool.val_grads.n == 0:
            raise ValueError("val=true matches the validation gradient, but there are no validation samples of "
                             "this pool's classes")
        target = mean_gradient(pool.val_grads)
    else:
        target = mean_gradient(pool.grads)
    return select_gradmatch(pool.grads, target, n_keep, rng, lam=lam)


SAMPLER = Sampler(
    "gradmatch", _gradmatch,
    "weighted: regularised orthogonal matching pursuit of the mean last-layer gradient, non-negative weights",
    "Killamsetty et al., ICML 2021, as DeepCore", needs=("gradients", "val_gradients"),
    options=(Option("lam", GRADMATCH_LAM, "regulariser of the weights' least squares, at DeepCore's gradient scale "
                    "(the mean loss of a batch of 256); larger lam, weights closer to plain correlations",
                    low=0.0, low_open=True),
             Option("val", False, VAL_HELP, type=bool)))
