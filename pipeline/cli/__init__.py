"""The ``prune`` command line: the root app, one module per stage's command (``pipeline/cli/<stage>.py``),
and the demo. The command line is the top floor: it builds each stage's spec from the user's words, through
the stages or the API.

Heavy libraries (torch, torchvision, zarr) are imported inside the commands
that need them, so ``prune --help`` and ``prune select`` start instantly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

import pipeline.api  # noqa: F401 - registers the SCORE+SAMPLER dynamic rules (no torch, no score or select import)
from pipeline.cliutil import CONTEXT, Command, DeviceOpt, Group, say, user_errors
from pipeline.cli.export import app as export_app
from pipeline.cli.record import app as record_app
from pipeline.cli.report import app as report_app
from pipeline.cli.rounds import app as rounds_app
from pipeline.cli.score import app as score_app
from pipeline.cli.select import app as select_app
from pipeline.cli.sweep import app as sweep_app
from pipeline.cli.train import app as train_app

app = typer.Typer(
    name="prune",
    help="Data pruning from recorded training dynamics.\n\n"
    "record → score → select → train: record a query model's per-sample dynamics once, "
    "then score, select and train on subsets as often as you like.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    cls=Group,
)
for sub in (record_app, score_app, select_app, train_app, rounds_app, export_app, sweep_app, report_app):
    app.add_typer(sub)


from pipeline.cli.maintenance import check_app, clean_app  # noqa: E402

app.add_typer(clean_app)
app.add_typer(check_app)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"prune {version('prune-data')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("prune (not installed: no version)")
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", metavar="", callback=_version, is_eager=True,
                                      help="Print prune's version and exit.")) -> None:
    """Data pruning from recorded training dynamics."""


@app.command("demo", cls=Command)
@user_errors
def demo_cmd(
    run: Path = typer.Option(Path("runs/demo"), "--run", help="Run folder of the demo (replaced if it exists)."),
    rates: str = typer.Option("0.7,0.9", "--rates", help="Pruning rates to compare, comma-separated (at most 10)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs of every training (default: the MNIST-1D auto config)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the recording and the first training seed."),
    seeds: int = typer.Option(3, "--seeds", min=1, max=10, metavar="<int>", help="How many seeds every cell trains "
                              "with (seed, seed+1, …): the table shows mean ± std and whether a gap to random is "
                              "larger than its spread."),
    device: str = DeviceOpt,
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Trainings at a time (default: 2 on two or more cores)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, metavar="<int>", help="torch threads per training (default: the cores divided by --jobs)."),
):
    """Record MNIST-1D, then sweep full data, random and AUM + CCS at each rate over seeds, and write a report."""
    from pipeline.demo import demo

    demo(run=run, rates=rates, epochs=epochs, seed=seed, device=device, jobs=jobs, threads=threads, seeds=seeds,
         log=say)


def main() -> None:
    app()
