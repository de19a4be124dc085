"""``prune record --imbalance R`` end to end on digits: the long-tailed set is what record, train and sweep train on."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from pipeline.cli import app
from pipeline.io import fingerprint, open_run
from cli_helpers import error_line, prune, runner

TINY = ("--data", "digits", "--model", "mlp", "--epochs", "1", "--checkpoints", "final")
# digits' training split has 142 146 142 146 145 146 145 143 139 144 samples per class, so n_max = 146, and
# class c keeps int(146 · 10^(−c/9)) (class 0 all of its 142, fewer than its share of 146):
# 146·0.7743 = 113.0, 146·0.5995 = 87.5, ·0.4642 = 67.8, ·0.3594 = 52.5, ·0.2783 = 40.6, ·0.2154 = 31.5,
# ·0.1668 = 24.4, ·0.1292 = 18.9, ·0.1 = 14.6
COUNTS = [142, 113, 87, 67, 52, 40, 31, 24, 18, 14]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A long-tailed digits run (runs/lt) and a balanced one (runs/bal), each with a random half selected."""
    d = tmp_path_factory.mktemp("imbalance")
    mp = pytest.MonkeyPatch()
    mp.chdir(d)
    out = prune("record", *TINY, "--imbalance", "10", "--run", "runs/lt").output
    assert "long tail: imbalance 10 keeps 588 of 1438 training samples" in out
    prune("record", *TINY, "--run", "runs/bal")
    for name in ("lt", "bal"):
        prune("select", "--run", f"runs/{name}", "--method", "random", "--rate", "0.5", "--out", f"{name}.parquet")
    yield d
    mp.undo()


def test_record_trains_on_the_long_tailed_set(workdir):
    lt, bal = open_run(workdir / "runs" / "lt"), open_run(workdir / "runs" / "bal")
    assert lt.info["imbalance"] == 10.0 and lt.info["imbalance_seed"] == 0  # the record seed by default
    assert "imbalance" not in bal.info  # a balanced run's run.json is as it was
    assert lt.n == sum(COUNTS) == 588 and np.bincount(lt.targets).tolist() == COUNTS
    assert (lt.info["n_val"], lt.info["n_test"]) == (bal.info["n_val"], bal.info["n_test"])  # balanced as they were
    assert lt.fingerprint != bal.fingerprint
    assert lt.fingerprint == fingerprint("digits", "train", lt.targets, "imbalance 10.0 seed 0")
    assert not lt.has("samples")  # sample ids are 0..n'-1 of the long-tailed set


def test_train_and_sweep_use_the_same_long_tailed_set(workdir):
    prune("train", "--run", "runs/lt", "--epochs", "1", "--out", "full")
    metrics = json.loads((workdir / "full" / "metrics.json").read_text())
    assert metrics["n_train"] == metrics["n_total"] == 588
    prune("train", "--run", "runs/lt", "--manifest", "lt.parquet", "--epochs", "1", "--out", "half")
    metrics = json.loads((workdir / "half" / "metrics.json").read_text())
    assert (metrics["n_train"], metrics["n_total"]) == (294, 588)
    assert metrics["manifest"]["fingerprint"] == open_run(workdir / "runs" / "lt").fingerprint
    prune("sweep", "--run", "runs/lt", "--methods", "random", "--rates", "0.5", "--epochs", "1", "--quiet")
    rows = pl.read_parquet(workdir / "runs" / "lt" / "sweeps" / "sweep" / "results.parquet")
    assert rows.height == 2 and rows["n_total"].to_list() == [588, 588]
    assert sorted(rows["n_kept"].to_list()) == [294, 588]


def test_manifests_of_the_balanced_set_and_the_long_tail_do_not_mix(workdir):
    line = error_line(prune("train", "--run", "runs/lt", "--manifest", "bal.parquet", "--epochs", "1", ok=False))
    assert "bal.parquet was made for other data" in line
    line = error_line(prune("train", "--run", "runs/bal", "--manifest", "lt.parquet", "--epochs", "1", ok=False))
    assert "lt.parquet was made for other data" in line
    res = prune("record", *TINY, "--imbalance", "10", "--manifest", "bal.parquet", "--run", "runs/x", ok=False)
    lines = res.output.strip().splitlines()  # the long tail's progress lines, then one error line
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert [ln for ln in lines if ln.startswith("error:")] == lines[-1:]
    assert "bal.parquet was made for other data" in lines[-1]
    assert not (workdir / "runs" / "x").exists()


@pytest.mark.parametrize("r, message", [
    ("0.5", "--imbalance must be a finite number >= 1"),
    ("nan", "--imbalance must be a finite number >= 1"),
    ("1000", "--imbalance 1000 leaves class 7 empty"),  # int(146 · 1000^(−7/9)) = int(0.68) = 0
])
def test_bad_ratios_are_one_line(tmp_path, monkeypatch, r, message):
    monkeypatch.chdir(tmp_path)
    assert message in error_line(prune("record", *TINY, "--imbalance", r, ok=False))
    assert not (tmp_path / "runs" / "default" / "run.json").exists()


def test_a_seed_without_a_long_tail_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = error_line(prune("record", *TINY, "--imbalance-seed", "3", ok=False))
    assert "--imbalance-seed draws the samples an --imbalance long tail keeps" in line


def test_the_api_and_the_help_offer_it(tmp_path):
    from pipeline.api.functions import record

    run = record(tmp_path / "run", data="digits", model="mlp", epochs=1, checkpoints="final", imbalance=10,
                 imbalance_seed=3)
    assert (run.info["imbalance"], run.info["imbalance_seed"]) == (10.0, 3)
    assert np.bincount(run.targets).tolist() == COUNTS
    out = runner.invoke(app, ["record", "--help"], env={"COLUMNS": "400"}).output
    assert "--imbalance" in out and "CIFAR-10-LT" in out and "--imbalance-seed" in out
