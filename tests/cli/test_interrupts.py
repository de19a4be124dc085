"""SIGTERM stops a stage as Ctrl-C does; an interrupted record/train keeps its unfinished folder; `prune clean`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io.folders import hold, partials_of

runner = CliRunner()
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# small batches and many epochs: the signal must arrive mid-training even when this test process is starved
# for seconds on a loaded machine (40 epochs finish in about 6 s on one core: a CI run once saw the recording
# finish before its SIGINT, leaving no partial to check); nothing here runs to the end
SLOW = ["--data", "digits", "--epochs", "400", "--batch-size", "8", "--device", "cpu"]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def _wait_for(cond, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.05)


def _interrupt_record(target: Path, sig: int) -> tuple[int, str, Path]:
    proc = _start("record", *SLOW, "--run", str(target))

    def started() -> bool:  # the first epoch is under way: its initial checkpoint is written
        ps = partials_of(target)
        return bool(ps) and (ps[0] / "checkpoints" / "init=0" / "epoch=0.pt").exists()

    _wait_for(started)
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    kept = partials_of(target)
    assert kept, f"no partial after the signal: exit {proc.returncode}, stderr {err!r}, beside it {sorted(os.listdir(target.parent))}"
    return proc.returncode, err, kept[0]


@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_stops_record_in_one_line_and_keeps_the_partial(tmp_path, sig, code, word):
    target = tmp_path / "runs" / "r"
    rc, err, partial = _interrupt_record(target, sig)
    # exit 128+N, or death by the signal itself (CPython re-raises SIGINT at exit in some timings): a shell
    # reports both as $? = 128+N; which one comes is not yet pinned down (about 1 run in 4 for SIGINT)
    assert rc in (code, -sig), err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith(word), err
    assert str(partial) in err and "prune clean" in err
    assert not target.exists() and partial.is_dir()
    assert (partial / "checkpoints" / "init=0" / "epoch=0.pt").exists()  # what was done is still there


def test_sigterm_stops_train_and_keeps_its_partial(tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["record", "--data", "digits", "--epochs", "1", "--checkpoints", "final", "--device",
                               "cpu", "--run", str(run)]).exit_code == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    out = run / "train" / "slow"
    proc = _start("train", "--run", str(run), "--epochs", "400", "--batch-size", "8", "--device", "cpu", "--name", "slow")
    _wait_for(lambda: bool(partials_of(out)))
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.count("\n") == 1 and str(partials_of(out)[0]) in err and "Traceback" not in err
    assert not out.exists()
    assert {p: p.read_bytes() for p in before} == before  # the run itself untouched


def test_clean_lists_then_removes_stale_partials_but_not_busy_ones(tmp_path):
    parent = tmp_path / "runs"
    stale = parent / ".r.partial-0000aaaa"
    (stale / "dynamics").mkdir(parents=True)
    (stale / "dynamics" / "x.parquet").write_bytes(b"x" * 2048)
    old = parent / "r" / "train" / ".keep.old-1234abcd"
    old.mkdir(parents=True)
    busy = parent / ".s.partial-0000bbbb"
    busy.mkdir()
    mine = parent / "r" / "notes.partial-x"  # not hidden: not prune's
    mine.mkdir()
    cell = parent / "r" / "sweeps" / "s" / "cells" / "random-none-r0.5" / "seed=0" / ".train.partial-0000cccc"
    cell.mkdir(parents=True)  # a killed sweep cell's training: six folders down
    fd = hold(busy)  # as a running record would
    try:
        res = runner.invoke(app, ["clean", "--run-parent", str(parent)])
        assert res.exit_code == 0, res.output
        assert str(stale) in res.output and str(old) in res.output and str(busy) in res.output
        assert str(cell) in res.output
        assert "in use" in res.output and "pass --yes" in res.output and str(mine) not in res.output
        assert stale.exists() and old.exists()
        res = runner.invoke(app, ["clean", "--run-parent", str(parent), "--yes"])
        assert res.exit_code == 0, res.output
        assert not stale.exists() and not old.exists() and not cell.exists()
        assert busy.exists() and mine.exists()
        assert "removed 3 folder(s)" in res.output
    finally:
        os.close(fd)
    res = runner.invoke(app, ["clean", "--run-parent", str(parent / "nothing")])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
