"""Every damaged artifact and bad value is one line on stderr, exit code 2, naming the file; nothing is touched.

Each case damages a copy of a real recorded run the way it happens (a
truncated file, an edited header, a foreign pickle) and runs the stage that
reads it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()
EPOCHS = 3


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    d = tmp_path_factory.mktemp("damaged")
    run = d / "run"
    res = runner.invoke(app, ["record", "--data", "digits", "--epochs", str(EPOCHS), "--checkpoints", "0,1,final",
                              "--device", "cpu", "--run", str(run)])
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["score", "--run", str(run), "--method", "aum"]).exit_code == 0
    return run


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line(res, *names: str) -> str:
    err = res.stderr
    assert res.exit_code == 2, res.output
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in res.output
    for name in names:
        assert name in err, err
    return err


def _truncate(path: Path, size: int = 100) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def _edit_json(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _set_target(run: Path, value: int) -> None:
    import zarr

    t = zarr.open_group(str(run / "trajectories.zarr"), mode="r+")["targets"]
    t[5] = value
    # as a writer that recorded bad labels would leave it: the checksums agree with the bad bytes, so the label
    # check (not the checksum check on read) is what has to catch it
    from pipeline.io.checksums import write_checksums

    write_checksums(run)


LOGITS = "trajectories.zarr/logits"
DYN1 = "dynamics/init=0/epoch=1/part-0.parquet"


def _shape(doc):
    doc["chunk_grid"]["configuration"]["chunk_shape"][2] = 1000


def _dtype(doc):
    doc["data_type"] = "float32"


def _rows(run: Path):
    import pyarrow.parquet as pq

    p = run / DYN1
    pq.write_table(pq.read_table(p).slice(0, 10), p)


def _string_epochs(doc):
    doc["epochs"] = str(doc["epochs"])


DAMAGE = {
    # name: (damage(run), stage args, words the line must hold)
    "truncated logits chunk": (lambda r: _truncate(r / LOGITS / "c/0/1/0/0"), ["score", "--method", "tdds", "--window", "2"],
                               ["logits", "c/0/1/0/0", "record the run again"]),
    "edited chunk shape": (lambda r: _edit_json(r / LOGITS / "zarr.json", _shape), ["score", "--method", "tdds", "--window", "2"],
                           ["logits", "c/0/0/0/0"]),
    "edited chunk dtype": (lambda r: _edit_json(r / LOGITS / "zarr.json", _dtype), ["score", "--method", "variability"],
                           ["logits", "chunk"]),
    "array metadata not JSON": (lambda r: (r / LOGITS / "zarr.json").write_text("{oops"),
                                ["score", "--method", "tdds", "--window", "2"], ["logits/zarr.json", "record the run again"]),
    "group metadata not JSON": (lambda r: (r / "trajectories.zarr/zarr.json").write_text("{oops"),
                                ["score", "--method", "tdds", "--window", "2"], ["trajectories.zarr", "record the run again"]),
    "truncated targets chunk": (lambda r: _truncate(r / "trajectories.zarr/targets/c/0", 10),
                                ["select", "--method", "topk", "--rate", "0.3"], ["targets", "c/0"]),
    "truncated dynamics (aum)": (lambda r: _truncate(r / DYN1), ["score", "--method", "aum"], [DYN1, "record the run again"]),
    "truncated dynamics (forgetting)": (lambda r: _truncate(r / DYN1), ["score", "--method", "forgetting"], [DYN1]),
    "truncated dynamics (el2n)": (lambda r: _truncate(r / "dynamics/init=0/epoch=0/part-0.parquet"),
                                  ["score", "--method", "el2n"], ["epoch=0/part-0.parquet"]),
    "dynamics file short of rows": (_rows, ["score", "--method", "aum"], [DYN1, "10 rows"]),
    "missing dynamics file": (lambda r: os.remove(r / DYN1), ["score", "--method", "forgetting"], [DYN1, "missing"]),
    "truncated eval.parquet": (lambda r: _truncate(r / "eval.parquet"),
                               ["select", "--method", "topk", "--rate", "0.3", "--quota", "drop"], ["eval.parquet"]),
    "run.json epochs a string": (lambda r: _edit_json(r / "run.json", _string_epochs), ["score", "--method", "aum"],
                                 ["run.json", "'epochs' must be an integer"]),
    "run.json inits zero": (lambda r: _edit_json(r / "run.json", lambda d: d.update(inits=0)), ["select", "--method", "topk", "--rate", "0.3"],
                            ["run.json", "'inits'"]),
    "run.json classes a number": (lambda r: _edit_json(r / "run.json", lambda d: d.update(classes=10)),
                                  ["train", "--epochs", "1"], ["run.json", "'classes'"]),
    "run.json n_train a float": (lambda r: _edit_json(r / "run.json", lambda d: d.update(n_train=1437.5)),
                                 ["score", "--method", "aum"], ["run.json", "'n_train'"]),
    "run.json a list": (lambda r: (r / "run.json").write_text("[1, 2]"), ["score", "--method", "aum"], ["run.json", "not an object"]),
    "run.json checkpoints past the end": (lambda r: _edit_json(r / "run.json", lambda d: d.update(checkpoints=[0, 99])),
                                          ["score", "--method", "grand"], ["run.json", "'checkpoints'"]),
    "label out of range (score)": (lambda r: _set_target(r, 17), ["score", "--method", "aum"], ["targets", "outside 0..9", "17"]),
    "negative label (select)": (lambda r: _set_target(r, -1), ["select", "--method", "topk", "--rate", "0.3"], ["targets", "outside"]),
    "checkpoint not a state dict": (lambda r: __import__("torch").save([1, 2], r / "checkpoints/init=0/epoch=1.pt"),
                                    ["score", "--method", "grand", "--epoch", "1"], ["epoch=1.pt", "not a model state dict", "record"]),
    "checkpoint random bytes": (lambda r: (r / "checkpoints/init=0/epoch=1.pt").write_bytes(os.urandom(2000)),
                                ["score", "--method", "grand", "--epoch", "1"], ["epoch=1.pt", "damaged"]),
    "checkpoint a foreign pickle": (lambda r: (r / "checkpoints/init=0/epoch=1.pt").write_bytes(
        __import__("pickle").dumps({"a": 1}, protocol=4)), ["score", "--method", "grand", "--epoch", "1"], ["epoch=1.pt"]),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_run_is_one_line(recorded, tmp_path, case):
    damage, args, words = DAMAGE[case]
    run = tmp_path / "run"
    shutil.copytree(recorded, run)
    damage(run)
    before = _snapshot(tmp_path)
    stage, *rest = args
    extra = ["--out", str(tmp_path / "keep.parquet"), "--scores", str(run / "scores/aum.parquet")] if stage == "select" else []
    res = runner.invoke(app, [stage, "--run", str(run), *rest, *extra, *(["--device", "cpu"] if stage == "train" else [])])
    _one_line(res, *words)
    assert _snapshot(tmp_path) == before  # nothing written, nothing touched


@pytest.mark.parametrize("device", ["mps", "xpu", "meta"])
def test_a_device_prune_cannot_train_on_is_refused_up_front(tmp_path, device):
    import torch

    if device == "mps" and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        pytest.skip("this machine has an Apple GPU")
    res = runner.invoke(app, ["record", "--data", "digits", "--epochs", "1", "--device", device, "--run", str(tmp_path / "r")])
    _one_line(res, f"--device {device}")
    assert not (tmp_path / "r").exists()


def test_a_non_utf8_path_is_one_line(recorded, tmp_path):
    """A path in another encoding reaches Python as surrogates; every stage names it, escaped, up front."""
    if sys.platform == "darwin":
        pytest.skip("macOS file names are always UTF-8")
    odd = os.fsdecode(bytes(tmp_path) + b"/caf\xe9")
    os.makedirs(odd)
    shutil.copytree(recorded, odd + "/run")
    before = _snapshot(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for args in (["score", "--method", "aum", "--run", odd + "/run"],
                 ["record", "--data", "digits", "--epochs", "1", "--device", "cpu", "--run", odd + "/new"]):
        proc = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, env=env, timeout=120)
        err = proc.stderr.decode()
        assert proc.returncode == 2, err
        assert err.count("\n") == 1 and "not valid UTF-8" in err and "caf\\xe9" in err and "Traceback" not in err
    assert _snapshot(tmp_path) == before


def test_a_manifest_with_a_text_weight_column_is_one_line(recorded, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    m = tmp_path / "keep.parquet"
    pq.write_table(pa.table({"sample": np.arange(5, dtype=np.int64), "target": np.zeros(5, dtype=np.int64),
                             "weight": ["a"] * 5}), m)
    res = runner.invoke(app, ["train", "--run", str(recorded), "--manifest", str(m), "--epochs", "1", "--device", "cpu",
                              "--out", str(tmp_path / "out")])
    _one_line(res, "keep.parquet", "'weight'")
    assert not (tmp_path / "out").exists()
