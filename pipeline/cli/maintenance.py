"""`prune clean`: list the unfinished folders that interrupted stages kept, and remove them with --yes."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import typer

from pipeline.cliutil import CONTEXT, Group, say, user_errors
from pipeline.io.errors import PruneError

clean_app = typer.Typer(name="clean", help="List the unfinished folders interrupted runs kept (.NAME.partial-*); remove them with --yes.",
                        invoke_without_command=True, add_completion=False, subcommand_metavar="",
                        pretty_exceptions_enable=False, context_settings=CONTEXT, cls=Group)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _age(mtime: float) -> str:
    s = max(0.0, time.time() - mtime)
    return f"{s / 86400:.1f} days" if s >= 86400 else f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"


@clean_app.callback()
@user_errors
def clean_cmd(
    run_parent: Path = typer.Option(Path("runs"), "--run-parent", help="Folder searched (with the folders below it, "
                                    "e.g. each run's train/) for unfinished folders."),
    yes: bool = typer.Option(False, "--yes", metavar="", help="Remove the folders listed (without it, only list them)."),
):
    """Unfinished results (``.NAME.partial-*``, kept by an interrupted record or train; `prune record --resume`
    continues one) and old results a crash left during a swap (``.NAME.old-*``). A folder a running process
    holds is listed as in use and never removed."""
    from pipeline.io.folders import leftovers

    if not run_parent.is_dir():
        raise PruneError(f"--run-parent {run_parent} is not a folder")
    found = leftovers(run_parent)
    if not found:
        say(f"no unfinished folders under {run_parent}")
        return
    removed = freed = 0
    for f in found:
        what = "unfinished" if f.kind == "partial" else "old result"
        note = "  (in use by a running process: kept)" if f.busy else ""
        say(f"{f.path}  {what} of {f.target}  {_size(f.bytes)}  {_age(f.mtime)} old{note}")
        if yes and not f.busy:
            shutil.rmtree(f.path)
            removed += 1
            freed += f.bytes
    if yes:
        say(f"removed {removed} folder(s), {_size(freed)}")
    else:
        say(f"{len(found)} folder(s); pass --yes to remove them")


check_app = typer.Typer(name="check", help="Verify a recorded run's files against the checksums written when it was recorded.",
                        invoke_without_command=True, add_completion=False, subcommand_metavar="",
                        pretty_exceptions_enable=False, context_settings=CONTEXT, cls=Group)


@check_app.callback()
@user_errors
def check_cmd(
    run: Path = typer.Option(Path("runs/default"), "--run", help="The run folder to check (the files `prune record` wrote)."),
):
    """Re-hash every file the recording wrote (logits chunks, dynamics, eval.parquet, checkpoints) and compare with
    RUN/checksums.json; exit 0 when all match, 1 naming each changed, missing or unexpected file."""
    from pipeline.io.checksums import verify
    from pipeline.io.run import open_run

    open_run(run)  # one line for a missing or unfinished run, or a damaged run.json
    rep = verify(run)
    for rel in rep.changed:
        say(f"changed: {run / rel}")
    for rel in rep.missing:
        say(f"missing: {run / rel}")
    for rel in rep.extra:
        say(f"unexpected: {run / rel} (not written by the recording)")
    if rep.ok:
        say(f"ok: {rep.checked} files, {_size(rep.bytes)}, match {run / 'checksums.json'}")
        return
    say(f"{run} is damaged: {len(rep.changed)} changed, {len(rep.missing)} missing, {len(rep.extra)} unexpected "
        f"file(s) of {rep.checked + len(rep.missing)}; record the run again")
    raise typer.Exit(1)
