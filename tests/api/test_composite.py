"""Dynamic pruning with any score × sampler (DataCull's dynamic mode): `--dynamic tdds+ccs` and DynamicSampler."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from pipeline import DynamicSampler, score, select
from pipeline.cli import app
from pipeline.engine.memory import MemoryRun
from pipeline.io import PruneError
from pipeline.record.synthetic import write_run

runner = CliRunner()


def test_a_memory_run_scores_exactly_as_a_run_folder(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1, 6, 40, 3)).astype(np.float32)
    y = np.arange(40) % 3
    disk = write_run(tmp_path / "run", z, y)
    for method, params in (("tdds", {"window": 3}), ("aum", {}), ("forgetting", {}), ("el2n", {"epoch": 2}),
                           ("dynunc", {"window": 3}), ("variability", {}), ("entropy", {})):
        np.testing.assert_allclose(score(MemoryRun(z, y), method, **params).score,
                                   score(disk, method, **params).score, rtol=1e-6, err_msg=method)


def test_the_sampler_selects_from_the_scores_of_the_epochs_so_far():
    rng = np.random.default_rng(1)
    y = np.arange(60) % 3
    z = rng.normal(size=(4, 60, 3)).astype(np.float32)  # the logits the "model" gives in epochs 0..3
    s = DynamicSampler("aum+topk", y, 0.5, seed=0, every=2)
    seen = []  # the trajectory as the rule sees it: a sample left out keeps its last logits
    last = np.full((60, 3), np.nan, dtype=np.float32)
    for epoch in range(4):
        s.set_epoch(epoch)
        ids = sorted(s)
        if epoch == 0:
            assert ids == list(range(60))  # warm-up: every sample gets a trajectory
        elif epoch in (1, 3):  # selections (every 2 epochs after the warm-up): topk of AUM of the epochs so far
            expect = select(score(MemoryRun(np.stack(seen)[None], y), "aum"), 0.5, method="topk").ids
            assert ids == expect.tolist(), epoch
        else:
            assert ids == previous
        previous = ids
        for part in np.array_split(np.array(ids), 3):  # trained samples report their logits
            s.update(torch.from_numpy(part), torch.zeros(len(part)), logits=torch.from_numpy(z[epoch, part]))
        last[ids] = z[epoch, ids]
        seen.append(last.copy())
    assert s.plan.selections == [1, 3]


def test_ccs_reads_aum_in_probability_space_unless_told():
    y = np.arange(20) % 2
    assert DynamicSampler("aum+ccs", y, 0.5).plan.score_params == {"space": "prob"}
    assert DynamicSampler("aum+ccs", y, 0.5, space="logit").plan.score_params == {"space": "logit"}
    assert DynamicSampler("aum+topk", y, 0.5).plan.score_params == {}
    assert DynamicSampler("tdds+ccs", y, 0.5, window=3).plan.score_params == {"window": 3}


def test_logits_are_required():
    s = DynamicSampler("aum+ccs", np.arange(20) % 2, 0.5)
    s.set_epoch(0)
    with pytest.raises(PruneError, match="pass them with the losses"):
        s.update(torch.arange(20), torch.zeros(20))


@pytest.mark.parametrize("name,message", [
    ("moderate+ccs", "needs embeddings"),
    ("aum+kcenter", "needs embeddings"),
    ("nope+ccs", "unknown score method 'nope'"),
    ("aum+nope", "unknown"),
])
def test_bad_compositions_are_one_line(name, message):
    with pytest.raises(PruneError, match=message):
        DynamicSampler(name, np.arange(20) % 2, 0.5)


def test_prune_train_dynamic_score_plus_sampler(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r" / "train" / "aum+ccs-0.6"  # --data without a recorded run: the result goes to --out
    res = runner.invoke(app, ["train", "--data", "digits", "--dynamic", "aum+ccs", "--rate", "0.6", "--every", "2",
                              "--epochs", "5", "--device", "cpu", "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["dynamic"]["method"] == "aum+ccs" and m["dynamic"]["selected_at"] == [1, 3]
    assert m["dynamic"]["space"] == "prob"  # CCS's own AUM
    used = pl.read_parquet(out / "samples.parquet")
    n = used.filter(pl.col("epoch") == 0).height  # epoch 0 (the warm-up) trains on the full training set
    per_epoch = used.group_by("epoch").len().sort("epoch")["len"].to_list()
    assert per_epoch == [n] + [n - int(np.floor(0.6 * n + 0.5))] * 4
    # epochs 1-2 train on one subset, 3-4 on the next
    ids = {e: set(used.filter(pl.col("epoch") == e)["sample"].to_list()) for e in range(5)}
    assert ids[1] == ids[2] and ids[3] == ids[4]
    res = runner.invoke(app, ["train", "--data", "digits", "--dynamic", "rs2", "--rate", "0.5", "--every", "2",
                              "--run", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--every applies to --dynamic SCORE+SAMPLER" in res.output


def test_the_api_knows_score_plus_sampler_in_a_fresh_process(tmp_path):
    # SCORE+SAMPLER rules are registered by the API package itself, not by whatever a caller happened to import first
    import subprocess
    import sys

    run = tmp_path / "R"
    res = runner.invoke(app, ["record", "--data", "digits", "--epochs", "2", "--checkpoints", "final", "--device", "cpu",
                              "--run", str(run)])
    assert res.exit_code == 0, res.output
    code = f"import pipeline; pipeline.train(run={str(run)!r}, dynamic='tdds+ccs', rate=0.5, epochs=2)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    m = json.loads((run / "train" / "tdds+ccs-0.5" / "metrics.json").read_text())
    assert m["dynamic"]["method"] == "tdds+ccs" and m["epochs"] == 2
