"""A stage checks every chunk it reads against checksums.json: a flipped bit in a logits chunk, which decodes to
plausible numbers, stops the score with one line instead of flowing into its table."""

from __future__ import annotations

import pytest

from cli_helpers import error_line, prune


@pytest.fixture
def run(tmp_path):
    d = tmp_path / "run"
    prune("record", "--data", "digits", "--model", "mlp", "--epochs", "2", "--run", d)
    return d


def _flip_a_bit(run):
    chunk = [p for p in sorted((run / "trajectories.zarr" / "logits" / "c").rglob("*")) if p.is_file()][-1]  # last epoch
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x04  # one bit of one float16: still a finite number
    chunk.write_bytes(bytes(raw))
    return chunk.relative_to(run).as_posix()


def test_a_flipped_bit_in_a_logits_chunk_stops_the_score(run, monkeypatch):
    prune("score", "--method", "aum", "--run", run)  # intact: scores
    rel = _flip_a_bit(run)
    line = error_line(prune("score", "--method", "margin", "--run", run, ok=False))
    assert rel in line and "differs from its checksum" in line and "prune check" in line
    monkeypatch.setenv("PRUNE_VERIFY", "0")  # the switch: read it unchecked
    prune("score", "--method", "margin", "--run", run)


def test_a_missing_chunk_is_one_line(run):
    chunk = [p for p in sorted((run / "trajectories.zarr" / "logits" / "c").rglob("*")) if p.is_file()][-1]  # last epoch
    chunk.unlink()
    line = error_line(prune("score", "--method", "margin", "--run", run, ok=False))
    assert "is missing" in line
