"""staged(): claim → partial folder → swap into place, and what a failure leaves, in one place."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.io import PruneError
from pipeline.io.errors import Interrupted
from pipeline.io.folders import in_use, partials_of, staged


def _is_result(path: Path) -> bool:
    return (path / "result.json").exists()


def _stage(target: Path, **kw):
    return staged(target, what="test result", recognise=_is_result, flag="--out", **{"force": False, **kw})


def _write(partial: Path, tag: str) -> None:
    (partial / "result.json").write_text(json.dumps({"tag": tag}))


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_success_swaps_into_place_and_leaves_no_hidden_folder(tmp_path):
    target = tmp_path / "sub" / "out"
    with _stage(target) as partial:
        assert partial.parent == target.parent and partial.name.startswith(".out.partial-")
        assert in_use(partial)  # held while it is written: `prune clean` leaves it alone
        assert not target.exists()
        _write(partial, "a")
    assert json.loads((target / "result.json").read_text()) == {"tag": "a"}
    assert _hidden(target.parent) == [] and not in_use(target)


def test_a_prune_error_removes_the_partial_and_leaves_the_target_untouched(tmp_path):
    target = tmp_path / "out"
    with _stage(target) as partial:
        _write(partial, "old")
    before = (target / "result.json").read_bytes()
    with pytest.raises(PruneError, match="bad input"):
        with _stage(target, force=True) as partial:
            _write(partial, "new")
            raise PruneError("bad input")
    assert not partial.exists() and _hidden(tmp_path) == []
    assert (target / "result.json").read_bytes() == before


def test_keyboard_interrupt_keeps_the_partial_and_says_where(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(Interrupted) as info:
        with _stage(target, keep_on_interrupt=True, hint="go on with --resume") as partial:
            _write(partial, "half")
            raise KeyboardInterrupt
    assert info.value.kept == partial and partial.is_dir() and not in_use(partial)
    assert str(partial) in info.value.line() and "go on with --resume" in info.value.line()
    assert partials_of(target) == [partial] and not target.exists()


def test_keyboard_interrupt_removes_a_partial_not_worth_keeping(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt) as info:
        with _stage(target) as partial:
            raise KeyboardInterrupt
    assert getattr(info.value, "kept", None) is None and not partial.exists() and _hidden(tmp_path) == []


def test_other_errors_remove_the_partial_unless_it_can_be_resumed(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with _stage(target) as partial:
            raise RuntimeError("crash")
    assert not partial.exists()
    resumable = lambda p: (p / "state").exists()  # noqa: E731
    with pytest.raises(RuntimeError):
        with _stage(target, resumable=resumable) as partial:  # crashed before any state was saved
            raise RuntimeError("crash")
    assert not partial.exists()
    with pytest.raises(RuntimeError):
        with _stage(target, resumable=resumable) as partial:
            (partial / "state").write_text("epoch 3")
            raise RuntimeError("crash")
    assert partial.is_dir() and not in_use(partial)


def test_a_taken_over_partial_is_never_removed(tmp_path):
    target = tmp_path / "out"
    old = tmp_path / ".out.partial-0000abcd"
    old.mkdir()
    stage = _stage(target)
    assert stage.open(old) == old
    assert in_use(old)
    with pytest.raises(PruneError):
        with stage as partial:
            assert partial == old
            raise PruneError("diverged")
    assert old.is_dir() and not in_use(old)
    with _stage(target) as partial:
        _write(partial, "a")
    with pytest.raises(PruneError, match="already holds"):
        _stage(target)
    with _stage(target, force=True) as partial:
        _write(partial, "b")
    assert json.loads((target / "result.json").read_text()) == {"tag": "b"}


def test_an_existing_result_needs_force_and_other_folders_are_refused(tmp_path):
    target = tmp_path / "out"
    with _stage(target) as partial:
        _write(partial, "a")
    with pytest.raises(PruneError, match="already holds a test result; pass --force"):
        _stage(target)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    for force in (False, True):
        with pytest.raises(PruneError, match="not empty"):
            _stage(mine, force=force)
    assert (mine / "notes.txt").read_text() == "x" and _hidden(tmp_path) == []


def test_an_unwritable_place_is_one_line_naming_the_path(tmp_path):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "out"
    with pytest.raises(PruneError, match=f"cannot write the result {target}: {tmp_path / 'afile'} is a file, not a folder"):
        with _stage(target):
            pytest.fail("the block must not run")
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(PruneError, match=f"cannot write the result {ro / 'out'}: Permission denied"):
                with _stage(ro / "out"):
                    pass
        finally:
            ro.chmod(0o700)


def test_a_target_written_meanwhile_keeps_this_result(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(PruneError, match="kept in"):
        with _stage(target) as partial:
            _write(partial, "mine")
            with _stage(target) as other:  # another process finishes first
                _write(other, "theirs")
    assert json.loads((target / "result.json").read_text()) == {"tag": "theirs"}
    assert (partial / "result.json").exists() and not in_use(partial)


def test_open_commit_and_discard_without_a_with_block(tmp_path):
    target = tmp_path / "out"
    stage = _stage(target)
    partial = stage.open()
    assert stage.open() == partial  # once
    _write(partial, "a")
    assert stage.commit() == target and _is_result(target) and _hidden(tmp_path) == []
    stage = _stage(tmp_path / "other")
    partial = stage.open()
    stage.discard()
    assert not partial.exists() and not (tmp_path / "other").exists()
