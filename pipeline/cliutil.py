"""Shared pieces of the stage command lines: error handling and common options."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from pathlib import Path

import typer
from typer.core import TyperCommand, TyperGroup

from pipeline.io.errors import Interrupted, PruneError

DEFAULT_RUN = Path("runs/default")
CONTEXT = {"help_option_names": ["-h", "--help"]}


class _FlagHelp:
    """``-h/--help`` is a flag: shown without a ``<bool>`` type, like every other flag of prune."""

    def get_help_option(self, ctx):
        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.metavar = ""
        return opt


class Group(_FlagHelp, TyperGroup):
    """The click group of every prune app (``typer.Typer(cls=Group)``)."""


class Command(_FlagHelp, TyperCommand):
    """The click command of every ``@app.command`` of prune."""


def stage_app(name: str, help: str, cls: type[Group] = Group) -> typer.Typer:
    """A stage's sub-app: its options live on the callback, so `prune NAME --opt` works.

    ``cls``: a :class:`Group` subclass, e.g. one whose help is written from a registry when it is shown.
    """
    return typer.Typer(name=name, help=help, invoke_without_command=True, add_completion=False, subcommand_metavar="",
                       pretty_exceptions_enable=False, context_settings=CONTEXT, cls=cls)


def say(msg: str) -> None:
    """One line to stdout (from rank 0 only when torchrun started several processes)."""
    if _main_process():
        typer.echo(msg)


def user_errors(fn):
    """Bad input ends in one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with sigterm_as_interrupt():
                check_text(kwargs)
                return fn(*args, **kwargs)
        except PruneError as err:
            if _main_process():  # under torchrun every rank stops the same way; one of them says why
                typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as err:
            stop = Interrupted.of(err)
            typer.echo(stop.line(), err=True)
            raise typer.Exit(stop.exit_code) from None
        except OSError as err:
            # a write that failed below io's writers (a Zarr chunk, a dynamics file): still one line
            from pipeline.io.atomic import WRITE_ERRNOS, cannot_write

            if err.errno not in WRITE_ERRNOS:
                raise
            if _main_process():
                typer.echo(f"error: {cannot_write(err.filename or 'a file', err)}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def option_value(text: str):
    """A ``KEY=VALUE`` option's value as typed on the command line: true/false, an int, a float, else the text."""
    v = text.strip()
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def _main_process() -> bool:
    """Rank 0 under torchrun, or the only process."""
    import os

    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM (timeout, Slurm, docker stop, Kubernetes) stops a command as Ctrl-C does: the same cleanup, one line.

    The handler raises once and then restores the previous one, so a second
    SIGTERM during the cleanup ends the process at once (the stages keep
    their unfinished folder, so nothing is lost either way).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, previous)
        raise Interrupted("SIGTERM")

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_text(options: dict) -> None:
    """Refuse an option whose value is not valid UTF-8 (a file name in another encoding).

    Every artifact stores paths and names as UTF-8 text (JSON, Parquet
    metadata), so such a value could not be written; it is named, escaped, up front.
    """
    for key, value in options.items():
        if isinstance(value, (str, Path)):
            text = str(value)
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                raise PruneError(f"--{key.replace('_', '-')} {shown} is not valid UTF-8 (prune stores paths and names as "
                                 "UTF-8 text); rename it or choose another") from None


RunOpt = typer.Option(DEFAULT_RUN, "--run", help="Run folder: where `prune record` writes and the later stages read.")
SeedOpt = typer.Option(0, "--seed", help="Seed of all randomness in this stage (the model's init, the order of the batches, any sampling).")
#: ``prune select``'s seed: it trains nothing, so it seeds the selection alone
SelectSeedOpt = typer.Option(0, "--seed", help="Seed of the selection's randomness (random subsets, CCS's draws inside a stratum); the same seed keeps the same samples.")
_PRECISION = ("Training forward pass: fp32 (default), bf16 (autocast to bfloat16; CPUs and recent GPUs) or fp16 "
              "(autocast with loss scaling; CUDA only).")
PrecisionOpt = typer.Option(None, "--precision", help=_PRECISION)
#: ``prune record``'s: what it keeps of the logits is --logits's, whatever the precision of the forward pass
RecordPrecisionOpt = typer.Option(None, "--precision", help=_PRECISION + " The recorded logits keep the dtype --logits gives.")
DeviceOpt = typer.Option("auto", "--device", help="Where to train: auto (a GPU if there is one), cpu, cuda or cuda:N.")


QuietOpt = typer.Option(False, "--quiet", metavar="", help="Print only the results: no per-epoch lines or progress bars.")
ThreadsOpt = typer.Option(None, "--threads", min=1, metavar="<int>", help="CPU threads torch may use (default: torch's choice, or "
                          "OMP_NUM_THREADS). Running several trainings at once, give each the cores divided by their "
                          "number: oversubscribed cores run many times slower. CPU results depend on it.")


def console(*, quiet: bool = False, threads: int | None = None) -> None:
    """Apply a stage's --quiet and --threads: how progress shows (bars in a terminal, lines in a log) and torch's threads."""
    from pipeline.engine import progress

    progress.configure(quiet=quiet or not _main_process())
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
