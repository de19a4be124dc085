"""`pipeline.select` is `prune select` on values in memory: the same ids, the same manifest contents."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline import Selection, read_manifest, score, select
from pipeline.cli import app
from pipeline.io import PruneError, open_run
from pipeline.io.run import DEFAULT_RECALLS
from pipeline.record.synthetic import write_run

runner = CliRunner()


@pytest.fixture
def run(tmp_path):
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 30)
    return write_run(tmp_path / "run", rng.normal(size=(1, 12, 120, 4)).astype(np.float32), y,
                     val_recall=np.array([1.0, 0.9, 0.6, 0.8]))


def _cli(*args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.parametrize("method,quota", [("ccs", "none"), ("topk", "proportional"), ("random", "balanced"),
                                          ("moderate", "drop"), ("ccs", "drop")])
def test_the_api_and_the_cli_keep_the_same_ids(run, tmp_path, method, quota):
    _cli("score", "--method", "tdds", "--run", run, "--window", "4")
    _cli("select", "--method", method, "--quota", quota, "--rate", "0.4", "--run", run, "--scores", "tdds",
         "--seed", "7", "--out", tmp_path / "cli.parquet")
    cli = read_manifest(tmp_path / "cli.parquet")
    recalls = open_run(run).val_recalls(DEFAULT_RECALLS) if quota == "drop" else None
    sel = select(run / "scores" / "tdds.parquet", 0.4, method=method, quota=quota, seed=7, recalls=recalls)
    np.testing.assert_array_equal(sel.ids, cli.sample)
    for key in ("method", "parameters", "rate", "n_total", "n_kept", "class_counts_kept", "quota", "seed", "fingerprint"):
        assert sel.meta[key] == cli.meta[key], key


def test_scores_in_memory_to_a_manifest_prune_train_would_take(run, tmp_path):
    s = score(run, "aum")
    sel = select(s, 0.25, method="topk", out=tmp_path / "keep.parquet")
    assert isinstance(sel, Selection) and len(sel) == 120 - 30
    m = read_manifest(tmp_path / "keep.parquet")
    np.testing.assert_array_equal(m.ids, sel.ids)
    assert m.fingerprint == open_run(run).fingerprint
    # topk keeps the hard end: aum's low end (lower is harder)
    assert s.score[sel.ids].max() <= np.sort(s.score)[89]


def test_plain_arrays(tmp_path):
    values = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 0.0])
    sel = select(values, 0.5, method="topk")  # higher is harder by default
    np.testing.assert_array_equal(sel.ids, [0, 2, 4])
    sel = select(values, 0.5, method="topk", higher_is_harder=False)
    np.testing.assert_array_equal(sel.ids, [1, 3, 5])
    y = np.array([0, 0, 0, 1, 1, 1])
    sel = select(values, 0.5, method="topk", quota="balanced", targets=y)
    np.testing.assert_array_equal(sel.ids, [0, 2, 4])  # 2 of class 0 (5, 4) and 1 of class 1 (3)
    assert sel.meta["class_counts_kept"] == {"0": 2, "1": 1}
    with pytest.raises(PruneError, match="needs the class of every sample"):
        select(values, 0.5, method="topk", quota="balanced")
    sel = select(None, 0.5, method="random", targets=y, seed=3)
    assert len(sel) == 3 and np.all(np.diff(sel.ids) > 0)


def test_a_boolean_given_as_text_is_refused_not_read_as_true():
    values = np.arange(10, dtype=float)
    for text in ("false", "False", "0"):
        with pytest.raises(PruneError, match="higher_is_harder must be True or False, got '"):
            select(values, 0.5, method="topk", higher_is_harder=text)
    assert select(values, 0.5, method="topk", higher_is_harder=False).ids.tolist() == [0, 1, 2, 3, 4]


def test_api_inputs_of_the_wrong_kind_are_one_line(run):
    with pytest.raises(PruneError, match="a score method is a name"):
        score(run, None)
    with pytest.raises(PruneError, match="scores must be a score table .* or numbers"):
        select(["a", "b"], 0.5)
    with pytest.raises(PruneError, match="--window of --method tdds must be an integer >= 1, got 'abc'"):
        score(run, "tdds", window="abc")


def test_a_users_own_table_is_accepted_with_a_note_or_told_what_to_add(run, tmp_path):
    values = np.arange(120, dtype=np.float64)[::-1]
    pq.write_table(pa.table({"sample": np.arange(120), "score": values}), tmp_path / "mine.parquet")
    res = runner.invoke(app, ["select", "--method", "topk", "--rate", "0.5", "--run", str(run),
                              "--scores", str(tmp_path / "mine.parquet"), "--out", str(tmp_path / "k.parquet")])
    assert res.exit_code == 2 and "add the Parquet metadata key higher_is_harder" in res.output
    t = pa.table({"sample": np.arange(120), "score": values}).replace_schema_metadata({"higher_is_harder": "true"})
    pq.write_table(t, tmp_path / "mine.parquet")
    res = _cli("select", "--method", "topk", "--rate", "0.5", "--run", run, "--scores", tmp_path / "mine.parquet",
               "--out", tmp_path / "k.parquet")
    assert "provenance is unknown" in res.output
    np.testing.assert_array_equal(read_manifest(tmp_path / "k.parquet").sample, np.arange(60))
    pq.write_table(pa.table({"sample": np.arange(100), "score": np.zeros(100)}).replace_schema_metadata(
        {"higher_is_harder": "true"}), tmp_path / "short.parquet")
    res = runner.invoke(app, ["select", "--method", "topk", "--rate", "0.5", "--run", str(run),
                              "--scores", str(tmp_path / "short.parquet"), "--out", str(tmp_path / "k2.parquet")])
    assert res.exit_code == 2 and "100 scores" in res.output and not (tmp_path / "k2.parquet").exists()


def test_python_select_refuses_a_table_that_does_not_say_its_hard_end(tmp_path):
    pq.write_table(pa.table({"sample": np.arange(4), "score": [0.0, 1.0, 2.0, 3.0]}), tmp_path / "t.parquet")
    with pytest.raises(PruneError, match="does not say which end"):
        select(tmp_path / "t.parquet", 0.5, targets=np.zeros(4, dtype=int))
    sel = select(tmp_path / "t.parquet", 0.5, targets=np.zeros(4, dtype=int), higher_is_harder=False)
    np.testing.assert_array_equal(sel.ids, [0, 1])


def test_drop_reads_the_recalls_of_the_scores_run_and_subset_takes_a_selection(run):
    s = score(run, "aum")
    auto = select(s, 0.5, method="topk", quota="drop")
    given = select(s, 0.5, method="topk", quota="drop", recalls=open_run(run).val_recalls(DEFAULT_RECALLS))
    np.testing.assert_array_equal(auto.ids, given.ids)
    from pipeline import subset

    assert len(subset(list(range(120)), auto)) == 60


def test_the_api_names_resolve_without_importing_anything_first():
    import inspect
    import subprocess
    import sys

    code = ("import pipeline, inspect; print(callable(pipeline.score), callable(pipeline.select), "
            "list(inspect.signature(pipeline.score).parameters)[:2])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True True ['run', 'method']"
    assert "rate" in inspect.signature(select).parameters


def test_record_and_train_as_functions(tmp_path):
    from pipeline import record, train

    r = record(tmp_path / "run", data="digits", epochs=2, checkpoints="final", device="cpu")
    assert r.epochs == 2 and r.dataset == "digits"
    sel = select(score(r.path, "aum"), 0.5, method="topk", out=tmp_path / "keep.parquet")
    m = train(tmp_path / "keep.parquet", run=r.path, epochs=1, device="cpu")
    assert m["n_train"] == len(sel) and m["out"] == str(r.path / "train" / "keep")
    d = train(run=r.path, epochs=2, device="cpu", dynamic="rcap", rate=0.5, beta=0.5)
    assert d["dynamic"]["beta"] == 0.5
