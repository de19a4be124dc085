"""A manifest is a manifest: a score table (which has sample and target columns too) is refused where a manifest
of kept samples is expected, in one line; a user's own table of ids stays accepted."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import PruneError, read_manifest, write_manifest, write_scores


def test_a_score_table_is_not_a_manifest(tmp_path):
    path = tmp_path / "tdds.parquet"
    write_scores(path, np.arange(4), np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4]), method="tdds",
                 parameters={}, higher_is_harder=True, fingerprint="f" * 64, source_run=str(tmp_path))
    with pytest.raises(PruneError, match=r"tdds\.parquet is a scores table, not a manifest of kept samples"):
        read_manifest(path)
    # the command line says the same in one line, and trains nothing (no run is even opened)
    res = CliRunner().invoke(app, ["train", "--manifest", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "is a scores table, not a manifest" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_manifests_are_read_and_a_users_own_table_too(tmp_path):
    write_manifest(tmp_path / "keep.parquet", np.array([1, 3]), np.array([1, 1]), {"method": "random"})
    assert read_manifest(tmp_path / "keep.parquet").sample.tolist() == [1, 3]
    pq.write_table(pa.table({"sample": [0, 2], "target": [0, 0]}), tmp_path / "mine.parquet")  # no metadata at all
    assert read_manifest(tmp_path / "mine.parquet").sample.tolist() == [0, 2]
