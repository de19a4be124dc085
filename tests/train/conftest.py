"""Shared by the tests of the dynamic pruning rules (one file per rule): one recorded digits run that the
end-to-end tests of every rule train from (tests/conftest.py puts cli_helpers on the import path)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from cli_helpers import prune


@pytest.fixture(scope="session")
def dynamic_run(tmp_path_factory) -> Path:
    """A recorded digits run (3 epochs) that dynamic trainings use; a rule's tests each train under it."""
    run = tmp_path_factory.mktemp("dynamic") / "run"
    prune("record", "--data", "digits", "--epochs", "3", "--batch-size", "128", "--run", run)
    return run


@pytest.fixture
def train_dynamic(dynamic_run):
    """``train_dynamic(method, *extra)``: `prune train --dynamic METHOD --rate 0.5 --epochs 3` under the shared run,
    checked for what every rule writes; returns (metrics, samples, per-epoch counts)."""

    def run(method: str, *extra: str):
        name = f"dyn-{method}-{len(extra)}"
        prune("train", "--run", dynamic_run, "--dynamic", method, "--rate", "0.5", "--epochs", "3", "--name", name,
              *extra)
        out = dynamic_run / "train" / name
        m = json.loads((out / "metrics.json").read_text())
        samples = pl.read_parquet(out / "samples.parquet")
        assert m["dynamic"]["method"] == method and m["dynamic"]["rate"] == 0.5
        assert m["sample_passes"] == samples.height and m["full_data_sample_passes"] == 3 * m["n_total"]
        per_epoch = (samples.group_by("epoch").agg(pl.len().alias("n"), pl.col("sample").n_unique().alias("u"))
                     .sort("epoch"))
        assert per_epoch["epoch"].to_list() == [0, 1, 2] and per_epoch["n"].to_list() == per_epoch["u"].to_list()
        return m, samples, per_epoch

    return run
