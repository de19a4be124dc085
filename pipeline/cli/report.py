"""`prune report`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.cliutil import RunOpt, say, stage_app, user_errors

app = stage_app("report", "Write report.md, report.html and PNG figures of a run and its sweep (RUN/report/).")


@app.callback()
@user_errors
def report_cmd(
    run: Path = RunOpt,
    sweep: Optional[str] = typer.Option(None, "--sweep", help="The sweep to report: a name under RUN/sweeps/ or its folder (default: the newest one; none: the run alone)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder to write (default: RUN/report). An earlier report there is replaced; any other non-empty folder is refused."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Pruning rate of the per-class heat map (default: the sweep's highest)."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="Manifest whose kept vs full counts per class to draw (default: a pruned cell of the sweep at --rate)."),
    score: Optional[str] = typer.Option(None, "--score", help="Score table that ranks the hardest and easiest samples shown (default: the sweep's first, else the run's first)."),
):
    """Draw the sweep's accuracy curves, per-class heat map, score distributions, data map and sample pictures."""
    from pipeline.report.run import report

    path = report(run=run, sweep=sweep, out=out, rate=rate, manifest=manifest, score=score, log=say)
    _print_table(path)
    say(f"wrote {path / 'report.html'} and {path / 'report.md'}")


def _print_table(path: Path) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    from pipeline.io import read_json
    from pipeline.report.tables import SYMBOL

    doc = read_json(path / "report.json")
    if "table" not in doc:
        return
    names = [SYMBOL[h] for h in doc.get("hyper") or ["beta"]]
    preset = f", paper % from preset {doc['preset']['name']}" if doc.get("preset") else ""
    t = Table(title=f"{Path(doc['sweep']).name}: test split, {', '.join(names)} chosen by validation accuracy{preset}")
    for i, col in enumerate(doc["table"]["header"]):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in doc["table"]["rows"]:
        t.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 160).print(t)
