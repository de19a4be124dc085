"""`prune train --resume`: a training killed mid-run continues from its last finished epoch to the same result."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cli_helpers import error_line, prune

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r = tmp_path_factory.mktemp("tr") / "run"
    prune("record", "--run", r, "--data", "digits", "--epochs", "1")
    return r


def _kill_after_epoch(args: list[str], target: Path, epoch: int, seed_dir: str = "") -> None:
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "train", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    t0 = time.monotonic()
    while True:
        assert proc.poll() is None, "the training finished before it could be killed"
        assert time.monotonic() - t0 < 300
        states = glob.glob(str(target.parent / f".{target.name}.partial-*" / seed_dir / "resume.pt"))
        if states:
            try:
                if torch.load(states[0], weights_only=True)["fit"]["epoch"] >= epoch:
                    break
            except Exception:  # replaced while read: poll again
                pass
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def _sub(*args: str) -> str:
    """`prune ARGS` in a subprocess with one torch thread, as the killed one ran: CPU results depend on the thread count."""
    res = subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)], capture_output=True, text=True,
                         env=ENV, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def _same(a: Path, b: Path) -> None:
    assert (a / "history.parquet").read_bytes() == (b / "history.parquet").read_bytes()
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    for m in (ma, mb):
        m.pop("seconds")
    assert ma == mb


def test_a_killed_training_resumes_to_the_same_result(run):
    args = ["--run", str(run), "--epochs", "12", "--batch-size", "16"]
    _sub("train", *args, "--name", "whole")
    target = run / "train" / "cut"
    _kill_after_epoch([*args, "--name", "cut"], target, epoch=3)
    assert not target.exists()
    out = _sub("train", "--run", run, "--name", "cut", "--resume")
    assert "resuming after epoch" in out and "epoch   1/12" not in out
    _same(run / "train" / "whole", target)
    assert not list(target.parent.glob(".cut.partial-*")) and not (target / "resume.pt").exists()
    assert not (target / "train_args.json").exists()


def test_resume_with_seeds_skips_the_finished_ones(run):
    args = ["--run", str(run), "--epochs", "6", "--batch-size", "16", "--seeds", "0,1"]
    _sub("train", *args, "--name", "all")
    target = run / "train" / "cut2"
    _kill_after_epoch([*args, "--name", "cut2"], target, epoch=2, seed_dir="seed=1")
    out = _sub("train", "--run", run, "--name", "cut2", "--resume")
    assert "seed 0: finished before the interrupt" in out
    for sd in ("seed=0", "seed=1"):
        _same(run / "train" / "all" / sd, target / sd)


def test_nothing_to_resume_is_one_line(run):
    assert "no interrupted training" in error_line(prune("train", "--run", run, "--name", "nothing", "--resume", ok=False))


@pytest.mark.parametrize("rule", ["infobatch", "rs2", "rcap", "aum+ccs"])
def test_a_killed_dynamic_training_resumes_with_its_plan(run, rule):
    extra = ["--every", "2", "--warmup", "2"] if "+" in rule else []
    name = rule.replace("+", "_")
    args = ["--run", str(run), "--epochs", "8", "--batch-size", "16", "--dynamic", rule, "--rate", "0.5", *extra]
    _sub("train", *args, "--name", f"{name}-whole")
    target = run / "train" / f"{name}-cut"
    _kill_after_epoch([*args, "--name", f"{name}-cut"], target, epoch=3)
    out = _sub("train", "--run", run, "--name", f"{name}-cut", "--resume")
    assert "resuming after epoch" in out
    whole = run / "train" / f"{name}-whole"
    _same(whole, target)
    # the plan's own record of what each epoch trained on continues where it stopped
    assert (whole / "samples.parquet").read_bytes() == (target / "samples.parquet").read_bytes()
