"""`prune select --beta auto`: β chosen by validation accuracy of trial trainings, never by test accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pipeline.api.functions as api
from pipeline.io import PruneError, read_manifest
from cli_helpers import error_line, prune


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("auto")
    mp = pytest.MonkeyPatch()
    mp.chdir(d)
    mp.setenv("OMP_NUM_THREADS", "1")
    prune("record", "--data", "digits", "--epochs", "6", "--batch-size", "256", "--checkpoints", "final")
    prune("score", "--method", "aum")
    yield d
    mp.undo()


def test_auto_keeps_the_best_validation_beta_and_its_exact_selection(workdir):
    res = prune("select", "--method", "ccs", "--rate", "0.7", "--beta", "auto", "--out", "auto.parquet")
    m = read_manifest("auto.parquet")
    found = m.meta["beta_auto"]
    assert found["grid"] == [0.0, 0.1, 0.2, 0.3] and found["epochs"] == 6 and found["seed"] == 0
    vals = found["val_accuracy"]
    assert list(vals) == ["0", "0.1", "0.2", "0.3"]
    best = max(vals.values())
    chosen = next(float(b) for b, v in vals.items() if v == best)  # the first (smaller) β of equals
    assert found["chosen"] == chosen == m.meta["parameters"]["beta"]
    assert 0.0 <= found["random_val_accuracy"] <= 1.0
    assert f"chose β={chosen:g}" in res.output and res.output.count("--beta auto:") == 6  # 4 β + random + choice
    # the manifest is the plain selection with the chosen β ...
    prune("select", "--method", "ccs", "--rate", "0.7", "--beta", str(chosen), "--out", "plain.parquet")
    assert np.array_equal(read_manifest("plain.parquet").ids, m.ids) and len(m.ids) == 1438 - round(0.7 * 1438)
    # ... and `prune train` on it reproduces the trial's validation accuracy (same recipe, seed and threads)
    prune("train", "--manifest", "auto.parquet", "--name", "auto")
    metrics = json.loads(Path("runs/default/train/auto/metrics.json").read_text())
    assert metrics["final"]["val_accuracy"] == pytest.approx(best, abs=0)
    # the trial trainings are gone
    assert not [p for p in Path("runs/default").iterdir() if "beta-auto" in p.name]


def test_the_grid_keeps_what_the_rate_allows(workdir):
    prune("select", "--method", "ccs", "--rate", "0.3", "--beta", "auto", "--beta-grid", "0.5,0.2,0.2",
          "--tune-epochs", "1", "--out", "g.parquet")
    found = read_manifest("g.parquet").meta["beta_auto"]
    assert found["grid"] == [0.2] and found["chosen"] == 0.2 and found["epochs"] == 1  # 0.5 drops more than 0.3


@pytest.mark.parametrize("args, words", [
    (["--method", "topk", "--beta", "auto"], "--method topk has no β to choose"),
    (["--method", "ccs", "--beta", "0.1", "--beta-grid", "0,0.1"], "go with --beta auto"),
    (["--method", "ccs", "--beta", "lots"], "--beta must be a number in [0, 1) or 'auto'"),
    (["--method", "ccs", "--beta", "auto", "--beta-grid", "0,x"], "--beta-grid takes comma-separated numbers"),
    (["--method", "ccs", "--beta", "auto", "--beta-grid", "0.5,0.6"], "every β drops more than rate"),
    (["--method", "ccs", "--beta", "auto", "--tune-epochs", "0"], "--tune-epochs must be at least 1"),
])
def test_bad_auto_input_is_one_line(workdir, args, words):
    line = error_line(prune("select", "--rate", "0.3", *args, "--out", "bad.parquet", ok=False))
    assert words in line
    assert not Path("bad.parquet").exists()


def _fake_train(accuracies):
    """A stand-in for the trial trainings: the validation accuracy of each β (None: random) from a table."""
    def train(manifest, **kw):
        from pipeline.io.folders import in_use

        assert in_use(Path(manifest).parent)  # the trials' folder is locked: prune clean leaves it alone
        meta = read_manifest(manifest).meta
        key = None if meta["method"] == "random" else meta["parameters"]["beta"]
        return {"final": {"val_accuracy": accuracies[key], "accuracy": 0.0}, "epochs": 3}
    return train


def test_ties_go_to_the_smaller_beta_and_random_above_every_beta_warns(workdir, monkeypatch):
    monkeypatch.setattr(api, "train", _fake_train({0.0: 0.5, 0.1: 0.7, 0.2: 0.7, 0.3: 0.6, None: 0.9}))
    res = prune("select", "--method", "ccs", "--rate", "0.7", "--beta", "auto", "--out", "t.parquet")
    assert read_manifest("t.parquet").meta["beta_auto"]["chosen"] == 0.1
    assert "warning: random pruning at this rate reached a higher val accuracy (0.9000)" in res.output
    monkeypatch.setattr(api, "train", _fake_train({0.0: 0.5, 0.1: 0.7, 0.2: 0.8, 0.3: 0.6, None: 0.75}))
    res = prune("select", "--method", "ccs", "--rate", "0.7", "--beta", "auto", "--out", "t.parquet")
    assert read_manifest("t.parquet").meta["beta_auto"]["chosen"] == 0.2 and "warning" not in res.output
    assert not [p for p in Path("runs/default").iterdir() if "beta-auto" in p.name]  # removed at the end


def test_the_api_face_is_the_same_selection(workdir):
    sel = api.select("runs/default/scores/aum.parquet", 0.7, method="ccs", beta="auto", beta_grid=[0.0, 0.3],
                     tune_epochs=1)
    found = sel.meta["beta_auto"]
    assert found["grid"] == [0.0, 0.3] and found["epochs"] == 1
    prune("select", "--method", "ccs", "--rate", "0.7", "--beta", "auto", "--beta-grid", "0,0.3", "--tune-epochs",
          "1", "--out", "cli.parquet")
    assert np.array_equal(read_manifest("cli.parquet").ids, sel.ids)
    with pytest.raises(PruneError, match="trains on the run the scores came from"):
        api.select(np.linspace(0, 1, 20), 0.5, method="ccs", beta="auto")
    with pytest.raises(PruneError, match="targets do not apply"):
        api.select("runs/default/scores/aum.parquet", 0.5, method="ccs", beta="auto", targets=np.arange(1438) % 2)


def test_ccs_on_the_logit_margin_says_which_aum_ccs_reads(workdir):
    res = prune("select", "--method", "ccs", "--rate", "0.5", "--scores", "aum", "--out", "n.parquet")
    assert ("note: ccs was made for aum with space=prob (`prune score --method aum --space prob`; sweeps, rounds and "
            "--dynamic aum+ccs read it so by themselves); this table has space=logit") in " ".join(res.output.split())
    prune("score", "--method", "aum", "--space", "prob", "--out", "runs/default/scores/aum-prob.parquet")
    res = prune("select", "--method", "ccs", "--rate", "0.5", "--scores", "aum-prob", "--out", "n.parquet")
    assert "note: ccs" not in res.output
    assert "note: ccs" not in prune("select", "--method", "topk", "--rate", "0.5", "--scores", "aum",
                                    "--out", "n.parquet").output
    # a table that does not record its space (written by other code) is named as such, not as "space=None"
    from pipeline.io import read_scores, write_scores

    t = read_scores("runs/default/scores/aum.parquet")
    write_scores("runs/default/scores/aum-bare.parquet", t.sample, t.target, t.score, method="aum", parameters={},
                 higher_is_harder=False, fingerprint=t.meta["fingerprint"], source_run="runs/default")
    res = prune("select", "--method", "ccs", "--rate", "0.5", "--scores", "aum-bare", "--out", "n.parquet")
    assert "this table has no space recorded" in " ".join(res.output.split())


def test_ccs_names_its_rate_default_beta_and_the_way_to_choose_one(workdir):
    out = prune("select", "--method", "ccs", "--rate", "0.9", "--scores", "aum", "--out", "n.parquet").output
    assert "note: β=0.3 is CCS's CIFAR-10 setting for this rate; `--beta auto` chooses β" in out
    for args in (["--rate", "0.5"], ["--rate", "0.9", "--beta", "0.2"]):  # β 0 by default; β given
        assert "CIFAR-10 setting" not in prune("select", "--method", "ccs", *args, "--scores", "aum",
                                              "--out", "n.parquet").output
