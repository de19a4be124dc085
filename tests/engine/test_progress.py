"""Progress of long stages: plain epoch lines in a log, a bar in a terminal, nothing with --quiet; --threads."""

from __future__ import annotations

import io

import numpy as np

import pytest
import torch

from pipeline.engine import progress
from cli_helpers import prune


@pytest.fixture(autouse=True)
def lines_mode():
    yield
    progress.configure(quiet=False, terminal=False)


def test_the_mode_follows_quiet_and_the_terminal():
    assert progress.configure(quiet=True, terminal=True) == "off"
    assert progress.configure(quiet=False, terminal=True) == "bar"
    assert progress.configure(quiet=False, terminal=False) == "lines"


def test_lines_mode_prints_each_epoch_and_long_epochs_within(monkeypatch):
    progress.configure(terminal=False)
    monkeypatch.setattr(progress, "LINE_EVERY_S", 0.0)
    out: list[str] = []
    with progress.EpochProgress("init 0 ", 2, out.append) as bar:
        for done in range(1, 5):
            bar.step(done, 4)
        bar.epoch("init 0 epoch 1/2")
    # a line after batches 2 and 3 of 4 (not after the first, which starts the clock, nor the last)
    assert [ln.split(" of the epoch")[0] for ln in out[:-1]] == ["init 0   batch 2/4", "init 0   batch 3/4"]
    assert out[-1] == "init 0 epoch 1/2"


def test_off_mode_prints_nothing():
    progress.configure(quiet=True)
    out: list[str] = []
    with progress.EpochProgress("", 3, out.append) as bar:
        bar.step(1, 1)
        bar.epoch("epoch 1/3")
    assert out == []


def test_bar_mode_draws_a_bar_and_keeps_the_epoch_lines():
    progress.configure(terminal=True)
    out: list[str] = []
    bar = progress.EpochProgress("", 2, out.append)
    buf = io.StringIO()
    bar.bar.console.file = buf
    bar.step(1, 2)
    bar.epoch("epoch 1/2  val acc 0.5")
    bar.close()
    assert out == [] and "epoch 1/2  val acc 0.5" in buf.getvalue()
    assert bar.bar is None  # closed


def test_quiet_and_threads_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = torch.get_num_threads()
    try:
        res = prune("record", "--data", "digits", "--epochs", "2", "--batch-size", "256", "--checkpoints", "final",
                    "--quiet", "--threads", "1")
        assert "epoch" not in res.output.replace("2 epochs", "") and "recorded run" in res.output
        assert torch.get_num_threads() == 1
        res = prune("train", "--epochs", "2", "--threads", "1")
        assert res.output.count("epoch   ") == 2  # one line per epoch when stdout is not a terminal
        assert "--threads" in prune("rounds", "--help").output and "--quiet" in prune("train", "--help").output
    finally:
        torch.set_num_threads(before)


def test_scoring_reports_its_pass_over_the_logits_in_a_log(tmp_path, monkeypatch):
    from pipeline.io import open_run
    from pipeline.score.base import LogitsPlan
    from pipeline.score.stream import run_plans

    monkeypatch.chdir(tmp_path)
    prune("record", "--data", "digits", "--epochs", "2", "--batch-size", "256", "--checkpoints", "final", "--quiet")
    r = open_run("runs/default")
    monkeypatch.setattr(progress, "LINE_EVERY_S", 0.0)
    monkeypatch.setattr(type(r), "iter_logits", lambda self, source, epochs: (
        (a, min(a + 500, self.n), np.zeros((1, 2, min(a + 500, self.n) - a, 10), np.float32))
        for a in range(0, self.n, 500)))
    progress.configure(terminal=False)
    out: list[str] = []
    (values, _), = run_plans(r, [LogitsPlan("logits", range(0, 2), lambda block, y: block.sum(axis=(0, 1, 3)))],
                             out.append)
    assert values.shape == (1438,) and (values == 0).all()
    assert [ln.split(",")[0] for ln in out] == ["scoring from logits: 500/1438 samples",
                                                "scoring from logits: 1000/1438 samples"]
    assert all(ln.endswith(" left") for ln in out)
