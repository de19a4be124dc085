"""End-to-end cost: sample passes counted by hand through run → score table → manifest → training → sweep."""

from __future__ import annotations

import pytest
from cli_helpers import prune

from pipeline.io import open_run, read_json, read_manifest, read_scores, write_manifest


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("cost") / "run"
    prune("record", "--data", "digits", "--model", "mlp", "--epochs", "3", "--inits", "2", "--run", d)
    return d


def test_lineage_counts_every_sample_pass(run, tmp_path):
    r = open_run(run)
    n = r.n
    assert r.query_cost["sample_passes"] == 2 * 3 * n  # inits × epochs × samples
    prune("score", "--method", "el2n", "--run", run)
    table = read_scores(run / "scores" / "el2n.parquet")
    assert table.meta["query"]["sample_passes"] == 6 * n and table.meta["query"]["run"] == str(run)

    keep = tmp_path / "keep.parquet"
    prune("select", "--run", run, "--method", "topk", "--rate", "0.5", "--out", keep)
    m = read_manifest(keep)
    assert m.meta["query"]["sample_passes"] == 6 * n
    kept = len(m.sample)
    res = prune("train", "--run", run, "--manifest", keep, "--epochs", "2", "--out", tmp_path / "t")
    cost = read_json(tmp_path / "t" / "metrics.json")["cost"]
    # the unit is this recipe's full-data training: 2 epochs (as given) over all n samples
    assert cost["train_sample_passes"] == 2 * kept and cost["full_data_sample_passes"] == 2 * n
    assert cost["query_sample_passes"] == 6 * n
    assert cost["end_to_end"] == pytest.approx((6 * n + 2 * kept) / (2 * n))
    assert f"= {cost['end_to_end']:.2f} end to end" in res.output


def test_random_pays_no_query_and_a_foreign_manifest_is_unknown(run, tmp_path):
    keep = tmp_path / "random.parquet"
    prune("select", "--run", run, "--method", "random", "--rate", "0.5", "--out", keep)
    assert read_manifest(keep).meta["query"] == {"run": None, "sample_passes": 0}
    prune("train", "--run", run, "--manifest", keep, "--epochs", "1", "--out", tmp_path / "r")
    cost = read_json(tmp_path / "r" / "metrics.json")["cost"]
    assert cost["query_sample_passes"] == 0 and cost["end_to_end"] == cost["train"]

    m = read_manifest(keep)
    mine = tmp_path / "mine.parquet"
    write_manifest(mine, m.sample, m.target, {"fingerprint": m.fingerprint})  # no lineage
    res = prune("train", "--run", run, "--manifest", mine, "--epochs", "1", "--out", tmp_path / "m")
    cost = read_json(tmp_path / "m" / "metrics.json")["cost"]
    assert cost["query_sample_passes"] is None and cost["end_to_end"] is None
    assert "query is unknown" in res.output


def test_the_sweep_carries_cost_per_cell(run):
    import polars as pl

    prune("sweep", "--run", run, "--name", "c", "--scores", "el2n", "--methods", "random,topk", "--rates", "0.5",
          "--seeds", "0", "--epochs", "1", "--dynamic", "infobatch")
    df = pl.read_parquet(run / "sweeps" / "c" / "results.parquet")
    n = open_run(run).n
    by = {row["method"]: row for row in df.iter_rows(named=True)}
    assert by["topk"]["query_passes"] == 6 * n and by["random"]["query_passes"] == 0
    assert by["full"]["query_passes"] == 0 and by["full"]["cost"] == pytest.approx(1.0)
    for row in by.values():
        assert row["cost"] == pytest.approx((row["query_passes"] + row["sample_passes"]) / (1 * n))


def test_a_proxy_query_trains_another_model_and_says_so(run, tmp_path):
    """Selection via proxy: record with the mlp, train resnet18 on its subset; the manifest stays valid (the
    fingerprint is the data's) and the cost line names the proxy."""
    prune("score", "--method", "el2n", "--run", run)
    keep = tmp_path / "keep.parquet"
    prune("select", "--run", run, "--scores", "el2n", "--method", "topk", "--rate", "0.5", "--out", keep)
    res = prune("train", "--run", run, "--manifest", keep, "--model", "resnet18", "--epochs", "1", "--batch-size",
                "256", "--out", tmp_path / "big")
    m = read_json(tmp_path / "big" / "metrics.json")
    assert m["model"] == "resnet18" and m["cost"]["query_model"] == "mlp"
    assert "the query trained mlp, a proxy" in res.output
