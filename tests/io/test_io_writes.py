"""Every write that fails is one line naming the path and what to do, and leaves no temporary behind."""

from __future__ import annotations

import errno
import os

import pytest

from pipeline.io import PruneError
from pipeline.io.atomic import atomic_path, write_json


@pytest.mark.parametrize("code,words", [
    (errno.ENOSPC, "no space is left on the device; free some space, or write elsewhere"),
    (errno.EROFS, "the file system is read-only; write to a writable place"),
    (errno.EACCES, "permission denied; write to a writable place"),
])
def test_a_failed_write_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, code, words):
    def refuse(src, dst):
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PruneError) as err:
        write_json(tmp_path / "out.json", {"a": 1})
    assert str(err.value) == f"cannot write {tmp_path / 'out.json'}: {words}"
    assert list(tmp_path.iterdir()) == []  # no .tmp left, no half file


def test_a_folder_or_a_file_in_the_way(tmp_path):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(PruneError, match=r"cannot write .*adir: a folder stands there; name another path"):
        write_json(tmp_path / "adir", {})
    with pytest.raises(PruneError, match=r"cannot write .*afile: a file stands where a folder is needed"):
        write_json(tmp_path / "afile" / "x.json", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"]
    assert (tmp_path / "afile").read_text() == "mine" and not any((tmp_path / "adir").iterdir())


def test_the_body_of_a_write_failing_is_one_line_too(tmp_path):
    with pytest.raises(PruneError, match="no space is left"):
        with atomic_path(tmp_path / "t.bin") as tmp:
            tmp.write_bytes(b"x")
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert list(tmp_path.iterdir()) == []


def test_outputs_that_cannot_be_written_are_one_line_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    runner = CliRunner()
    run = tmp_path / "run"
    res = runner.invoke(app, ["record", "--data", "digits", "--epochs", "1", "--checkpoints", "final", "--device",
                              "cpu", "--run", str(run), "--quiet"])
    assert res.exit_code == 0, res.output
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("mine")
    for args in (["score", "--method", "el2n", "--out", str(tmp_path / "adir")],
                 ["score", "--method", "el2n", "--out", str(tmp_path / "afile" / "x.parquet")],
                 ["select", "--method", "random", "--rate", "0.5", "--out", str(tmp_path / "adir")],
                 ["train", "--epochs", "1", "--out", str(tmp_path / "afile" / "sub"), "--quiet"]):
        res = runner.invoke(app, [*args, "--run", str(run)])
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: cannot write"), (args, res.output)
    assert (tmp_path / "afile").read_text() == "mine" and not any((tmp_path / "adir").iterdir())
    assert not [p for p in tmp_path.rglob(".*") if p.name.endswith(".tmp") or ".partial-" in p.name]
