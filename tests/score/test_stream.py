"""The dynamics-based scores fold RUN/dynamics epoch by epoch: the same values as over the whole column."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.io import open_run
from pipeline.record.synthetic import write_run
from pipeline.score.methods import aum, el2n, forgetting
from pipeline.score.methods._arrays import dynamics_array
from pipeline.score.run import compute


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    rng = np.random.default_rng(0)
    I, E, N, C = 2, 7, 3001, 5
    logits = rng.normal(size=(I, E, N, C)).astype(np.float32) * 3
    logits[:, :, :50] = 0.0  # ties: never learned
    targets = rng.integers(0, C, size=N)
    return open_run(write_run(tmp_path_factory.mktemp("dyn") / "run", logits, targets))


@pytest.mark.parametrize("never", ["epochs", "zero"])
def test_forgetting_streamed_equals_whole_column(run, never):
    want = forgetting.forgetting_events(dynamics_array(run, "correct"), never)
    got = compute(run=run, method="forgetting", params={"never_learned": never})[3]
    assert np.array_equal(got, want)


@pytest.mark.parametrize("space,column", [("logit", "margin"), ("prob", "prob_margin")])
def test_aum_streamed_equals_whole_column(run, space, column):
    want = aum.area_under_margin(dynamics_array(run, column), space)
    got = compute(run=run, method="aum", params={"space": space})[3]
    assert np.array_equal(got, want)


def test_el2n_without_eval_pass_reads_one_epoch(run):
    e = el2n.default_epoch(run.epochs)
    want = dynamics_array(run, "el2n", range(e, e + 1))[:, 0].astype(np.float64).mean(axis=0)
    assert np.array_equal(compute(run=run, method="el2n", params={})[3], want)
