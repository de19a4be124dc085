"""`prune record --manifest/--pool`, `prune score --pool`, `prune select --count/--add-to` and `prune rounds`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from cli_helpers import error_line, prune
from pipeline.io import open_run, read_manifest, read_scores
from pipeline.rounds.run import fractions, parse_options, schedule_counts

TINY = ["--data", "digits", "--epochs", "2"]


# -- schedules -------------------------------------------------------------

def test_linear_schedule_counts_by_hand():
    assert schedule_counts(1000, 0.02, 0.1, 4, "linear") == [20, 40, 60, 80, 100]
    assert schedule_counts(1000, 1.0, 0.7, 3, "linear") == [1000, 900, 800, 700]


def test_exponential_schedule_counts_by_hand():
    assert schedule_counts(1000, 0.1, 0.4, 2, "exponential") == [100, 200, 400]
    f = fractions(1.0, 0.125, 3, "exponential")
    np.testing.assert_allclose(f, [1.0, 0.5, 0.25, 0.125])
    assert schedule_counts(16, 1.0, 0.125, 3, "exponential") == [16, 8, 4, 2]


def test_options_parse_numbers_and_booleans():
    assert parse_options(["window=5", "decay=0.5", "label=avg", "last-layer=true"], "--score-opt") == {
        "window": 5, "decay": 0.5, "label": "avg", "last_layer": True}


# -- a query model on a subset, with its pool --------------------------------

@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A full digits run, a random 20% manifest of it, and a run on that manifest with pool and MC dropout."""
    root = tmp_path_factory.mktemp("pool")
    full = root / "full"
    prune("record", "--run", full, *TINY)
    prune("score", "--run", full, "--method", "random")
    lab = root / "lab.parquet"
    prune("select", "--run", full, "--scores", "random", "--method", "random", "--rate", "0.8", "--out", lab)
    q = root / "q"
    prune("record", "--run", q, *TINY, "--manifest", lab, "--pool", "--mc-samples", "3", "--dropout", "0.5",
          "--embeddings", "final")
    return root, full, lab, q


def test_a_subset_run_has_one_row_per_manifest_sample(labelled):
    _, full, lab, q = labelled
    r, f, m = open_run(q), open_run(full), read_manifest(lab)
    assert r.n == len(m.ids) == 288 and r.n_total == f.n == 1438
    np.testing.assert_array_equal(r.sample_ids, m.ids)
    np.testing.assert_array_equal(r.targets, f.targets[m.ids])
    assert r.fingerprint == f.fingerprint  # manifests of this run are valid for the full data
    np.testing.assert_array_equal(r.pool_ids, np.setdiff1d(np.arange(1438), m.ids))
    np.testing.assert_array_equal(r.pool_targets, f.targets[r.pool_ids])
    assert r.pool_array("pool_logits").shape == (1, 2, 1438 - 288, 10)
    mc = r.pool_array("pool_mc_logits")
    assert mc.shape == (1, 3, 1150, 10) and not np.allclose(mc[0, 0], mc[0, 1])  # dropout masks differ per pass
    assert r.pool_array("pool_embeddings").shape[:3] == (1, 1, 1150)
    assert r.info["manifest"]["n_kept"] == 288 and r.info["pool"] is True and r.info["config"]["dropout"] == 0.5


def test_pool_logits_are_the_eval_mode_predictions_of_the_final_model(labelled):
    from pipeline.engine.setup import load_data
    from pipeline.io.checkpoints import load_into
    from pipeline.models import build_model

    _, _, _, q = labelled
    r = open_run(q)
    net = load_into(r.checkpoint_path(0, r.epochs), build_model(r.info["model"], tuple(r.info["input_shape"]), 10),
                    r.info["model"]).eval()
    x = load_data("digits", None, False).train.take(r.pool_ids[:50])
    with torch.no_grad():
        want = net(x).numpy()
    np.testing.assert_allclose(r.pool_array("pool_logits")[0, -1, :50], want, atol=2e-2)  # stored as float16


def test_scores_of_a_subset_run_carry_the_data_sets_ids(labelled):
    root, _, lab, q = labelled
    prune("score", "--run", q, "--method", "loss")
    t = read_scores(q / "scores" / "loss.parquet")
    np.testing.assert_array_equal(t.sample, read_manifest(lab).ids)
    out = root / "half.parquet"
    prune("select", "--run", q, "--scores", "loss", "--rate", "0.5", "--out", out)
    m = read_manifest(out)
    assert len(m.ids) == 144 and np.isin(m.ids, read_manifest(lab).ids).all()
    assert m.meta["n_total"] == 288 and m.meta["n_data"] == 1438


