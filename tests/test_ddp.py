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
