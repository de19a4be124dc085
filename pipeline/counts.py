"""The one rule from a rate to a count, and whole-number shares (every stage calls these).

docs/design.md §9: a rate is the fraction *removed*; ``N − floor(rate·N + 1/2)``
samples are kept, the product taken on the rate's decimal value as written,
so ``--rate 0.29`` on 50 samples removes 14.5 → 15 (binary floats would say
14.499999999999998 → 14). ``prune select``, ``prune train --dynamic``, label
noise and the samplers' hard cutoffs all count this way.
"""

from __future__ import annotations

import operator
from decimal import ROUND_HALF_UP, Decimal

import numpy as np


def round_half_up(fraction: float, n: int) -> int:
    """floor(fraction·n + 1/2), on the shortest decimal spelling of ``fraction``.

    >>> round_half_up(0.25, 10), round_half_up(0.5, 5), round_half_up(0.29, 50)
    (3, 3, 15)
    """
    return int((Decimal(repr(float(fraction))) * operator.index(n)).to_integral_value(rounding=ROUND_HALF_UP))


def keep_count(n: int, rate: float) -> int:
    """Samples kept when a fraction ``rate`` of ``n`` is removed: ``n − round_half_up(rate, n)``.

    n=10 r=0.25 keeps 7; n=5 r=0.5 keeps 2; n=50 r=0.29 keeps 35. ``ValueError``
    for ``n < 0`` or a rate outside [0, 1] (a bug in the caller: user input is
    checked by :func:`checked_keep_count`).
    """
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:  # also rejects NaN
        raise ValueError(f"rate must be in [0, 1], got {rate!r}")
    return n - round_half_up(rate, n)


def checked_keep_count(n: int, rate: float, *, flag: str = "--rate", what: str = "training samples") -> int:
    """:func:`keep_count` of a user's rate, refusing one that keeps nothing or removes nothing (one line)."""
    from pipeline.io.errors import PruneError

    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise PruneError(f"{flag} must be a number in (0, 1), got {rate!r}") from None
    if not 0.0 < rate < 1.0:
        raise PruneError(f"{flag} must be in (0, 1) (the fraction removed), got {rate:g}")
    kept = keep_count(n, rate)
    if kept == 0:
        raise PruneError(f"{flag} {rate:g} removes all {n} {what} (it keeps {n} − round({rate:g}·{n}) = 0); use a lower rate")
    if kept == n:
        raise PruneError(f"{flag} {rate:g} removes none of the {n} {what} (round({rate:g}·{n}) = 0); use a higher rate")
    return kept


def proportional_shares(counts: np.ndarray, total: int) -> np.ndarray:
    """Integer shares of ``total`` proportional to ``counts``, summing to it exactly (largest remainder).

    Every entry gets the floor of ``total·c_k / Σc``; the units still missing go
    one each to the largest fractional parts, ties to the lower index. Exact
    integer arithmetic; never more than ``c_k`` when ``total <= Σc``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    s = int(counts.sum())
    if s == 0:
        return np.zeros(len(counts), dtype=np.int64)
    scaled = counts * int(total)  # fits int64 for any realistic N (< 3e9)
    share = scaled // s
    # the fractional parts sum to `short` and each is < 1, so at least `short` entries
    # have a positive remainder: a unit never lands on a whole share
    short = int(total) - int(share.sum())
    share[np.argsort(-(scaled % s), kind="stable")[:short]] += 1
    return share
