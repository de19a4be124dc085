"""`prune check RUN`: every file the recording wrote, against the checksums written with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import error_line, prune


@pytest.fixture()
def run(tmp_path):
    r = tmp_path / "run"
    prune("record", "--run", r, "--data", "digits", "--epochs", "2")
    return r


def test_a_fresh_run_checks_ok(run):
    assert (run / "checksums.json").exists()
    res = prune("check", "--run", run)
    assert res.output.startswith("ok: ") and "files" in res.output


def test_a_flipped_byte_in_a_logits_chunk_is_named(run):
    chunk = sorted(p for p in (run / "trajectories.zarr" / "logits" / "c").rglob("*") if p.is_file())[0]
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01  # decodes to plausible numbers: only a checksum sees it
    chunk.write_bytes(bytes(data))
    res = prune("check", "--run", run, ok=False)
    assert res.exit_code == 1
    rel = chunk.relative_to(run).as_posix()
    assert f"changed: {run / rel}" in res.output and "1 changed, 0 missing" in res.output


def test_missing_and_unexpected_files_are_named(run):
    victim = sorted((run / "dynamics").rglob("*.parquet"))[-1]
    victim.unlink()
    (run / "dynamics" / "stray.parquet").write_bytes(b"x")
    res = prune("check", "--run", run, ok=False)
    assert res.exit_code == 1 and "missing: " in res.output and "unexpected: " in res.output


def test_no_checksums_or_no_run_is_one_line(run, tmp_path):
    (run / "checksums.json").unlink()
    assert "no checksums.json" in error_line(prune("check", "--run", run, ok=False))
    assert "no run at" in error_line(prune("check", "--run", tmp_path / "nothing", ok=False))
    (run / "checksums.json").write_text("[1, 2]")
    assert "damaged" in error_line(prune("check", "--run", run, ok=False))