def test_pool_entropy_table_and_acquisition_by_count(labelled):
    root, _, lab, q = labelled
    res = prune("score", "--run", q, "--pool", "--method", "entropy")
    assert "1150 scores" in res.output
    t = read_scores(q / "scores" / "pool-entropy.parquet")
    r = open_run(q)
    np.testing.assert_array_equal(t.sample, r.pool_ids)
    p = torch.softmax(torch.from_numpy(r.pool_array("pool_logits")[0, -1]).double(), 1).numpy()
    np.testing.assert_allclose(t.score, -(p * np.log(p)).sum(1), rtol=1e-9, atol=1e-12)
    out = root / "lab2.parquet"
    res = prune("select", "--run", q, "--scores", "pool-entropy", "--count", "40", "--add-to", lab, "--out", out)
    assert "chose 40 of 1150 pool samples" in res.output
    m, old = read_manifest(out), read_manifest(lab)
    assert len(m.ids) == 328 and np.isin(old.ids, m.ids).all()
    acquired = np.setdiff1d(m.ids, old.ids)
    top = t.sample[np.argsort(-t.score, kind="stable")[:40]]
    np.testing.assert_array_equal(np.sort(top), acquired)  # the 40 most uncertain pool samples
    assert m.meta["added_to"]["n"] == 288 and m.meta["candidates"] == "pool"


def test_pool_needs_label_free_scores_and_a_pool(labelled):
    _, full, lab, q = labelled
    line = error_line(prune("score", "--run", q, "--pool", "--method", "tdds", ok=False))
    assert "needs the labels" in line and "entropy" in line
    assert "has no pool" in error_line(prune("score", "--run", full, "--pool", "--method", "entropy", ok=False))
    assert "--manifest" in error_line(prune("record", "--run", full.parent / "x", *TINY, "--pool", ok=False))
    assert "--dropout" in error_line(prune("record", "--run", full.parent / "x", *TINY, "--manifest", lab, "--pool",
                                           "--mc-samples", "2", ok=False))
    assert not (full.parent / "x").exists()
    # a labelled set holding pool samples cannot be added to: acquisition never relabels a sample
    acq = full.parent / "acq.parquet"
    prune("score", "--run", q, "--pool", "--method", "entropy")
    prune("select", "--run", q, "--scores", "pool-entropy", "--count", "5", "--out", acq)
    line = error_line(prune("select", "--run", q, "--scores", "pool-entropy", "--count", "5", "--add-to", acq,
                            "--out", full.parent / "y.parquet", ok=False))
    assert "already holds" in line and not (full.parent / "y.parquet").exists()


