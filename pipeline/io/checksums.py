"""Checksums of a recorded run's files: written by ``prune record`` just before run.json, verified by ``prune check``.

``RUN/checksums.json`` maps every file the recording wrote (Zarr chunks and
metadata, dynamics Parquet, eval.parquet, checkpoints, files.parquet), by
its path relative to the run, to its size and sha256. Later stages' own
outputs (``scores/``, ``train/``, ``rounds/``, ``sweeps/``, reports) and the
timing log are not covered: they are written after the run and checked by
their readers. A flipped bit in a logits chunk, which decodes to plausible
numbers, is found only here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.io import layout
from pipeline.io.atomic import read_json, write_json
from pipeline.io.errors import PruneError
from pipeline.io.tables import file_sha256

CHECKSUMS = "checksums.json"
#: what a recording writes; everything else in a run folder is a later stage's (or the log's)
COVERED = (layout.TRAJECTORIES, layout.DYNAMICS, layout.EVAL_TABLE, layout.CHECKPOINTS, layout.FILES)


def covered_files(run: Path) -> list[Path]:
    """The recording's files in ``run``, sorted by relative path."""
    out = []
    for name in COVERED:
        p = run / name
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(q for q in p.rglob("*") if q.is_file() and not q.name.startswith("."))
    return sorted(out, key=lambda q: q.relative_to(run).as_posix())


def write_checksums(run: str | os.PathLike) -> None:
    """Hash every recorded file of ``run`` into RUN/checksums.json (the files are in the page cache, just written)."""
    run = Path(run)
    sums = {p.relative_to(run).as_posix(): {"bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in covered_files(run)}
    write_json(run / CHECKSUMS, {"algorithm": "sha256", "files": sums})


@dataclass
class Report:
    checked: int = 0
    bytes: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.extra)


def verify(run: str | os.PathLike) -> Report:
    """Compare the run's files with RUN/checksums.json; one line when the run has none or it is unreadable."""
    run = Path(run)
    p = run / CHECKSUMS
    if not p.exists():
        raise PruneError(f"run {run} has no {CHECKSUMS} (it was recorded by an older prune, or not by `prune record`); "
                         "nothing to check it against")
    data = read_json(p)
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) and "sha256" in v and "bytes" in v
                                              for v in files.values()):
        raise PruneError(f"{p} is damaged (not prune's checksum list); record the run again")
    rep = Report()
    present = {q.relative_to(run).as_posix(): q for q in covered_files(run)}
    for rel, want in files.items():
        q = present.get(rel)
        if q is None:
            rep.missing.append(rel)
            continue
        rep.checked += 1
        size = q.stat().st_size
        rep.bytes += size
        if size != want["bytes"] or file_sha256(q) != want["sha256"]:
            rep.changed.append(rel)
    rep.extra = sorted(set(present) - set(files))
    return rep
