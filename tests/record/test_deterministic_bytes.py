"""Same inputs and seed give byte-identical artifacts; timings and command lines live in log files beside them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()
RECORD = ["record", "--data", "digits", "--epochs", "2", "--checkpoints", "0,final", "--device", "cpu", "--seed", "3"]


def _ok(*args: str) -> None:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output


def _digests(folder: Path, skip=("log.json",)) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(skip)}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_recording_twice_gives_the_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _ok(*RECORD, "--run", str(a))
    _ok(*RECORD, "--run", str(b))
    da, db = _digests(a), _digests(b)
    assert "run.json" in da and any(k.endswith(".pt") for k in da) and any(k.startswith("dynamics") for k in da)
    assert da == db
    log = json.loads((a / "log.json").read_text())
    assert set(log) >= {"seconds", "command"}  # the timing and the command line, kept apart
    info = json.loads((a / "run.json").read_text())
    assert "seconds" not in info and "command" not in info


def test_scoring_and_selecting_twice_gives_the_same_bytes(tmp_path):
    run = tmp_path / "run"
    _ok(*RECORD, "--run", str(run))
    for method in ("aum", "tdds"):
        extra = ["--window", "2"] if method == "tdds" else []
        table = run / "scores" / f"{method}.parquet"
        _ok("score", "--run", str(run), "--method", method, *extra)
        first = _sha(table)
        _ok("score", "--run", str(run), "--method", method, *extra)
        assert _sha(table) == first
        assert "seconds" in json.loads((run / "scores" / f"{method}.log.json").read_text())
    _ok("score", "--run", str(run), "--all", "--window", "2")
    assert _sha(run / "scores" / "tdds.parquet") == first  # --all writes the same table as --method tdds
    for method, quota in (("ccs", "none"), ("random", "drop")):
        digests = set()
        for _ in range(2):
            out = tmp_path / f"keep-{method}.parquet"
            _ok("select", "--run", str(run), "--scores", str(run / "scores" / "tdds.parquet"), "--method", method,
                "--quota", quota, "--rate", "0.4", "--out", str(out))
            digests.add(_sha(out))
        assert len(digests) == 1
