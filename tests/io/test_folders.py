"""`prune record` never deletes what is not a run, and concurrent writers cannot replace each other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import PruneError, open_run
from pipeline.io.folders import claim_folder, is_run, partial_folder, swap_into_place

runner = CliRunner()
TINY = ["--data", "digits", "--epochs", "1", "--checkpoints", "final", "--device", "cpu"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _record(args: list[str]):
    return runner.invoke(app, ["record", *TINY, *args])


def test_a_folder_of_user_files_is_never_replaced(tmp_path):
    mine = tmp_path / "thesis"
    (mine / "chapter").mkdir(parents=True)
    (mine / "notes.txt").write_text("six months of work")
    (mine / "chapter" / "1.tex").write_text("\\section{Intro}")
    before = _snapshot(mine)
    for extra in ([], ["--force"]):
        res = _record(["--run", str(mine), *extra])
        assert res.exit_code == 2
        assert "is not a recorded run and is not empty" in res.output
        assert "Traceback" not in res.output
        assert _snapshot(mine) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]  # no partial folder left behind


@pytest.mark.parametrize("target", [".", "..", "./"])
def test_the_current_folder_is_refused_up_front(tmp_path, monkeypatch, target):
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("x")
    monkeypatch.chdir(work)
    res = _record(["--run", target, "--force"])
    assert res.exit_code == 2
    assert "--run" in res.output and "Traceback" not in res.output
    assert sorted(os.listdir(work)) == ["keep.txt"]


def test_the_folder_holding_the_current_one_is_refused(tmp_path, monkeypatch):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    res = _record(["--run", str(tmp_path / "a")])
    assert res.exit_code == 2 and "the folder you are working in" in res.output


def test_a_file_is_refused(tmp_path):
    f = tmp_path / "run"
    f.write_text("not a folder")
    res = _record(["--run", str(f), "--force"])
    assert res.exit_code == 2 and "is not a folder" in res.output
    assert f.read_text() == "not a folder"


def test_an_empty_folder_becomes_a_run_and_a_run_needs_force(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert _record(["--run", str(run)]).exit_code == 0
    assert is_run(run)
    first = (run / "run.json").read_bytes()
    res = _record(["--run", str(run)])
    assert res.exit_code == 2 and "pass --force" in res.output
    assert (run / "run.json").read_bytes() == first
    assert _record(["--run", str(run), "--force", "--seed", "1"]).exit_code == 0
    assert (run / "run.json").read_bytes() != first


def _complete_partial(target: Path, tag: str) -> Path:
    p = partial_folder(target)
    p.mkdir(parents=True)
    (p / "run.json").write_text('{"fingerprint": "%s"}' % tag)
    return p


def test_the_swap_checks_again_and_keeps_the_losers_result(tmp_path):
    target = tmp_path / "run"
    a = claim_folder(target, what="recorded run", recognise=is_run, force=False, flag="--run")
    b = claim_folder(target, what="recorded run", recognise=is_run, force=False, flag="--run")
    pa, pb = _complete_partial(target, "a"), _complete_partial(target, "b")
    swap_into_place(pa, a, is_run, force=False)
    with pytest.raises(PruneError, match="already holds a recorded run.*kept in"):
        swap_into_place(pb, b, is_run, force=False)
    assert '"a"' in (target / "run.json").read_text()
    assert (pb / "run.json").exists()  # the loser's complete result is still there


def test_with_force_a_run_replaced_meanwhile_is_not_replaced_again(tmp_path):
    target = tmp_path / "run"
    swap_into_place(_complete_partial(target, "old"), claim_folder(target, what="recorded run", recognise=is_run,
                                                                  force=False, flag="--run"), is_run, force=False)
    a = claim_folder(target, what="recorded run", recognise=is_run, force=True, flag="--run")
    b = claim_folder(target, what="recorded run", recognise=is_run, force=True, flag="--run")
    swap_into_place(_complete_partial(target, "a"), a, is_run, force=True)
    pb = _complete_partial(target, "b")
    with pytest.raises(PruneError, match="another process wrote"):
        swap_into_place(pb, b, is_run, force=True)
    assert '"a"' in (target / "run.json").read_text()


def test_two_record_processes_into_one_folder(tmp_path):
    """Two real `prune record` processes at once: one run lands, the other exits 2 with one line."""
    target = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "pipeline.cli", "record", *TINY, "--run", str(target)]
    procs = [subprocess.Popen(cmd + ["--seed", str(s)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for s in (0, 1)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[0] == 2)
    assert loser[2].count("\n") == 1 and loser[2].startswith("error: ") and "Traceback" not in loser[2]
    assert is_run(target)


# ------------------------------------------------------------------ prune train result folders


@pytest.fixture
def digits_run(tmp_path):
    run = tmp_path / "run"
    assert _record(["--run", str(run)]).exit_code == 0
    return run


def _train(run, *args):
    return runner.invoke(app, ["train", "--run", str(run), "--epochs", "1", "--device", "cpu", *args])


def test_a_second_train_into_the_same_name_needs_force(digits_run):
    assert _train(digits_run, "--name", "a").exit_code == 0
    first = (digits_run / "train" / "a" / "metrics.json").read_bytes()
    res = _train(digits_run, "--name", "a", "--seed", "1")
    assert res.exit_code == 2 and "pass --force" in res.output
    assert (digits_run / "train" / "a" / "metrics.json").read_bytes() == first
    assert _train(digits_run, "--name", "a", "--seed", "1", "--force").exit_code == 0
    assert (digits_run / "train" / "a" / "metrics.json").read_bytes() != first
    assert not [p for p in (digits_run / "train").iterdir() if p.name.startswith(".")]  # no partial left


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "."])
def test_a_name_is_a_plain_folder_name(digits_run, tmp_path, name):
    res = _train(digits_run, "--name", name)
    assert res.exit_code == 2 and "plain folder name" in res.output
    assert not (tmp_path.parent / "x").exists()


def test_unwritable_outputs_are_refused_before_training(digits_run, tmp_path):
    (tmp_path / "afile").write_text("x")
    res = _train(digits_run, "--out", str(tmp_path / "afile" / "sub"))
    assert res.exit_code == 2 and "cannot write the result" in res.output and "training" not in res.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    res = _train(digits_run, "--out", str(mine), "--force")
    assert res.exit_code == 2 and (mine / "notes.txt").read_text() == "x"
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        res = _train(digits_run, "--out", str(ro / "out"))
        assert res.exit_code == 2 and "cannot write" in res.output


def test_seeds_write_their_folders_and_summary_under_the_final_name(digits_run):
    assert _train(digits_run, "--name", "s", "--seeds", "0,1").exit_code == 0
    import json

    summary = json.loads((digits_run / "train" / "s" / "summary.json").read_text())
    assert [r["path"] for r in summary["runs"]] == [str(digits_run / "train" / "s" / f"seed={k}" / "metrics.json")
                                                    for k in (0, 1)]
    assert all(os.path.exists(r["path"]) for r in summary["runs"])


def test_demo_refuses_bad_epochs_and_seeds_before_recording(tmp_path):
    res = runner.invoke(app, ["demo", "--epochs", "0", "--run", str(tmp_path / "demo")])
    assert res.exit_code == 2 and "--epochs must be at least 1" in res.output
    res = runner.invoke(app, ["demo", "--seeds", "11", "--run", str(tmp_path / "demo")])
    assert res.exit_code == 2 and "--seeds" in res.output
    assert not (tmp_path / "demo").exists()


# ------------------------------------------------------------------ a new user's first mistakes lock nothing out

def test_stages_before_record_leave_nothing_and_record_still_works(tmp_path, monkeypatch):
    """`prune train` (bare, with a missing manifest, on a missing run) and `score`/`select` before any recording:
    each says one line that nothing was recorded, creates no folder, and `prune record` works afterwards."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    mistakes = [
        (["train", "--epochs", "1"], "no run at runs/default"),
        (["train", "--manifest", "keep.parquet"], "keep.parquet"),
        (["train", "--run", "runs/nope"], "no run at runs/nope"),
        (["train", "--data", "digits", "--epochs", "1"], "pass --out"),
        (["score", "--method", "el2n"], "no run at runs/default"),
        (["select", "--method", "random", "--rate", "0.5"], "no run at runs/default"),
    ]
    for args, says in mistakes:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and says in lines[0] and "incomplete" not in lines[0], (args, res.output)
        assert list((tmp_path / "runs").iterdir()) == [], args
    assert _record(["--run", "runs/default"]).exit_code == 0
    res = runner.invoke(app, ["train", "--manifest", "keep.parquet", "--epochs", "1", "--device", "cpu"])
    assert res.exit_code == 2 and "keep.parquet" in res.output
    assert not (tmp_path / "runs" / "default" / "train").exists()


def test_a_folder_of_empty_folders_becomes_a_run(tmp_path):
    """What an earlier version left after a refused `prune train` (runs/default/train/, empty) blocks nothing."""
    run = tmp_path / "run"
    (run / "train" / "full").mkdir(parents=True)
    assert _record(["--run", str(run)]).exit_code == 0
    assert is_run(run) and not (run / "train").exists()


def test_incomplete_is_said_of_a_started_recording_only(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(PruneError, match="no run at .*nothing was recorded"):
        open_run(run)
    (tmp_path / ".run.partial-0000abcd").mkdir()
    with pytest.raises(PruneError, match="incomplete.*--resume"):
        open_run(run)
