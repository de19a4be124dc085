"""`prune report`: figures are real PNGs, the HTML links only files that exist, β is chosen on validation."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from PIL import Image

from cli_helpers import prune, runner



@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    mp = pytest.MonkeyPatch()
    mp.chdir(d)
    mp.setenv("OMP_NUM_THREADS", "1")
    prune("record", "--data", "digits", "--epochs", "6", "--batch-size", "256", "--checkpoints", "final")
    prune("sweep", "--scores", "aum,forgetting", "--methods", "ccs,random", "--rates", "0.5,0.9", "--seeds", "0,1",
          "--beta", "default,0.2", "--epochs", "2", "--threads", "1", "--quiet")
    yield d
    mp.undo()


def check_report(folder, expected):
    html = (folder / "report.html").read_text()
    md = (folder / "report.md").read_text()
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert set(links) == expected, links
    for link in links:
        assert not link.startswith(("/", "http")) and (folder / link).is_file()
    assert set(re.findall(r"\]\(([^)]+)\)", md)) == expected
    for name in expected:
        img = Image.open(folder / name)
        img.verify()
        a = np.asarray(Image.open(folder / name).convert("L"), dtype=np.float64)
        assert (folder / name).stat().st_size > 10_000 or a.var() > 100
        assert a.shape[0] > 200 and a.shape[1] > 300 and a.var() > 50


def test_report_of_a_sweep(workdir):
    res = prune("report")
    folder = workdir / "runs" / "default" / "report"
    assert "β chosen by validation" in res.output and "report.html" in res.output
    check_report(folder, {"accuracy_vs_rate.png", "worst_class_vs_rate.png", "per_class_at_rate.png",
                          "accuracy_vs_cost.png", "accuracy_vs_cost_reused.png", "scores_by_class.png",
                          "data_map.png", "kept_vs_full.png", "samples.png"})
    md = (folder / "report.md").read_text()
    assert "| aum (space=prob) + ccs | 0.9 |" in md and "| full data | — |" in md and "(of 2)" in md
    # the table's numbers are the sweep's: random at 0.9, mean over both seeds, in percent; its cost end to end
    # is its own training (no query): 2 epochs on 10% of the samples, in units of 2 epochs on all of them
    df = pl.read_parquet(workdir / "runs" / "default" / "sweeps" / "sweep" / "results.parquet")
    acc = df.filter((pl.col("cell") == "random-none-r0.9"))["accuracy"].to_numpy()
    assert f"| random | 0.9 | 144 | — | 0.10 | {100 * acc.mean():.2f} ± {100 * acc.std(ddof=1):.2f} |" in md
    # a scored selection pays its query: 6 recorded epochs = 3 trainings of 2 epochs, + 0.10 for its own
    assert "| 3.10 |" in md and "For a budget of end-to-end cost" in md
    # the cheapest recipe within each gap of full data, chosen on validation: one row per gap
    assert "| gap to full data (points, val) | cheapest recipe |" in md
    assert all(f"| −{g:g} |" in md for g in (0.1, 0.3, 1.0))
    # one subset trained 5 times pays its query once: 3/5 + 0.10 at 0.9 and 3/5 + 0.50 at 0.5 per training
    assert "trained 5 times" in md and "Static cells here cost from 0.70 to 1.10 per training" in md


def test_report_elsewhere_at_a_rate_with_a_manifest(workdir):
    run = workdir / "runs" / "default"
    man = run / "sweeps" / "sweep" / "cells" / "random-none-r0.5" / "seed=1" / "keep.parquet"
    prune("report", "--out", "rep", "--rate", "0.5", "--manifest", str(man), "--score", "forgetting")
    assert "random, quota none, rate 0.5" in (workdir / "rep" / "report.md").read_text()
    prune("report", "--out", "rep")  # an earlier report is replaced
    res = prune("report", "--rate", "0.3", "--out", "rep2", ok=False)
    assert res.exit_code == 2 and "not a rate of sweep" in res.output and not (workdir / "rep2").exists()
    (workdir / "mine").mkdir()
    (workdir / "mine" / "notes.txt").write_text("x")
    res = prune("report", "--out", "mine", ok=False)
    assert res.exit_code == 2 and (workdir / "mine" / "notes.txt").exists()
    # a score table the run has not, and a manifest of other data, are refused at the door: no report is written
    res = prune("report", "--out", "rep3", "--score", "nope", ok=False)
    assert res.exit_code == 2 and "--score nope: run runs/default has no such score table" in res.output
    from pipeline.io import write_manifest

    write_manifest(workdir / "other.parquet", np.array([0, 1]), np.array([0, 1]), {"fingerprint": "0" * 64})
    res = prune("report", "--out", "rep3", "--manifest", str(workdir / "other.parquet"), ok=False)
    assert res.exit_code == 2 and "was made for other data" in res.output and not (workdir / "rep3").exists()


def test_report_of_a_run_without_sweep(workdir, tmp_path):
    res = prune("report", "--sweep", "nope", "--out", str(tmp_path / "r"), ok=False)
    assert res.exit_code == 2 and "this run has: sweep" in res.output
    import shutil

    run = tmp_path / "run"
    shutil.copytree(workdir / "runs" / "default", run, ignore=shutil.ignore_patterns("sweeps", "report"))
    prune("report", "--run", str(run), "--out", str(tmp_path / "r"))
    check_report(tmp_path / "r", {"scores_by_class.png", "data_map.png", "samples.png"})


def test_the_amortised_cost_pays_the_query_once():
    from pipeline.report.run import amortised

    known = pl.DataFrame({"cost_mean": [1.5, 0.46, 1.0], "query_cost_mean": [1.0, 0.0, None]})
    assert amortised(known, 5)["cost_mean"].to_list() == pytest.approx([0.7, 0.46, 1.0])
    assert amortised(known, 1)["cost_mean"].to_list() == pytest.approx([1.5, 0.46, 1.0])


def test_the_mislabelled_row_follows_its_rule():
    """Label differs from the last epoch's prediction, lowest AUM first; samples the model gets right never
    appear, and a model that gets all of them right leaves the row empty and says so."""
    import numpy as np

    from pipeline.report.run import likely_mislabelled, mislabelled_rule

    targets = np.array([0, 1, 2, 3, 4, 5])
    pred = np.array([0, 2, 2, 1, 4, 0])  # samples 1, 3 and 5 are wrong
    aum = np.array([-9.0, 0.5, -8.0, -1.0, -7.0, -1.0])  # 0, 2, 4 are right despite their low AUM
    assert likely_mislabelled(targets, pred, aum).tolist() == [3, 5, 1]  # -1, -1 (by id), 0.5
    assert likely_mislabelled(targets, pred, aum, shown=2).tolist() == [3, 5]
    assert likely_mislabelled(targets, targets, aum).tolist() == []
    rule = "label ≠ the query model's prediction at its last epoch, lowest AUM first"
    assert mislabelled_rule(8) == mislabelled_rule(500) == rule
    assert mislabelled_rule(3) == f"{rule}; only 3 such samples"
    assert mislabelled_rule(1) == f"{rule}; only 1 such sample"
    assert mislabelled_rule(0) == "none: the query model predicted every training sample's label at its last epoch"


def test_a_damaged_or_older_results_table(workdir, tmp_path):
    import shutil

    from pipeline.io.tables import SWEEP_HYPER, read_sweep_results

    run = tmp_path / "run"
    shutil.copytree(workdir / "runs" / "default", run, ignore=shutil.ignore_patterns("report"))
    results = run / "sweeps" / "sweep" / "results.parquet"
    # a sweep written before γ and recalls were columns: read back with both, all null, and reported
    old = pl.read_parquet(results).drop("gamma", "recalls")
    old.write_parquet(results)
    df = read_sweep_results(results)
    assert set(SWEEP_HYPER) <= set(df.columns) and df["gamma"].null_count() == df["recalls"].null_count() == len(old)
    prune("report", "--run", str(run), "--out", str(tmp_path / "r"))
    assert "| aum (space=prob) + ccs | 0.9 |" in (tmp_path / "r" / "report.md").read_text()
    # a NaN accuracy is damage, not a figure: one line, no report
    old.with_columns(pl.when(pl.col("seed") == 1).then(float("nan")).otherwise(pl.col("accuracy"))
                     .alias("accuracy")).write_parquet(results)
    res = prune("report", "--run", str(run), "--out", str(tmp_path / "r3"), ok=False)
    assert res.exit_code == 2 and "accuracy of cell" in res.output and "is nan" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "r3").exists()
    # a table that is not a sweep's, and bytes that are not Parquet: one line each, no report folder
    pl.DataFrame({"sample": [1, 2]}).write_parquet(results)
    res = prune("report", "--run", str(run), "--out", str(tmp_path / "r2"), ok=False)
    assert res.exit_code == 2 and "not a sweep results table (no column cell" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "r2").exists()
    results.write_bytes(b"PAR1 not really")
    res = prune("report", "--run", str(run), "--out", str(tmp_path / "r2"), ok=False)
    assert res.exit_code == 2 and "not a readable sweep results table" in res.output and not (tmp_path / "r2").exists()


def test_the_data_map_bins_a_large_run_and_keeps_its_labels_off_the_points(tmp_path):
    from pipeline.report.figures import data_map

    g = np.random.default_rng(0)
    n = 30_000
    conf, var, corr = g.random(n), 0.4 * g.random(n), g.random(n)
    name = data_map(conf, var, corr, "map", tmp_path, "map.png")
    a = np.asarray(Image.open(tmp_path / name).convert("L"), dtype=np.float64)
    assert a.shape[1] > 600 and a.var() > 100
