"""DDP through torchrun: two gloo processes on the CPU train and record with one process's artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cli_helpers import prune
from pipeline.io import open_run, read_manifest

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def torchrun(*args, cwd: Path) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc-per-node 2 -m pipeline.cli -- ARGS` (the `--` keeps prune's --run from torchrun)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "pipeline.cli",
           "--", *map(str, args)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    prune("record", "--run", root / "run", "--data", "digits", "--epochs", "2")
    prune("score", "--run", root / "run", "--method", "el2n", "--epoch", "1")
    prune("select", "--run", root / "run", "--scores", "el2n", "--rate", "0.5", "--out", root / "keep.parquet")
    return root


def test_ddp_train_on_a_manifest_trains_exactly_its_samples(base):
    res = torchrun("train", "--run", "run", "--manifest", "keep.parquet", "--epochs", "3", "--name", "ddp", cwd=base)
    out = base / "run" / "train" / "ddp"
    m = json.loads((out / "metrics.json").read_text())
    kept = len(read_manifest(base / "keep.parquet").ids)
    assert m["n_train"] == kept == 719 and m["sample_passes"] == 3 * kept
    hist = pl.read_parquet(out / "history.parquet")
    assert hist.height > 0 and 0.0 < m["accuracy"] <= 1.0
    # one process speaks: every line once (rank 1 stays silent)
    assert res.stdout.count("wrote ") == 1 and res.stdout.count("training mlp on digits") == 1
    assert sorted(p.name for p in (base / "run" / "train").iterdir()) == ["ddp"]  # rank 1 left nothing behind


def test_ddp_dynamic_pruning_keeps_every_rank_on_one_subset(base):
    torchrun("train", "--run", "run", "--dynamic", "infobatch", "--rate", "0.3", "--epochs", "3", "--name", "ib",
             cwd=base)
    s = pl.read_parquet(base / "run" / "train" / "ib" / "samples.parquet")
    m = json.loads((base / "run" / "train" / "ib" / "metrics.json").read_text())
    assert m["sample_passes"] == s.height  # the epochs' subsets as rank 0 drew them are what was trained


def test_ddp_record_has_one_value_per_sample_and_epoch_and_scores_as_one_process(tmp_path):
    from pipeline import score
    from pipeline.engine.memory import MemoryRun

    torchrun("record", "--run", "rd", "--data", "digits", "--epochs", "3", cwd=tmp_path)
    r = open_run(tmp_path / "rd")
    assert r.info["processes"] == 2
    z = r.read("logits")
    assert z.shape == (1, 3, 1438, 10) and np.isfinite(z).all()  # every sample, every epoch: no NaN fill left
    d = pl.scan_parquet(tmp_path / "rd" / "dynamics", hive_partitioning=True).collect()
    per_epoch = d.group_by("epoch").agg(pl.col("sample").n_unique().alias("u"), pl.len().alias("n"))
    assert per_epoch["u"].to_list() == [1438] * 3 and per_epoch["n"].to_list() == [1438] * 3
    prune("record", "--run", tmp_path / "one", "--data", "digits", "--epochs", "1")
    assert set(d.columns) == set(pl.scan_parquet(tmp_path / "one" / "dynamics", hive_partitioning=True).collect().columns)
    assert prune("check", "--run", tmp_path / "rd").output.startswith("ok: ")
    # the same gathered logits, as a one-process run in memory: the same scores
    mem = MemoryRun(z.astype(np.float32), r.targets)
    for method, params in (("tdds", {"window": 2}), ("forgetting", {}), ("el2n", {"epoch": 1})):
        np.testing.assert_allclose(score(tmp_path / "rd", method, **params).score, score(mem, method, **params).score,
                                   rtol=1e-5, atol=1e-6)
