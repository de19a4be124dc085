"""Early scores: every trajectory score from the first K epochs of a run equals the score of the same run cut to K
epochs on disk, and its table counts only K epochs of query cost."""

from __future__ import annotations

import numpy as np
import pytest

from cli_helpers import error_line, prune
from pipeline.io import open_run, read_scores
from pipeline.record.synthetic import write_run
from pipeline.score.registry import METHODS
from pipeline.score.run import compute

I, E, N, C, K = 2, 7, 40, 4, 3
#: every score that reads the recorded trajectory (logits or dynamics), none of the model-based ones
TRAJECTORY = sorted(n for n, m in METHODS.items()
                    if not m.pool_only and n not in ("grand", "deepfool", "moderate", "prototype", "cal", "random"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("prefix")
    g = np.random.default_rng(3)
    logits = g.normal(size=(I, E, N, C)).astype(np.float32) * 2
    y = g.integers(0, C, N)
    return write_run(d / "long", logits, y), write_run(d / "short", logits[:, :K], y)


@pytest.mark.parametrize("method", TRAJECTORY)
def test_a_prefix_scores_as_the_run_cut_to_it(runs, method):
    long, short = runs
    params = {"window": 2} if "window" in METHODS[method].defaults else {}
    _, _, p_early, early, _ = compute(run=long, method=method, params=dict(params), prefix=K)
    _, _, p_short, want, _ = compute(run=short, method=method, params=dict(params))
    np.testing.assert_allclose(early, want, rtol=1e-6, atol=1e-6)
    assert p_early == p_short


def test_the_table_says_its_prefix_and_its_cost(runs):
    long, _ = runs
    res = prune("score", "--method", "aum", "--run", long, "--prefix", str(K))
    t = read_scores(long / "scores" / f"aum-first{K}.parquet")
    assert f"aum-first{K}.parquet" in res.output
    assert t.meta["prefix"] == K and t.meta["query"]["sample_passes"] == I * K * N
    assert t.meta["query"]["recorded_epochs"] == E and t.meta["epochs_recorded"] == K
    assert open_run(long).upto(E).prefix is None  # the whole run is no prefix
    line = error_line(prune("score", "--method", "aum", "--run", long, "--prefix", str(E + 1), ok=False))
    assert "--prefix" in line and f"[1, {E}]" in line
