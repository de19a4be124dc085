"""Outputs on a real read-only file system and on a real full one (tmpfs mounts): one line, exit 2, nothing damaged.

Permission bits do not stop root, and a check of them is not a check of the write: these mount a tmpfs read-only
or a few kilobytes large and let the commands try. Skipped where mounting is not allowed.
"""

from __future__ import annotations

import subprocess

import pytest

from cli_helpers import error_line, prune


def _mount(path, options: str):
    path.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode().strip() or res.returncode})")
    return path


@pytest.fixture
def mounts(tmp_path):
    made = []

    def mount(name: str, options: str):
        made.append(_mount(tmp_path / name, options))
        return made[-1]

    yield mount
    for p in made:
        subprocess.run(["umount", str(p)], capture_output=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("mounts") / "run"
    prune("record", "--data", "digits", "--model", "mlp", "--epochs", "2", "--run", d)
    prune("score", "--method", "el2n", "--run", d)
    return d


def test_a_read_only_file_system(run, mounts):
    ro = mounts("ro", "ro,size=1m")
    for args in (["score", "--method", "aum", "--run", run, "--out", ro / "aum.parquet"],
                 ["select", "--run", run, "--method", "topk", "--rate", "0.5", "--out", ro / "keep.parquet"],
                 ["record", "--data", "digits", "--model", "mlp", "--epochs", "1", "--run", ro / "r"]):
        line = error_line(prune(*args, ok=False))
        assert str(ro) in line and "read-only" in line.lower(), line


def test_a_full_file_system_keeps_no_half_written_file(run, mounts, tmp_path):
    full = mounts("full", "size=4k")
    (full / "filler").write_bytes(b"x" * 1024)  # what is left is smaller than a score table (about 20 KB)
    res = prune("score", "--method", "aum", "--run", run, "--out", full / "aum.parquet", ok=False)
    assert res.exit_code == 2 and "no space is left" in res.output and "Traceback" not in res.output
    line = error_line(prune("record", "--data", "digits", "--model", "mlp", "--epochs", "1", "--run",
                            full / "r", ok=False))
    assert "space" in line.lower(), line
    assert not any(p.name.endswith(".parquet") for p in full.rglob("*"))  # no damaged artifact left in place
    assert not (full / "r" / "run.json").exists()


def test_a_disk_that_fills_mid_recording_keeps_the_partial_and_resume_finishes_it(mounts, tmp_path, monkeypatch):
    """The free-space check passes (it is switched off here, as when another process fills the disk meanwhile);
    the disk fills after the first epoch: one line that names the kept partial and how to go on; with space freed,
    --resume finishes the recording, byte for byte the one an uninterrupted run writes."""
    import pipeline.record.run as record_run

    args = ["--data", "digits", "--model", "mlp", "--epochs", "6"]
    ref = tmp_path / "ref"
    prune("record", *args, "--run", ref)
    full = mounts("full", "size=1500k")  # holds the first checkpoint and epoch, not the run (about 1.9 MB)
    monkeypatch.setattr(record_run, "check_free_space", lambda run, r: None)
    res = prune("record", *args, "--run", full / "r", ok=False)
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    line = res.output.strip().splitlines()[-1]  # after the header line and the epochs it finished
    assert "no space is left" in line and "the unfinished result is kept in" in line and "--resume" in line, line
    assert not (full / "r").exists() and len(list(full.glob(".r.partial-*/resume.pt"))) == 1
    subprocess.run(["mount", "-o", "remount,size=20m", str(full)], check=True)
    prune("record", "--resume", "--run", full / "r", "--epochs", "6")
    assert (full / "r" / "checksums.json").read_text() == (ref / "checksums.json").read_text()
    assert not list(full.glob(".r.partial-*"))
