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

``staged`` is that whole sequence for a stage: claim, partial folder, its
lock, swap, and what becomes of the partial when the stage fails.
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
from typing import Callable, Iterator, Union

from pipeline.io.atomic import WRITE_ERRNOS, cannot_write
from pipeline.io.errors import Interrupted, PruneError, WriteFailed


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
    if _holds_files(path):
        raise PruneError(f"{flag} {path} is a folder that is not a {what} and is not empty; "
                         f"prune never replaces it (not even with --force): choose another {flag}")
    return None


def _holds_files(path: Path) -> bool:
    """Whether anything but empty folders lies under ``path`` (a tree of empty folders holds nothing to lose)."""
    for p in path.rglob("*"):
        if p.is_symlink() or not p.is_dir():
            return True
    return False


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


# ---------------------------------------------------------------- a stage writing a folder


class Staged:
    """A result folder under way: claimed, written in a hidden partial sibling, swapped into place at the end.

    Made by :func:`staged`. Used as a context manager it yields the partial
    folder; :meth:`open`, :meth:`commit` and :meth:`discard` do the same steps
    for a writer whose work does not fit in one ``with`` block (the Recorder).
    """

    def __init__(self, path: str | os.PathLike, *, what: str, recognise: Callable[[Path], bool], force: bool,
                 flag: str, keep_on_interrupt: bool = False, hint: str | None = None,
                 resumable: Union[bool, Callable[[Path], bool]] = False):
        self.path = Path(path)
        self.claim = claim_folder(self.path, what=what, recognise=recognise, force=force, flag=flag)
        self.recognise, self.force = recognise, force
        self.keep_on_interrupt, self.hint, self.resumable = keep_on_interrupt, hint, resumable
        self.partial: Path | None = None
        self.resumed = False  # the partial is an interrupted one taken over: it is never removed
        self._lock: int | None = None

    def open(self, partial: Path | None = None, lock: int | None = None) -> Path:
        """Make the partial folder and hold its lock (once; later calls return it); returns its path.

        With ``partial``: take over that unfinished folder to finish it (with
        ``lock``, its lock already held, which this object now owns).
        """
        if self.partial is not None:
            if partial is not None and Path(partial) != self.partial:
                raise ValueError(f"{self.path} is already being written in {self.partial}")
            return self.partial
        if partial is not None:
            self.partial, self.resumed = Path(partial), True
            self._lock = hold(self.partial) if lock is None else lock
            return self.partial
        new = partial_folder(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new.mkdir()
        except OSError as err:  # a read-only file system, a full disk, a file where a folder should be
            if isinstance(err, (FileExistsError, NotADirectoryError)):
                raise PruneError(f"cannot write the result {self.path}: {_why_not(self.path, err)}") from None
            from pipeline.io.atomic import cannot_write

            raise cannot_write(self.path, err) from None
        self.partial = new
        try:
            self._lock = hold(new)  # `prune clean` and --resume leave it alone while this process runs
        except BaseException:
            self.discard()
            raise
        return new

    def commit(self) -> Path:
        """Swap the partial into place (the target checked again, under its lock); returns the target.

        If the target changed meanwhile, the partial is kept and the error names it.
        """
        try:
            swap_into_place(self.partial, self.claim, self.recognise, self.force)
        finally:
            self.release()
        return self.path

    def discard(self) -> None:
        """Remove the partial (the target is left as it was)."""
        if self.partial is not None:
            shutil.rmtree(self.partial, ignore_errors=True)
        self.release()

    def release(self) -> None:
        """Let go of the partial's lock (closing it twice is harmless)."""
        if self._lock is not None:
            try:
                os.close(self._lock)
            except OSError:
                pass
            self._lock = None

    def _can_resume(self) -> bool:
        if callable(self.resumable):
            return bool(self.resumable(self.partial))
        return bool(self.resumable)

    def __enter__(self) -> Path:
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.commit()
            return False
        if issubclass(exc_type, KeyboardInterrupt):  # Ctrl-C or SIGTERM
            if self.keep_on_interrupt or self.resumed:
                self.release()
                raise Interrupted.of(exc).with_kept(self.partial, self.hint) from None
            self.discard()
            return False
        # bad input (PruneError): nothing worth keeping; a write that failed (a disk that filled mid-run) or any
        # other failure: kept only if it can be resumed
        if issubclass(exc_type, OSError) and exc.errno in WRITE_ERRNOS:  # a Zarr chunk or a dynamics file
            exc_type, exc = WriteFailed, cannot_write(exc.filename or "a file", exc)
        if issubclass(exc_type, WriteFailed) and (self.resumed or self._can_resume()):
            self.release()
            raise WriteFailed(f"{exc}; the unfinished result is kept in {self.partial}"
                              + (f": {self.hint}" if self.hint else "")) from None
        if self.resumed or (not issubclass(exc_type, PruneError) and self._can_resume()):
            self.release()
            return False
        self.discard()
        if issubclass(exc_type, WriteFailed) and self.partial is not None:  # name the result, not the hidden folder
            raise WriteFailed(str(exc).replace(str(self.partial), str(self.path))) from None
        return False


def _why_not(path: Path, err: OSError) -> str:
    """Why a folder cannot be made at ``path``, in words ("File exists" for a file above it says little)."""
    if isinstance(err, (FileExistsError, NotADirectoryError)):
        for above in path.parents:
            if above.exists() or above.is_symlink():
                if not above.is_dir():
                    return f"{above} is a file, not a folder"
                break
    return err.strerror or str(err)


def staged(path: str | os.PathLike, *, what: str, recognise: Callable[[Path], bool], force: bool, flag: str,
           keep_on_interrupt: bool = False, hint: str | None = None,
           resumable: Union[bool, Callable[[Path], bool]] = False) -> Staged:
    """Write the result folder ``path`` the safe way; ``with staged(...) as partial:`` writes into ``partial``.

    The target is claimed at once (:func:`claim_folder`: one line if it may
    not become a ``what``, ``force`` to replace one); the hidden partial
    sibling is made, and its lock held, on entering the block (or by
    ``.open()``). When the block ends:

    - normally: the partial is swapped into place (:func:`swap_into_place`);
    - with a ``PruneError``: the partial is removed, the target untouched;
    - with ``KeyboardInterrupt`` (Ctrl-C, SIGTERM): with ``keep_on_interrupt``
      the partial is kept and an :class:`Interrupted` names it, with ``hint``
      (how to go on); otherwise it is removed;
    - with any other error: removed, unless ``resumable`` (a bool, or a test
      of the partial folder) says it holds work to go on from.

    A partial taken over with ``.open(partial)`` (a resumed one) is never removed.
    An OSError making the partial (read-only file system, no space, not a
    folder) is one ``PruneError`` line naming ``path``.
    """
    return Staged(path, what=what, recognise=recognise, force=force, flag=flag, keep_on_interrupt=keep_on_interrupt,
                  hint=hint, resumable=resumable)


# ---------------------------------------------------------------- unfinished (partial) folders

PARTIAL_MARK = ".partial-"
TRASH_MARK = ".old-"


def hold(partial: Path) -> int:
    """Take an exclusive lock on ``partial`` for as long as this process writes it; returns the descriptor.

    ``prune clean`` and ``--resume`` skip a partial folder whose lock is held:
    it belongs to a process that is still running. The lock goes with the
    process (closing the descriptor, or dying, releases it).
    """
    fd = os.open(partial, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise PruneError(f"{partial} is being written by another running process; wait for it or stop it first") from None
    return fd


def in_use(folder: Path) -> bool:
    """Whether a running process holds ``folder``'s lock (see :func:`hold`)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def partials_of(target: Path) -> list[Path]:
    """The unfinished folders of ``target`` (``.NAME.partial-*`` beside it), newest first."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    prefix = f".{target.name}{PARTIAL_MARK}"
    found = [p for p in target.parent.iterdir() if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()]
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


@dataclass(frozen=True)
class Leftover:
    """A folder prune left behind: an unfinished result (partial) or an old result not yet deleted (old)."""

    path: Path
    kind: str  # "partial" or "old"
    target: Path  # the result folder it belongs to
    bytes: int
    mtime: float
    busy: bool  # a running process holds it


def leftovers(root: Path, depth: int = 8) -> list[Leftover]:
    """Every ``.NAME.partial-*`` / ``.NAME.old-*`` folder under ``root`` (not inside one), up to ``depth`` levels
    (a sweep cell's training lies 6 below the runs' folder: runs/RUN/sweeps/NAME/cells/CELL/seed=S)."""
    out: list[Leftover] = []

    def walk(folder: Path, level: int) -> None:
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            return
        for p in entries:
            if not p.is_dir() or p.is_symlink():
                continue
            kind = next((k for k, mark in (("partial", PARTIAL_MARK), ("old", TRASH_MARK))
                         if p.name.startswith(".") and mark in p.name), None)
            if kind is not None:
                mark = PARTIAL_MARK if kind == "partial" else TRASH_MARK
                target = p.parent / p.name[1:p.name.rindex(mark)]
                size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink())
                out.append(Leftover(p, kind, target, size, p.stat().st_mtime, in_use(p)))
            elif level < depth:
                walk(p, level + 1)

    walk(Path(root), 0)
    return out
