"""``--dynamic infobatch``: drop part of the below-mean-loss samples, rescale the rest
(pipeline/train/dynamic/infobatch.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.engine.loop import weighted_loss
from pipeline.train.dynamic import InfoBatchPlan, infobatch_selection

from cli_helpers import error_line, prune  # noqa: E402


def test_infobatch_drops_part_of_the_low_loss_samples_and_rescales_the_rest():
    losses = np.array([0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 3.0, 4.0])  # mean 1.375: five samples below it
    ids, w = infobatch_selection(losses, 0.4, np.random.default_rng(0))
    low, high = ids[ids < 5], ids[ids >= 5]
    np.testing.assert_array_equal(high, [5, 6, 7])  # above the mean: always trained, weight 1
    assert len(low) == 5 - round(0.4 * 5) == 3
    np.testing.assert_allclose(w[ids < 5], 1 / 0.6)
    np.testing.assert_array_equal(w[ids >= 5], 1.0)
    # the rescaled loss is the batch mean of weight x loss
    per = torch.tensor(losses[ids], dtype=torch.float32)
    wt = torch.tensor(w, dtype=torch.float32)
    torch.testing.assert_close(weighted_loss(per, torch.zeros(len(ids), dtype=torch.long), wt, None),
                               (per * wt).sum() / len(ids))


def test_infobatch_schedule_first_epoch_full_last_eighth_unpruned():
    plan = InfoBatchPlan(np.zeros(16, dtype=int), 0.5, num_classes=1, epochs=8)
    rng = np.random.default_rng(0)
    assert [plan.prunes(e) for e in range(8)] == [True] * 7 + [False]  # the last 12.5% of 8 epochs
    ids, w = plan.ids_for_epoch(0, rng)
    assert len(ids) == 16 and w is None  # equal starting losses: nothing is below the mean
    plan.on_batch(0, torch.arange(16), None, torch.arange(16, dtype=torch.float32))  # mean 7.5: samples 0..7 are low
    ids, w = plan.ids_for_epoch(1, rng)
    assert len(ids) == 8 + 4 and set(range(8, 16)) <= set(ids.tolist())
    np.testing.assert_allclose(w[ids < 8], 2.0)
    ids, w = plan.ids_for_epoch(7, rng)
    assert len(ids) == 16 and w is None


def test_infobatch_from_the_cli(train_dynamic):
    m, samples, per_epoch = train_dynamic("infobatch")
    N = m["n_total"]
    # 3 epochs: epochs 0 and 1 may prune (e + 1 <= 2.625), epoch 0 has nothing below the mean yet
    assert per_epoch["n"][0] == N and per_epoch["n"][2] == N and per_epoch["n"][1] < N
    assert set(samples["weight"].unique().to_list()) == {1.0, 2.0}


@pytest.mark.parametrize("args, expected", [
    (["--dynamic", "infobatch", "--rate", "0.5", "--budget", "drop"], "--budget epochs"),
    (["--dynamic", "infobatch", "--rate", "0.95"], "at most 0.9"),
])
def test_infobatch_rates_and_budgets_are_one_line(dynamic_run, args, expected):
    assert expected in error_line(prune("train", "--run", dynamic_run, *args, ok=False))
