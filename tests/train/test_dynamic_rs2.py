"""``--dynamic rs2``: a fresh random subset each epoch (pipeline/train/dynamic/rs2.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.io import PruneError
from pipeline.train.dynamic import DYNAMIC, RS2Plan

from cli_helpers import error_line, prune  # noqa: E402


def test_rs2_without_replacement_covers_everything_before_repeating():
    targets = np.arange(10) % 3
    plan = RS2Plan(targets, 0.7, num_classes=3)  # 3 of 10 per epoch: rounds end mid-epoch
    rng = np.random.default_rng(0)
    counts = np.zeros(10, dtype=int)
    for epoch in range(14):
        ids, w = plan.ids_for_epoch(epoch, rng)
        assert w is None and len(ids) == 3 and len(np.unique(ids)) == 3
        counts[ids] += 1
        # no sample is used twice before every sample has been used once
        assert counts.max() - counts.min() <= 1, (epoch, counts)
    assert counts.sum() == 42


def test_rs2_stratified_keeps_class_shares_and_coverage():
    targets = np.repeat([0, 1, 2], [10, 6, 4])
    plan = RS2Plan(targets, 0.5, num_classes=3, stratify=True)
    rng = np.random.default_rng(1)
    counts = np.zeros(20, dtype=int)
    for epoch in range(7):
        ids, _ = plan.ids_for_epoch(epoch, rng)
        np.testing.assert_array_equal(np.bincount(targets[ids], minlength=3), [5, 3, 2])
        counts[ids] += 1
        for c in range(3):
            cc = counts[targets == c]
            assert cc.max() - cc.min() <= 1


def test_rs2_with_replacement_draws_a_fresh_subset_each_epoch():
    plan = RS2Plan(np.zeros(50, dtype=int), 0.8, num_classes=1, with_replacement=True)
    rng = np.random.default_rng(2)
    subsets = [plan.ids_for_epoch(e, rng)[0] for e in range(30)]
    assert all(len(s) == 10 and len(np.unique(s)) == 10 for s in subsets)
    counts = np.bincount(np.concatenate(subsets), minlength=50)
    assert counts.max() - counts.min() > 1  # independent epochs: uneven use, unlike the default


@pytest.mark.parametrize("extra", [[], ["--stratify", "--with-replacement"]])
def test_rs2_from_the_cli(train_dynamic, extra):
    m, samples, per_epoch = train_dynamic("rs2", *extra)
    N = m["n_total"]
    assert per_epoch["n"].to_list() == [N - round(0.5 * N)] * 3
    assert samples["weight"].unique().to_list() == [1.0]
    assert m["dynamic"]["stratify"] is bool(extra) and m["dynamic"]["with_replacement"] is bool(extra)


def test_rs2_options_elsewhere_are_one_line(dynamic_run):
    assert "rs2 only" in error_line(prune("train", "--run", dynamic_run, "--stratify", ok=False))


def test_rs2_options_are_checked_not_converted(dynamic_run):
    from pipeline import DynamicSampler
    from pipeline.api.functions import train

    with pytest.raises(PruneError, match="--stratify of --dynamic rs2 must be true or false, got 'false'"):
        DynamicSampler("rs2", np.arange(10) % 2, 0.5, stratify="false")
    with pytest.raises(PruneError, match="--stratify of --dynamic rs2 must be true or false, got 'false'"):
        train(run=dynamic_run, dynamic="rs2", rate=0.5, epochs=1, stratify="false")
    assert DYNAMIC["rs2"].option("stratify").parse("false") is False  # what --opt stratify=false gives
