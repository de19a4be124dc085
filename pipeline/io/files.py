"""RUN/files.parquet: where each training sample of a file-backed data set lives.

``sample`` (int64) and ``path`` (string: the file relative to the data folder,
``/``-separated), one row per training sample, written by ``prune record``
for data sets read from files (image folders). ``prune select`` copies the
kept samples' paths into the manifest, and ``prune export`` turns a manifest
into a folder or a list of files.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np
import pyarrow as pa

from pipeline.io.errors import PruneError
from pipeline.io.tables import _read, write_table

FILES_SCHEMA = pa.schema([("sample", pa.int64()), ("path", pa.string())])


def relative_paths(files: Sequence[os.PathLike | str], root: os.PathLike | str) -> list[str]:
    """``files`` relative to ``root`` as POSIX strings (a file outside ``root`` is a bug of the loader)."""
    # absolute, not resolved: files may be symbolic links (an exported folder) pointing elsewhere
    root = Path(os.path.abspath(root))
    return [PurePosixPath(Path(os.path.abspath(f)).relative_to(root)).as_posix() for f in files]


def write_files(path: os.PathLike | str, paths: Sequence[str]) -> None:
    write_table(path, {"sample": np.arange(len(paths), dtype=np.int64), "path": list(paths)}, FILES_SCHEMA)


def read_files(path: os.PathLike | str, n: int) -> np.ndarray:
    """The relative paths of samples 0..n-1 (an object array of str); one line if the table is damaged."""
    table = _read(path, FILES_SCHEMA, "file list")
    sample = table.column("sample").to_numpy()
    paths = np.asarray(table.column("path").to_pylist(), dtype=object)
    if len(sample) != n or not np.array_equal(sample, np.arange(n)) or any(p is None for p in paths):
        raise PruneError(f"{path} does not list one file per training sample 0..{n - 1}; record the run again")
    for p in paths:
        q = PurePosixPath(p)
        if q.is_absolute() or ".." in q.parts:
            raise PruneError(f"{path}: {p!r} is not a path inside the data folder")
    return paths
