"""Scores and selections as functions: the code paths of ``prune score`` and ``prune select``, returning values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline.io import PruneError, Run, Scores


def score(run: str | os.PathLike | Run, method: str, *, out: str | os.PathLike | bool | None = None,
          **params: Any) -> Scores:
    """Per-sample scores of a recorded run with one method (``prune score --method``), as a :class:`Scores`.

    ``.score`` is in sample order (``.sample`` = 0..N-1), ``.meta`` holds the
    method, its full parameters, ``higher_is_harder`` and the run's
    fingerprint, exactly as a written table's metadata. Parameters are the
    method's options (``window=10, decay=0.9`` for TDDS; ``prune score --list``
    shows them all). ``out=True`` also writes RUN/scores/<method>.parquet,
    ``out=PATH`` writes there; by default nothing is written.
    """
    from pipeline.score.run import _write, compute, table

    r, m, full, values, seconds = compute(run=run, method=method, params=params)
    t = table(r, m, full, values)
    if out is not None and out is not False:
        t.path = _write(r, m, full, values, seconds, None if out is True else Path(out)).path
    return t


def register_score(name: str, fn=None, **metadata: Any):
    """Add your own score: ``register_score("mine", fn, higher_is_harder=True)`` or as a decorator.

    ``fn(run, **params)`` gets an open :class:`pipeline.io.Run` (its
    ``iter_logits()``, ``dynamics()``, ``targets``, ...) and returns one float
    per sample in sample order. Then ``score(run, "mine")`` and, in the same
    process, ``prune score --method mine`` use it; from the shell use
    ``--method package.module:function`` or a ``prune.scores`` entry point.
    """
    from pipeline.score.registry import register_score as register

    return register(name, fn, **metadata)
