"""`prune record --resume`: a recording killed mid-run continues from its last finished epoch, to the same bytes."""

from __future__ import annotations

import glob
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch
import zarr
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _prune(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, env=ENV,
                          timeout=300, **kw)


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "log.json"}


def _kill_after(args: list[str], target: Path, init: int, epoch: int, sig=signal.SIGKILL) -> subprocess.Popen:
    """Start `prune record`, wait until the state after (init, epoch) is saved in its partial folder, then signal it."""
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "record", *args, "--run", str(target)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    t0 = time.monotonic()
    while True:
        assert proc.poll() is None, "the recording finished before it could be killed"
        assert time.monotonic() - t0 < 300
        states = glob.glob(str(target.parent / f".{target.name}.partial-*" / "resume.pt"))
        if states:
            try:
                st = torch.load(states[0], weights_only=True)
                if (st["init"], st["fit"]["epoch"]) >= (init, epoch):
                    break
            except Exception:  # replaced while read: poll again
                pass
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    return proc


def _same_run(a: Path, b: Path) -> None:
    ga, gb = zarr.open_group(str(a / "trajectories.zarr"), mode="r"), zarr.open_group(str(b / "trajectories.zarr"), mode="r")
    for name in ga.array_keys():
        assert np.array_equal(ga[name][:], gb[name][:], equal_nan=True), name
    da = pl.scan_parquet(a / "dynamics", hive_partitioning=True).collect().sort("init", "epoch", "sample")
    db = pl.scan_parquet(b / "dynamics", hive_partitioning=True).collect().sort("init", "epoch", "sample")
    assert da.equals(db)
    assert _digests(a) == _digests(b)  # and every other file, byte for byte (log.json apart)


def test_sigkill_then_resume_gives_the_uninterrupted_run(tmp_path):
    args = ["--data", "digits", "--epochs", "6", "--batch-size", "8", "--device", "cpu"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _prune("record", *args, "--run", str(full)).returncode == 0
    proc = _kill_after(args, cut, 0, 2)
    assert proc.returncode == -signal.SIGKILL
    assert not cut.exists()
    res = _prune("record", "--resume", "--run", str(cut))
    assert res.returncode == 0, res.stderr
    assert "resuming" in res.stdout
    _same_run(full, cut)
    assert not list(tmp_path.glob(".cut.partial-*"))  # swapped into place
    assert not (cut / "resume.pt").exists()


def test_sigterm_in_the_second_init_then_resume(tmp_path):
    """Interrupted in init 1 (with the eval pass and embeddings): init 0 is not redone, the run is the same."""
    args = ["--data", "digits", "--epochs", "3", "--inits", "2", "--eval-pass", "--embeddings", "0,final",
            "--batch-size", "8", "--device", "cpu"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _prune("record", *args, "--run", str(full)).returncode == 0
    proc = _kill_after(args, cut, 1, 0, signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.returncode == 143, err
    assert err.count("\n") == 1 and "prune record --resume --run" in err and "Traceback" not in err
    res = _prune("record", "--resume", "--run", str(cut))
    assert res.returncode == 0, res.stderr
    assert "init 0 epoch" not in res.stdout  # only init 1 trained again
    _same_run(full, cut)


def test_resume_without_an_interrupted_recording_is_one_line(tmp_path):
    res = runner.invoke(app, ["record", "--resume", "--run", str(tmp_path / "none")])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "no interrupted recording" in res.stderr


def test_sigkill_inside_the_checksum_step_is_resumable(tmp_path):
    """The last step before the swap hashes every file (minutes on a large run): a kill there loses nothing."""
    args = ["--data", "digits", "--epochs", "3", "--batch-size", "8", "--device", "cpu"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _prune("record", *args, "--run", str(full)).returncode == 0
    # the recording kills itself the moment it starts hashing: every epoch is written, run.json is not
    killer = ("import os, signal, sys; import pipeline.io.checksums as c; "
              "c.write_checksums = lambda run: os.kill(os.getpid(), signal.SIGKILL); "
              "from pipeline.cli import main; sys.argv = ['prune', *sys.argv[1:]]; main()")
    proc = subprocess.run([sys.executable, "-c", killer, "record", *args, "--run", str(cut)], capture_output=True,
                          text=True, env=ENV, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not cut.exists()
    partials = list(tmp_path.glob(".cut.partial-*"))
    assert len(partials) == 1 and (partials[0] / "resume.pt").exists()
    res = _prune("record", "--resume", "--run", str(cut))
    assert res.returncode == 0, res.stderr
    _same_run(full, cut)
    assert not list(tmp_path.glob(".cut.partial-*"))
    assert not (cut / "resume.pt").exists()
    assert _prune("check", "--run", str(cut)).returncode == 0


def test_a_recording_the_disk_cannot_hold_is_refused_before_training(tmp_path, monkeypatch):
    import shutil as sh

    import pipeline.record.run as R

    real = sh.disk_usage
    monkeypatch.setattr(R.shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    res = runner.invoke(app, ["record", "--data", "digits", "--epochs", "2", "--device", "cpu", "--run",
                              str(tmp_path / "r")])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert "the recording needs about" in lines[0] and "free: free some space" in lines[0]
    assert "or record with --logits none" in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing made, nothing trained
    # the projection against what a recording writes: the logits exactly, dynamics about 34 bytes a sample-epoch
    monkeypatch.setattr(R.shutil, "disk_usage", real)
    assert runner.invoke(app, ["record", "--data", "digits", "--epochs", "2", "--device", "cpu", "--run",
                               str(tmp_path / "r"), "--quiet"]).exit_code == 0
    from pipeline.io import open_run

    r = open_run(tmp_path / "r")
    logits = sum(p.stat().st_size for p in (tmp_path / "r" / "trajectories.zarr" / "logits").rglob("*") if p.is_file())
    assert logits >= r.n * r.epochs * r.num_classes * 2  # float16, uncompressed chunks
    written = logits + sum(p.stat().st_size for p in (tmp_path / "r" / "dynamics").rglob("*.parquet"))
    projected = r.inits * r.epochs * r.n * (r.num_classes * 2 + R.DYNAMICS_BYTES)
    assert 0.5 * written < projected < 2 * written
