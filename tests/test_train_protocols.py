"""Training protocols: budgets, CDB-W, dynamic pruning (RS2, RCAP, InfoBatch), repeated seeds.

Rules are pinned on hand-computed cases; the CLI runs each protocol end to
end on the tiny digits set (a few epochs).
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_manifest, write_manifest
from pipeline.models import TrainConfig
from pipeline.engine.budget import budget_epochs, drop_epochs, iteration_epochs, steps_per_epoch
from pipeline.engine.cdbw import cdbw_weights
from pipeline.engine.loop import lr_factor, weighted_loss
from pipeline.train.dynamic import (
    InfoBatchPlan,
    RCAPPlan,
    RS2Plan,
    infobatch_selection,
    rcap_budgets,
    rcap_probabilities,
    sample_by_class,
)

from cli_helpers import error_line, prune, runner  # noqa: E402


# ---------------------------------------------------------------------------- budgets


def test_drop_stretch_is_drops_formula():
    # E' = int((0.5 + 0.5 f) E / f): MNIST-1D at rate 0.7, f = 4800/16000 = 0.3 -> 40 * 0.65 / 0.3 = 86.67
    assert drop_epochs(40, 4800, 16000) == 86
    assert drop_epochs(200, 25000, 50000) == 300  # f = 0.5: E * 1.5, a whole number kept whole
    assert drop_epochs(30, 16000, 16000) == 30  # full data: unchanged
    assert budget_epochs("drop", 40, 4800, 16000, 128) == 86


def test_iterations_budget_matches_full_data_steps():
    # full data: 40 epochs x ceil(16000/128)=125 steps = 5000; subset: ceil(4800/128) = 38 steps per epoch
    assert steps_per_epoch(4800, 128) == 38
    assert iteration_epochs(40, 4800, 16000, 128) == math.ceil(5000 / 38) == 132
    assert budget_epochs("epochs", 40, 4800, 16000, 128) == 40


def test_schedule_scales_with_the_stretched_epochs():
    cfg = TrainConfig("mlp", 40, 128, 0.1, 0.9, 0.0, False, "multistep", (0.5, 0.75), 0.1)
    # milestones are fractions of the epochs trained: at E' = 86 the drops come at 43 and round(64.5) = 64
    factors = [lr_factor(cfg, e, 86) for e in range(86)]
    assert factors[42] == 1.0 and factors[43] == pytest.approx(0.1) and factors[63] == pytest.approx(0.1)
    assert factors[64] == pytest.approx(0.01)
    cos = TrainConfig("mlp", 40, 128, 0.1, 0.9, 0.0, False, "cosine", (), 0.1)
    assert lr_factor(cos, 43, 86) == pytest.approx(0.5)  # half way through the stretched run, not the original one


# ---------------------------------------------------------------------------- CDB-W


def test_cdbw_weights_are_one_minus_previous_val_recall():
    logs = [SimpleNamespace(evals={"val": SimpleNamespace(recall=np.array([1.0, 0.5, 0.0, 0.75]))})]
    assert cdbw_weights(0, []) is None
    np.testing.assert_array_equal(cdbw_weights(1, logs), [0.0, 0.5, 1.0, 0.25])


def test_weighted_loss_is_torchs_weighted_cross_entropy():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 4, generator=g)
    y = torch.tensor([0, 1, 2, 3, 1, 1, 2])
    w = torch.tensor([0.0, 0.5, 1.0, 0.25])
    per = F.cross_entropy(z, y, reduction="none")
    torch.testing.assert_close(weighted_loss(per, y, None, w), F.cross_entropy(z, y, weight=w))
    torch.testing.assert_close(weighted_loss(per, y, None, None), per.mean())


def test_cdbw_batch_of_perfect_classes_is_zero_loss_not_nan():
    z = torch.randn(3, 4, requires_grad=True)
    y = torch.tensor([0, 0, 0])
    w = torch.tensor([0.0, 0.5, 1.0, 0.25])  # class 0 had recall 1
    assert torch.isnan(F.cross_entropy(z, y, weight=w))  # what torch (and DRoP's code) would do
    loss = weighted_loss(F.cross_entropy(z, y, reduction="none"), y, None, w)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(z.grad == 0)


# ---------------------------------------------------------------------------- RS2


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


# ---------------------------------------------------------------------------- RCAP


def test_rcap_probabilities_hand_computed():
    # beta 1, clip ln 4: class 0 losses (0, ln 3) -> (1, 3)/4; class 1 (0, 0, 10 -> ln 4) -> (1, 1, 4)/6
    p = rcap_probabilities(np.array([0.0, np.log(3), 0.0, 0.0, 10.0]), np.array([0, 0, 1, 1, 1]), 2, 1.0, np.log(4))
    np.testing.assert_allclose(p, [1 / 4, 3 / 4, 1 / 6, 1 / 6, 4 / 6])
    # beta scales the exponent: (0, ln 3) / 0.5 -> (1, 9)/10
    p = rcap_probabilities(np.array([0.0, np.log(3)]), np.array([0, 0]), 1, 0.5, 5.0)
    np.testing.assert_allclose(p, [0.1, 0.9])


def test_rcap_budgets_hand_computed():
    # equal mass: a = sqrt(prior) = sqrt(.6, .3, .1); 7 * a / sum a = (3.31, 2.34, 1.35): class 2 is capped at 1,
    # the other 6 re-spread as (3.515, 2.485) -> floors (3, 2) + the one left to the larger remainder
    np.testing.assert_array_equal(rcap_budgets(np.ones(3), np.array([6, 3, 1]), 7), [4, 2, 1])
    # mass (1, .25, .1), sizes (2, 8, 10): a = sqrt(.1, .1, .05); 10 * a / sum a = (3.69, 3.69, 2.61): class 0 capped
    # at 2, then 8 * (1, sqrt .5) / (1 + sqrt .5) = (4.686, 3.314) -> (2, 5, 3)
    np.testing.assert_array_equal(rcap_budgets(np.array([1.0, 0.25, 0.1]), np.array([2, 8, 10]), 10), [2, 5, 3])
    # budgets always sum exactly to the total and never exceed a class
    rng = np.random.default_rng(0)
    for _ in range(50):
        sizes = rng.integers(1, 40, size=6)
        total = int(rng.integers(6, sizes.sum() + 1))
        b = rcap_budgets(rng.random(6), sizes, total)
        assert b.sum() == total and np.all(b <= sizes) and np.all(b >= 1)


def test_class_sampling_follows_successive_draws_without_replacement():
    # 20,000 independent classes of 3 samples, p = (.5, .3, .2), 2 drawn from each: the chance that sample i is
    # left out is sum over first draws j != i of p_j * p_k / (1 - p_j), k the third sample
    p3 = np.array([0.5, 0.3, 0.2])
    out = np.array([sum(p3[j] * p3[3 - i - j] / (1 - p3[j]) for j in range(3) if j != i) for i in range(3)])
    m = 20000
    targets = np.repeat(np.arange(m), 3)
    ids = sample_by_class(np.tile(p3, m), targets, np.full(m, 2), np.random.default_rng(3))
    assert len(ids) == 2 * m
    np.testing.assert_array_equal(np.bincount(targets[ids], minlength=m), np.full(m, 2))
    freq_out = 1 - np.bincount(ids % 3, minlength=3) / m
    np.testing.assert_allclose(freq_out, out, atol=0.01)


def test_rcap_plan_first_epoch_and_loss_feedback():
    targets = np.repeat([0, 1], [6, 4])
    plan = RCAPPlan(targets, 0.5, num_classes=2, beta=1.0)
    assert plan.clip == pytest.approx(np.log(2))
    rng = np.random.default_rng(0)
    ids, w = plan.ids_for_epoch(0, rng)
    # epoch 0: every loss is the clip value and the mass of every class is 1: budgets ∝ sqrt(prior)
    np.testing.assert_array_equal(np.bincount(targets[ids], minlength=2),
                                  rcap_budgets(np.ones(2), np.array([6, 4]), 5))
    assert w is None
    # losses of the trained samples replace the initial ones; the others keep theirs
    plan.on_batch(0, torch.from_numpy(ids), None, torch.zeros(len(ids)))
    last = plan.last_losses()
    assert np.all(last[ids] == 0) and np.allclose(np.delete(last, ids), np.log(2))
    p = rcap_probabilities(last, targets, 2, 1.0, np.log(2))
    mass = np.bincount(targets[ids], weights=p[ids], minlength=2)
    ids2, _ = plan.ids_for_epoch(1, rng)
    np.testing.assert_array_equal(np.bincount(targets[ids2], minlength=2), rcap_budgets(mass, np.array([6, 4]), 5))


# ---------------------------------------------------------------------------- InfoBatch


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


# ---------------------------------------------------------------------------- the loop


def test_zero_weights_leave_the_model_untouched():
    from pipeline.data import load_dataset
    from pipeline.engine.loop import fit
    from pipeline.engine.plans import StaticPlan
    from pipeline.engine.setup import build

    bundle = load_dataset("digits")
    cfg = TrainConfig("mlp", 1, 64, 0.1, 0.9, 0.0, False, "cosine", (), 0.1)
    net = build("mlp", bundle, 0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    ids = np.arange(200)
    fit(net, bundle, ids, cfg, epochs=1, device=torch.device("cpu"), seed=0, plan=StaticPlan(ids, np.zeros(200)))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_fit_feeds_cdbw_the_previous_epochs_val_recall():
    from pipeline.data import load_dataset
    from pipeline.engine.loop import fit
    from pipeline.engine.setup import build

    bundle = load_dataset("digits")
    cfg = TrainConfig("mlp", 3, 128, 0.05, 0.9, 5e-4, True, "cosine", (), 0.1)
    seen = []

    def spy(epoch, logs):
        w = cdbw_weights(epoch, logs)
        seen.append((epoch, None if w is None else w.copy()))
        return w

    logs = fit(build("mlp", bundle, 0), bundle, np.arange(len(bundle.train)), cfg, epochs=3,
               device=torch.device("cpu"), seed=0, class_weights=spy)
    assert [e for e, _ in seen] == [0, 1, 2] and seen[0][1] is None
    for e in (1, 2):
        np.testing.assert_array_equal(seen[e][1], 1 - logs[e - 1].evals["val"].recall)
    assert all(math.isfinite(e.train_loss) for e in logs)


# ---------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One recorded digits run (3 epochs) and a random manifest keeping half the samples."""
    d = tmp_path_factory.mktemp("protocols")
    mp = pytest.MonkeyPatch()
    mp.chdir(d)
    prune("record", "--data", "digits", "--epochs", "3", "--batch-size", "128")
    prune("score", "--method", "random")
    prune("select", "--method", "random", "--rate", "0.5")
    yield d
    mp.undo()


