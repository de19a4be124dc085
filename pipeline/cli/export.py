"""`prune export`: the command line of this stage."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.cliutil import say, stage_app, user_errors

app = stage_app("export", "Turn a manifest of an image-folder data set into a smaller image folder (or a file list).")


@app.callback()
@user_errors
def export_cmd(
    manifest: Path = typer.Option(Path("keep.parquet"), "--manifest", help="Manifest from `prune select` on a run of a file-backed data set (it lists each kept sample's file)."),
    to: Path = typer.Option(..., "--to", help="Folder to create (train/<class>/<file> of the kept samples, plus val/), or with --mode list the text file to write."),
    mode: str = typer.Option("symlink", "--mode", help="symlink: link each file (fast, no extra disk); copy: copy them (a self-contained folder); list: write one absolute path per line."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="The data set's folder (default: the one the manifest's run was recorded from)."),
    force: bool = typer.Option(False, "--force", metavar="", help="Replace an earlier export in --to (never any other folder); with --mode list, replace the file --to names."),
):
    """Materialise the kept training samples as files: the smaller training set, usable by any tool."""
    from pipeline.export.run import export

    export(manifest=manifest, to=to, mode=mode, data_dir=data_dir, force=force, log=say)
