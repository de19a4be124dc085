"""The recording hook writes epochs in slabs: how many epochs a slab holds never changes what lands on disk."""

from __future__ import annotations

import numpy as np
import polars as pl
import zarr

from pipeline.engine import recording as hook
from pipeline.record.run import record


def _record(path, **kw):
    record(run=path, data="digits", data_dir=None, download=False, model=None, epochs=5, inits=2, seed=3,
           batch_size=256, lr=None, device="cpu", eval_pass=True, checkpoints="final", logits_dtype="float16",
           force=False, log=lambda _m: None, **kw)
    g = zarr.open_group(str(path / "trajectories.zarr"), mode="r")
    dyn = pl.scan_parquet(path / "dynamics", hive_partitioning=True).collect().sort("init", "epoch", "sample")
    return g["logits"][:], g["eval_logits"][:], dyn


def test_one_slab_per_epoch_and_one_per_run_write_the_same_run(tmp_path, monkeypatch):
    whole = _record(tmp_path / "whole")  # digits' logits are far below SLAB_BYTES: one slab per init
    monkeypatch.setattr(hook, "SLAB_BYTES", 1)  # every epoch is its own slab
    single = _record(tmp_path / "single")
    for a, b in zip(whole[:2], single[:2]):
        assert a.shape == (2, 5, 1438, 10) and np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)
    assert whole[2].height == 2 * 5 * 1438
    assert whole[2].equals(single[2])
