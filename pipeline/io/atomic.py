"""Atomic writes: a crash never leaves a half file under a final name."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator

from pipeline.io.errors import PruneError, WriteFailed


#: Why a write failed, in the user's words, by errno (the rest: the system's own words).
_WHY = {errno.EROFS: "the file system is read-only", errno.ENOSPC: "no space is left on the device",
        errno.EDQUOT: "the disk quota is used up", errno.EISDIR: "a folder stands there",
        errno.ENOTDIR: "a part of the path is a file, not a folder", errno.EEXIST: "a file stands where a folder is needed",
        errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.ENAMETOOLONG: "the name is too long"}


#: The errors of a write that the user can mend (space, permissions, what stands at the path).
WRITE_ERRNOS = frozenset(_WHY)


def cannot_write(path: str | os.PathLike, err: OSError) -> WriteFailed:
    """The one line for a write that failed: the path, why, and what to do."""
    why = _WHY.get(err.errno, err.strerror or str(err))
    where = err.filename if err.filename and err.errno in (errno.ENOTDIR, errno.EEXIST) else path
    todo = ("free some space, or write elsewhere" if err.errno in (errno.ENOSPC, errno.EDQUOT) else
            "write to a writable place" if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else
            "name another path")
    return WriteFailed(f"cannot write {where}: {why}; {todo}")


def probe_writable(path: str | os.PathLike, *, file: bool = True) -> None:
    """Try the write before the work: create (and remove) a hidden file beside ``path``, creating its folder.

    Permission bits do not say what root may do, nor whether the file system is mounted read-only; a real
    write does. One :class:`PruneError` (:func:`cannot_write`) when it fails, so a stage that would fail at
    its last step fails before its first. ``file=False``: ``path`` is a folder to be written (a run), which
    may stand there already.
    """
    path = Path(path)
    probe = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.probe"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if file and path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        with open(probe, "wb") as f:
            f.write(b"\0")
    except OSError as err:
        raise cannot_write(path, err) from None
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` on success.

    The temporary name lives in the same folder so the final ``os.replace`` is
    a same-filesystem rename, which POSIX makes atomic. A write that fails
    (read-only file system, full disk, a folder or a file in the way) is one
    :class:`PruneError` naming the path, and leaves no temporary behind.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        os.replace(tmp, path)
    except OSError as err:
        raise cannot_write(path, err) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PruneError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PruneError(f"{path} is not valid JSON ({err.__class__.__name__}); the file is damaged") from None


def _jsonable(obj: Any) -> Any:
    # numpy scalars and paths turn up in metadata; JSON wants plain values
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
