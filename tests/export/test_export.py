"""`prune export`: the kept samples of an image folder as a smaller image folder (or a list of files)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.data import load_dataset
from pipeline.io import read_manifest

runner = CliRunner()
CLASSES = {"ant": 6, "bee": 5, "cat": 7}


def _png(path, rng):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.randint(0, 256, (8, 8, 3)).astype(np.uint8), "RGB").save(path)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.RandomState(0)
    root = tmp_path / "images"
    for cls, n in CLASSES.items():
        for i in range(n):
            _png(root / "train" / cls / f"{cls}{i}.png", rng)
        for i in range(2):
            _png(root / "val" / cls / f"v{cls}{i}.png", rng)
    return root


def _cli(*args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


def test_select_then_export_as_an_image_folder_that_prune_reads(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    _cli("record", "--data", "imagefolder", "--data-dir", folder, "--model", "mlp", "--epochs", "2", "--run", run,
         "--checkpoints", "final", "--device", "cpu")
    _cli("score", "--method", "aum", "--run", run)
    _cli("select", "--method", "topk", "--quota", "proportional", "--rate", "0.5", "--run", run)
    m = read_manifest("keep.parquet")
    assert m.files is not None and len(m.files) == len(m.sample) == 9
    full = load_dataset("imagefolder", data_dir=folder)
    for sample, rel in zip(m.sample, m.files):  # each kept id names its own file
        assert (folder / rel).resolve() == full.train.files[sample].resolve()
    _cli("export", "--manifest", "keep.parquet", "--to", tmp_path / "small")
    small = load_dataset("imagefolder", data_dir=tmp_path / "small")
    assert len(small.train) == 9 and small.classes == sorted(CLASSES)
    assert all(os.path.islink(p) for p in small.train.files)
    assert len(small.val) + len(small.test) == len(full.val) + len(full.test)
    # the exported folder is itself a data set prune records on
    _cli("record", "--data", "imagefolder", "--data-dir", tmp_path / "small", "--model", "mlp", "--epochs", "1",
         "--run", tmp_path / "run-small", "--checkpoints", "final", "--device", "cpu")
    # copies, and a list of absolute paths
    _cli("export", "--manifest", "keep.parquet", "--to", tmp_path / "copy", "--mode", "copy")
    assert not any(p.is_symlink() for p in (tmp_path / "copy").rglob("*.png"))
    _cli("export", "--manifest", "keep.parquet", "--to", tmp_path / "keep.txt", "--mode", "list")
    lines = (tmp_path / "keep.txt").read_text().splitlines()
    assert len(lines) == 9 and all(os.path.isabs(p) and os.path.isfile(p) for p in lines)
    # a file the list would land on is the user's: replaced only with --force
    (tmp_path / "mine.txt").write_text("my notes\n")
    res = runner.invoke(app, ["export", "--to", str(tmp_path / "mine.txt"), "--mode", "list"])
    assert res.exit_code == 2 and "--force" in res.output and len(res.output.strip().splitlines()) == 1
    assert (tmp_path / "mine.txt").read_text() == "my notes\n"
    _cli("export", "--to", tmp_path / "mine.txt", "--mode", "list", "--force")
    assert len((tmp_path / "mine.txt").read_text().splitlines()) == 9
    # an export is replaced only with --force; a folder of the user's files never
    res = runner.invoke(app, ["export", "--to", str(tmp_path / "small")])
    assert res.exit_code == 2 and "--force" in res.output
    _cli("export", "--to", tmp_path / "small", "--force")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    res = runner.invoke(app, ["export", "--to", str(tmp_path / "mine"), "--force"])
    assert res.exit_code == 2 and (tmp_path / "mine" / "notes.txt").read_text() == "x"


def test_export_needs_a_manifest_of_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _cli("record", "--data", "digits", "--epochs", "1", "--run", tmp_path / "run", "--checkpoints", "final",
         "--device", "cpu")
    _cli("select", "--method", "random", "--rate", "0.5", "--run", tmp_path / "run")
    res = runner.invoke(app, ["export", "--to", str(tmp_path / "out")])
    assert res.exit_code == 2 and "lists no files" in res.output and not (tmp_path / "out").exists()