def metrics_of(workdir, name):
    return json.loads((workdir / "runs" / "default" / "train" / name / "metrics.json").read_text())


def test_budgets_from_the_cli(workdir):
    n = read_manifest(workdir / "keep.parquet").sample.size
    prune("train", "--manifest", "keep.parquet", "--budget", "drop", "--epochs", "2")
    m = metrics_of(workdir, "keep-drop")
    N = m["n_total"]
    assert m["epochs"] == drop_epochs(2, n, N) == 3 and m["budget"]["full_data_epochs"] == 2
    assert m["steps"] == 3 * steps_per_epoch(n, 128) and m["sample_passes"] == 3 * n
    assert m["full_data_sample_passes"] == 2 * N
    prune("train", "--manifest", "keep.parquet", "--budget", "iterations", "--epochs", "2")
    m = metrics_of(workdir, "keep-iterations")
    full_steps = 2 * steps_per_epoch(N, 128)
    assert m["budget"]["full_data_steps"] == full_steps
    assert full_steps <= m["steps"] < full_steps + steps_per_epoch(n, 128)
    for key in ("accuracy", "balanced_accuracy", "worst_class_accuracy", "per_class", "loss", "best", "n_train",
                "epochs", "steps", "seconds", "manifest", "seed", "final", "budget", "sample_passes",
                "full_data_sample_passes", "cdbw", "dynamic"):
        assert key in m
    assert m["final"]["epoch"] == m["epochs"] - 1 and m["final"]["accuracy"] == m["accuracy"]


