"""Result folders that never destroy what is not ours.

A stage writes a whole folder (a recorded run, a training result) into a
hidden sibling and swaps it into place when complete. Before any work starts,
``claim_folder`` checks the target: an absent or empty folder is fine, a
folder that already holds this kind of result needs ``--force``, and anything
else (a folder of the user's own files, the folder they stand in, a file) is
refused whatever the flags. ``swap_into_place`` repeats the check under a lock
right before the rename, so two processes writing to the same target cannot
silently replace each other: the later one fails with one line and keeps its
result in its partial folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from pipeline.io.errors import PruneError


def is_run(path: Path) -> bool:
    """A recorded run: a folder whose run.json is a JSON object with a fingerprint."""
    return _marker_has(path / "run.json", "fingerprint")


def is_train_result(path: Path) -> bool:
    """A ``prune train`` result: a folder with metrics.json or summary.json from prune."""
    return _marker_has(path / "metrics.json", "accuracy") or _marker_has(path / "summary.json", "seeds")


def _marker_has(marker: Path, key: str) -> bool:
    try:
        doc = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and key in doc


@dataclass(frozen=True)
class Claim:
    """What a target folder held when a stage claimed it, to be checked again before the swap."""

    path: Path
    what: str  # "run" or "training result"
    flag: str  # the option that names the target, for messages
    identity: tuple | None  # (inode, marker mtime) of the result that was there, None if none

    def check(self, recognise: Callable[[Path], bool], force: bool) -> None:
        """Raise unless the target still holds what it held when claimed (and ``force`` allows replacing it)."""
        now = _inspect(self.path, recognise, self.what, self.flag, force)
        if now != self.identity:
            raise PruneError(f"another process wrote {self.path} while this one ran; nothing of it was replaced")


def _identity(path: Path) -> tuple:
    st = path.stat()
    markers = sorted((p.name, p.stat().st_mtime_ns) for p in path.iterdir() if p.suffix == ".json")
    return (st.st_ino, tuple(markers))


def _inspect(path: Path, recognise: Callable[[Path], bool], what: str, flag: str, force: bool) -> tuple | None:
    if not path.exists():
        if path.is_symlink():
            raise PruneError(f"{flag} {path} is a broken symbolic link; remove it or choose another folder")
        return None
    if not path.is_dir():
        raise PruneError(f"{flag} {path} exists and is not a folder")
    if recognise(path):
        if not force:
            raise PruneError(f"{path} already holds a {what}; pass --force to replace it, or choose another {flag}")
        return _identity(path)
    if any(path.iterdir()):
        raise PruneError(f"{flag} {path} is a folder that is not a {what} and is not empty; "
                         f"prune never replaces it (not even with --force): choose another {flag}")
    return None


def claim_folder(path: str | os.PathLike, *, what: str, recognise: Callable[[Path], bool], force: bool,
                 flag: str) -> Claim:
    """Check that ``path`` may become a new ``what``; refuse with one line otherwise.

    Refused always: the current folder or one above it, a filesystem root, an
    existing file, a non-empty folder that is not a ``what``. Refused without
    ``force``: a folder that holds a ``what`` already.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise PruneError(f"{flag} {path}: name a new folder to write into (e.g. {flag} runs/default), "
                         "not the current folder or one above it")
    resolved = path.resolve()
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise PruneError(f"{flag} {path} is the folder you are working in (or holds it); choose another {flag}")
    return Claim(path=path, what=what, flag=flag, identity=_inspect(path, recognise, what, flag, force))


def partial_folder(path: Path) -> Path:
    """A fresh hidden sibling of ``path`` to write into; same file system, so the final rename is atomic."""
    return path.parent / f".{path.name}.partial-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def folder_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock for swapping ``path``: a lock on its parent folder (no lock file left behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def swap_into_place(partial: Path, claim: Claim, recognise: Callable[[Path], bool], force: bool) -> None:
    """Rename ``partial`` onto the claimed folder, under its lock, after checking it again.

    If the target changed since it was claimed (another process finished a
    result there), ``partial`` is kept and named in the error, so nothing is
    lost. An old result is deleted only once the new one is in place.
    """
    with folder_lock(claim.path):
        try:
            claim.check(recognise, force)
        except PruneError as err:
            raise PruneError(f"{err}; this process's result is kept in {partial}") from None
        target = claim.path
        if target.exists():
            trash = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(target, trash)
            os.replace(partial, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(partial, target)
