"""``prune score``: turn a recorded run into a score table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.io import PruneError, open_run, write_scores
from pipeline.score.registry import get_method


def score(*, run: Path, method: str, params: dict[str, Any], out: Path | None = None) -> tuple[Path, np.ndarray, dict]:
    m = get_method(method)  # validate the name before touching the run
    r = open_run(run)
    full = m.resolve(params, r)
    t0 = time.perf_counter()
    values = np.asarray(m.compute(r, full), dtype=np.float64)
    if values.shape != (r.n,):
        raise PruneError(f"{method} returned {values.shape} scores for {r.n} samples")  # a bug, said plainly
    out = Path(out) if out is not None else r.path / "scores" / f"{m.name}.parquet"
    write_scores(out, np.arange(r.n, dtype=np.int64), r.targets, values, method=m.name, parameters=full,
                 higher_is_harder=True if m.higher_is_harder is None else m.higher_is_harder,
                 fingerprint=r.fingerprint, source_run=str(r.path),
                 extra={"seconds": round(time.perf_counter() - t0, 3), "epochs_recorded": r.epochs, "inits": r.inits})
    return out, values, full