def test_cdbw_from_the_cli(workdir):
    prune("train", "--manifest", "keep.parquet", "--cdbw", "--epochs", "2")
    m = metrics_of(workdir, "keep-cdbw")
    assert m["cdbw"] is True and m["dynamic"] is None and math.isfinite(m["loss"])


@pytest.mark.parametrize("method, extra", [("rs2", []), ("rs2", ["--stratify", "--with-replacement"]),
                                           ("rcap", ["--beta", "0.5"]), ("infobatch", [])])
def test_dynamic_pruning_from_the_cli(workdir, method, extra):
    name = f"dyn-{method}-{len(extra)}"
    prune("train", "--dynamic", method, "--rate", "0.5", "--epochs", "3", "--name", name, *extra)
    m = metrics_of(workdir, name)
    samples = pl.read_parquet(workdir / "runs" / "default" / "train" / name / "samples.parquet")
    N = m["n_total"]
    assert m["dynamic"]["method"] == method and m["dynamic"]["rate"] == 0.5
    assert m["sample_passes"] == samples.height and m["full_data_sample_passes"] == 3 * N
    per_epoch = samples.group_by("epoch").agg(pl.len().alias("n"), pl.col("sample").n_unique().alias("u")).sort("epoch")
    assert per_epoch["epoch"].to_list() == [0, 1, 2] and per_epoch["n"].to_list() == per_epoch["u"].to_list()
    if method == "infobatch":
        # 3 epochs: epochs 0 and 1 may prune (e + 1 <= 2.625), epoch 0 has nothing below the mean yet
        assert per_epoch["n"][0] == N and per_epoch["n"][2] == N and per_epoch["n"][1] < N
        assert set(samples["weight"].unique().to_list()) == {1.0, 2.0}
    else:
        assert per_epoch["n"].to_list() == [N - round(0.5 * N)] * 3
        assert samples["weight"].unique().to_list() == [1.0]