def test_bald_and_variation_ratio_from_recorded_mc_passes(labelled):
    _, _, _, q = labelled
    prune("score", "--run", q, "--pool", "--method", "bald")
    prune("score", "--run", q, "--pool", "--method", "variation-ratio")
    mc = open_run(q).pool_array("pool_mc_logits")[0].astype(np.float64)
    p = np.exp(mc - mc.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    H = lambda a: -(a * np.log(a)).sum(-1)  # noqa: E731
    bald = read_scores(q / "scores" / "pool-bald.parquet").score
    np.testing.assert_allclose(bald, np.maximum(H(p.mean(0)) - H(p).mean(0), 0), atol=1e-6)
    pred = p.argmax(-1)  # (3, pool)
    mode = np.array([np.bincount(c, minlength=10).max() for c in pred.T])
    np.testing.assert_allclose(read_scores(q / "scores" / "pool-variation-ratio.parquet").score, 1 - mode / 3)


# -- prune rounds ------------------------------------------------------------

ROUND_ARGS = [*TINY, "--final-epochs", "2"]


def test_acquire_rounds_grow_the_labelled_set_by_the_top_of_the_pool(tmp_path):
    res = prune("rounds", "--run", tmp_path, "--name", "al", "--strategy", "acquire", "--start-frac", "0.1",
                "--final-frac", "0.2", "--iterations", "2", *ROUND_ARGS)
    folder = tmp_path / "rounds" / "al"
    sets = [read_manifest(folder / f"round={k}" / "keep.parquet").ids for k in range(3)]
    assert [len(s) for s in sets] == [144, 216, 288]  # round_half_up(0.1, 0.15, 0.2 × 1438)
    for k in (1, 2):
        assert np.isin(sets[k - 1], sets[k]).all()
        acquired = np.setdiff1d(sets[k], sets[k - 1])
        t = read_scores(folder / f"round={k}" / "scores.parquet")
        assert not np.isin(t.sample, sets[k - 1]).any()  # scored the pool only
        np.testing.assert_array_equal(np.sort(t.sample[np.argsort(-t.score, kind="stable")[:len(acquired)]]), acquired)
        q = open_run(folder / f"round={k}" / "query")
        np.testing.assert_array_equal(q.sample_ids, sets[k - 1])
    df = pl.read_parquet(folder / "results.parquet")
    assert df["n_train"].to_list() == [144, 216, 288] and df["model"].to_list() == ["query", "query", "final"]
    assert df["accuracy"].is_between(0, 1).all()
    assert "results.parquet" in res.output and "fraction labelled" in res.output


def test_prune_rounds_only_shrink_and_match_the_schedule(tmp_path):
    prune("rounds", "--run", tmp_path, "--name", "ip", "--strategy", "prune", "--final-frac", "0.5",
          "--iterations", "2", "--method", "el2n", "--sampler", "topk", "--score-opt", "epoch=1", *ROUND_ARGS)
    folder = tmp_path / "rounds" / "ip"
    assert not (folder / "round=0").exists()  # the first query model trains on everything
    a, b = (read_manifest(folder / f"round={k}" / "keep.parquet").ids for k in (1, 2))
    assert (len(a), len(b)) == (1079, 719) and np.isin(b, a).all()  # 1438 · 0.75, · 0.5
    t = read_scores(folder / "round=2" / "scores.parquet")
    np.testing.assert_array_equal(t.sample, a)
    np.testing.assert_array_equal(np.sort(t.sample[np.argsort(-t.score, kind="stable")[:719]]), b)  # keep hard
    assert read_manifest(folder / "round=2" / "keep.parquet").fingerprint == open_run(folder / "round=1" / "query").fingerprint
    df = pl.read_parquet(folder / "results.parquet")
    assert df["n_train"].to_list() == [1438, 1079, 719]


def test_ccs_rounds_read_aum_in_probability_space(tmp_path):
    prune("rounds", "--run", tmp_path, "--name", "pa", "--strategy", "prune", "--final-frac", "0.5",
          "--iterations", "1", "--method", "aum", "--sampler", "ccs", *ROUND_ARGS)
    folder = tmp_path / "rounds" / "pa"
    assert json.loads((folder / "rounds.json").read_text())["score_options"] == {"space": "prob"}
    assert read_scores(folder / "round=1" / "scores.parquet").meta["parameters"]["space"] == "prob"


def test_rounds_errors_are_one_line_and_damage_nothing(tmp_path):
    def err(*args):
        return error_line(prune("rounds", "--run", tmp_path, *args, *ROUND_ARGS, ok=False))

    assert "must be larger" in err("--strategy", "acquire", "--start-frac", "0.3", "--final-frac", "0.2")
    assert "must be smaller" in err("--strategy", "prune", "--start-frac", "0.5", "--final-frac", "0.7")
    assert "needs the labels" in err("--strategy", "acquire", "--final-frac", "0.2", "--method", "tdds")
    assert "acquires 0 samples in round" in err("--strategy", "acquire", "--start-frac", "0.1", "--final-frac",
                                                "0.101", "--iterations", "3")
    assert "--mc-samples" in err("--strategy", "acquire", "--final-frac", "0.2", "--method", "bald")
    assert "--strategy must be" in err("--strategy", "grow", "--final-frac", "0.2")
    assert not (tmp_path / "rounds").exists()
    mine = tmp_path / "rounds" / "mine"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    assert "not a rounds folder" in err("--name", "mine", "--strategy", "prune", "--final-frac", "0.5", "--force")
    assert (mine / "notes.txt").read_text() == "keep me"


def test_a_rerun_with_other_arguments_is_refused(tmp_path):
    args = ["--run", tmp_path, "--name", "a", "--strategy", "acquire", "--start-frac", "0.1", "--final-frac", "0.15",
            *ROUND_ARGS]
    prune("rounds", *args)
    before = (tmp_path / "rounds" / "a" / "results.parquet").read_bytes()
    line = error_line(prune("rounds", *args[:-2], "--final-epochs", "3", ok=False))
    assert "other arguments" in line and "final_epochs" in line
    res = prune("rounds", *args)  # the same arguments: everything is finished, nothing is redone
    assert "finished before" in res.output and "epoch" not in res.output
    assert (tmp_path / "rounds" / "a" / "results.parquet").read_bytes() == before


def test_a_killed_rounds_run_resumes_without_redoing_finished_rounds(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "pipeline.cli", "rounds", "--run", str(tmp_path), "--name", "k", "--strategy",
           "acquire", "--start-frac", "0.1", "--final-frac", "0.3", "--iterations", "2", "--data", "digits",
           "--epochs", "30", "--final-epochs", "2"]
    folder = tmp_path / "rounds" / "k"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    t0 = time.monotonic()
    while not (folder / "round=2").exists():  # round 1 is done once round 2 begins
        assert proc.poll() is None, "rounds finished before it could be killed"
        assert time.monotonic() - t0 < 300
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    done1 = folder / "round=1" / "done.json"
    assert done1.exists() and not (folder / "round=2" / "done.json").exists()
    stamps = {p: p.stat().st_mtime_ns for p in (folder / "round=1").rglob("*") if p.is_file()}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "round 1: finished before" in res.stdout and "round 2/2: query model" in res.stdout
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # round 1 untouched
    assert pl.read_parquet(folder / "results.parquet")["n_train"].to_list() == [144, 288, 431]
