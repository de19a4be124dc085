"""What the CLI tests share: one Typer runner and `prune(...)`, which invokes the app and checks the exit code."""

from __future__ import annotations

from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()


def prune(*args: str, ok: bool = True):
    """Run `prune ARGS` in this process; with ``ok`` (default) fail the test on a non-zero exit, showing the output."""
    res = runner.invoke(app, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, res.output + (str(res.exception) if res.exception else "")
    return res


def error_line(res) -> str:
    """The one line a refused command prints (exit 2, no traceback); fails the test otherwise."""
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]