def test_weighted_manifest_trains(workdir):
    m = read_manifest(workdir / "keep.parquet")
    write_manifest(workdir / "weighted.parquet", m.sample, m.target, m.meta, weight=np.full(len(m.sample), 0.5))
    prune("train", "--manifest", "weighted.parquet", "--epochs", "1")
    assert metrics_of(workdir, "weighted")["manifest"]["weighted"] is True


def test_seeds_write_one_folder_each_and_a_summary(workdir):
    prune("train", "--dynamic", "rs2", "--rate", "0.7", "--epochs", "2", "--seeds", "0,1,2")
    base = workdir / "runs" / "default" / "train" / "rs2-0.7"
    summary = json.loads((base / "summary.json").read_text())
    runs = [json.loads((base / f"seed={s}" / "metrics.json").read_text()) for s in (0, 1, 2)]
    assert summary["seeds"] == [0, 1, 2] and [r["seed"] for r in runs] == [0, 1, 2]
    for key in ("accuracy", "worst_class_accuracy"):
        vals = np.array([r[key] for r in runs])
        assert summary["mean"][key] == pytest.approx(vals.mean())
        assert summary["std"][key] == pytest.approx(vals.std(ddof=1))
    assert summary["mean"]["best_accuracy"] == pytest.approx(np.mean([r["best"]["accuracy"] for r in runs]))


@pytest.mark.parametrize("args, expected", [
    (["--dynamic", "nope", "--rate", "0.5"], "rs2, rcap, infobatch"),
    (["--dynamic", "rs2"], "needs --rate"),
    (["--dynamic", "rs2", "--rate", "1.2"], "in (0, 1)"),
    (["--dynamic", "rs2", "--rate", "0.5", "--manifest", "keep.parquet"], "no --manifest"),
    (["--manifest", "keep.parquet", "--rate", "0.5"], "prune select"),
    (["--dynamic", "infobatch", "--rate", "0.5", "--budget", "drop"], "--budget epochs"),
    (["--dynamic", "infobatch", "--rate", "0.95"], "at most 0.9"),
    (["--budget", "nope"], "epochs, iterations, drop"),
    (["--stratify"], "rs2 only"),
    (["--dynamic", "rs2", "--rate", "0.5", "--beta", "1"], "rcap only"),
    (["--dynamic", "rcap", "--rate", "0.5", "--beta", "0"], "--beta of --dynamic rcap must be a number > 0"),
    (["--seeds", "0,x"], "comma-separated integers"),
])
def test_bad_protocol_options_are_one_line(workdir, args, expected):
    assert expected in error_line(prune("train", *args, ok=False))
