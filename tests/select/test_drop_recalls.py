"""Where `--quota drop` reads class errors: `--recalls final|best|mean` from the run's eval.parquet."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cli_helpers import error_line, prune
from pipeline.io import open_run, read_manifest


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r = tmp_path_factory.mktemp("dr") / "run"
    prune("record", "--run", r, "--data", "digits", "--epochs", "4", "--inits", "2")
    prune("score", "--run", r, "--method", "random")
    return r


def _val(r) -> pl.DataFrame:
    return pl.read_parquet(r / "eval.parquet").filter(pl.col("split") == "val")


def test_the_three_sources_by_hand(run):
    r, ev = open_run(run), _val(run)
    C = r.num_classes
    recall = np.zeros((2, 4, C))  # init, epoch, class
    n = np.zeros((2, 4, C))
    for row in ev.iter_rows(named=True):
        recall[row["init"], row["epoch"], row["class"]] = row["recall"]
        n[row["init"], row["epoch"], row["class"]] = row["n"]
    np.testing.assert_allclose(r.val_recalls("final"), recall[:, -1].mean(0))
    np.testing.assert_allclose(r.val_recalls("mean"), recall.mean(1).mean(0))
    acc = (recall * n).sum(-1) / n.sum(-1)  # (init, epoch) val accuracy
    best = [int(np.argmax(acc[i])) for i in range(2)]  # the first epoch of the best accuracy
    np.testing.assert_allclose(r.val_recalls("best"), np.mean([recall[i, best[i]] for i in range(2)], axis=0))
    np.testing.assert_allclose(r.final_val_recalls(), r.val_recalls("final"))


def test_select_reads_the_chosen_source_and_records_it(run, tmp_path):
    out = tmp_path / "keep.parquet"
    res = prune("select", "--run", run, "--method", "random", "--quota", "drop", "--rate", "0.5", "--recalls", "mean",
                "--out", out)
    m = read_manifest(out)
    assert "mean over epochs 0..3" in m.meta["quota_detail"]["recalls_from"] and "mean over epochs" in res.output
    want = open_run(run).val_recalls("mean")
    got = np.array([m.meta["quota_detail"]["recalls"][c] for c in open_run(run).classes])
    np.testing.assert_allclose(got, want)
    line = error_line(prune("select", "--run", run, "--method", "random", "--quota", "drop", "--rate", "0.5",
                            "--recalls", "median", "--out", tmp_path / "no.parquet", ok=False))
    assert "does not exist (give a metrics.json, or one of final, best, mean)" in line and not (tmp_path / "no.parquet").exists()


def test_the_default_source_is_the_learning_curve_mean(run, tmp_path):
    out = tmp_path / "d.parquet"
    prune("select", "--run", run, "--method", "random", "--quota", "drop", "--rate", "0.5", "--out", out)
    detail = read_manifest(out).meta["quota_detail"]
    assert "mean over epochs 0..3" in detail["recalls_from"]
    np.testing.assert_allclose([detail["recalls"][c] for c in open_run(run).classes], open_run(run).val_recalls("mean"))
