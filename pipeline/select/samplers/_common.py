"""What the samplers share: argument checks, masks, the keep-count rule, blocked BLAS work on embeddings.

Every sampler works on positions ``0..n-1`` of the arrays it is given (the
caller maps positions to sample ids; positions are in increasing sample-id
order, so "ties broken by sample id" means "lower position first"). Every
sampler returns a sorted, unique ``int64`` array of exactly ``n_keep`` kept
positions, and takes its randomness only from a passed
``numpy.random.Generator``. All are vectorised: no per-sample Python code.
"""

from __future__ import annotations

import operator

import numpy as np

from pipeline.counts import keep_count


def _check_fraction(value: float, name: str) -> float:
    value = float(value)
    if not (0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return value


def _check_n_keep(n_keep: int, n: int) -> int:
    n_keep = operator.index(n_keep)
    if not 0 <= n_keep <= n:
        raise ValueError(f"n_keep must be in [0, {n}], got {n_keep}")
    return n_keep


def _as_scores(scores: np.ndarray, *, finite: bool = False) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {scores.shape}")
    if scores.dtype.kind not in "biuf":
        raise ValueError(f"scores must be numeric, got dtype {scores.dtype}")
    if scores.dtype.kind == "f":
        # NaN has no place in an order: sorts would silently push it to one end.
        # One pass over clean scores; the mask of bad values is only built to
        # report them.
        clean = bool(np.isfinite(scores).all()) if finite else not np.isnan(scores).any()
        if not clean:
            bad = ~np.isfinite(scores) if finite else np.isnan(scores)
            what = "non-finite" if finite else "NaN"
            raise ValueError(
                f"scores contain {int(bad.sum())} {what} value(s), "
                f"first at position {int(np.flatnonzero(bad)[0])}"
            )
    return scores


def _mask_to_positions(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask).astype(np.int64, copy=False)


def _end_mask(scores: np.ndarray, n_top: int, keep_high: bool, cut) -> np.ndarray:
    """Mask of the ``n_top`` samples at one end of ``scores``, ties at the cut to the lowest positions.

    ``cut`` is the value of rank ``n_top`` from that end (the highest end if
    ``keep_high``), as a partition finds it: everything strictly beyond it is
    in, and the places left go to the samples equal to it, lowest positions
    first. ``1 <= n_top <= n``.
    """
    mask = scores > cut if keep_high else scores < cut
    missing = n_top - int(np.count_nonzero(mask))
    ties = np.flatnonzero(scores == cut)[:missing]
    mask[ties] = True
    return mask


def _end_kth(n: int, n_top: int, keep_high: bool) -> int:
    """Index in ascending order of the value of rank ``n_top`` from the kept end."""
    return n - n_top if keep_high else n_top - 1



n_keep_for = keep_count


#: Bytes of one block of the pairwise-distance matrix (rows × n float32).
_BLOCK_BYTES = 64 << 20


def _as_embeddings(emb: np.ndarray, n: int | None = None) -> np.ndarray:
    emb = np.asarray(emb)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be two-dimensional (sample, dim), got shape {emb.shape}")
    if n is not None and emb.shape[0] != n:
        raise ValueError(f"embeddings hold {emb.shape[0]} rows for {n} scores")
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    if not np.all(np.isfinite(emb)):
        raise ValueError("embeddings contain NaN or infinite values")
    return emb



def _one_blas_thread():
    # A matrix-vector product is bound by memory, not arithmetic, so BLAS
    # threads gain nothing; waking them for each of thousands of small
    # products costs more than the product when the cores are busy.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")
