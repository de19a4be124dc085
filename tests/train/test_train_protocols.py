"""Training protocols: budgets, CDB-W, weighted manifests, repeated seeds, and the checks of every protocol option.

Rules are pinned on hand-computed cases; the CLI runs each protocol end to
end on the tiny digits set (a few epochs). Each dynamic pruning rule has its
own file under tests/train/.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
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


def test_a_manifests_weights_are_normalised_per_batch_as_deepcore_trains():
    # DeepCore (utils.train): loss = sum(criterion(output, target) * weights) / sum(weights)
    per = torch.tensor([1.0, 2.0, 4.0])
    s = torch.tensor([3.0, 1.0, 0.0])
    y = torch.zeros(3, dtype=torch.long)
    assert weighted_loss(per, y, s, None, normalize=True).item() == (3 * 1 + 1 * 2) / 4  # 1.25
    assert weighted_loss(10 * per / 10, y, 7 * s, None, normalize=True).item() == 1.25  # the weights' scale is gone
    assert weighted_loss(per, y, s, None).item() == pytest.approx(5 / 3)  # InfoBatch's rescale: the batch mean of s·l
    c = torch.tensor([2.0])
    assert weighted_loss(per, y, s, c, normalize=True).item() == (2 * 3 * 1 + 2 * 1 * 2) / (2 * 4)
    from pipeline.engine.plans import StaticPlan
    assert StaticPlan(np.arange(3), np.ones(3)).normalize_weights


def test_cdbw_batch_of_perfect_classes_is_zero_loss_not_nan():
    z = torch.randn(3, 4, requires_grad=True)
    y = torch.tensor([0, 0, 0])
    w = torch.tensor([0.0, 0.5, 1.0, 0.25])  # class 0 had recall 1
    assert torch.isnan(F.cross_entropy(z, y, weight=w))  # what torch (and DRoP's code) would do
    loss = weighted_loss(F.cross_entropy(z, y, reduction="none"), y, None, w)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(z.grad == 0)


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
    (["--budget", "nope"], "epochs, iterations, drop"),
    (["--seeds", "0,x"], "comma-separated integers"),
])
def test_bad_protocol_options_are_one_line(workdir, args, expected):
    assert expected in error_line(prune("train", *args, ok=False))


def test_a_run_without_its_recipe_trains_with_the_data_sets_own(dynamic_run, tmp_path):
    """A run.json without `config` (a Recorder's own loop keeps none) trains with the data set's auto config; a
    config of unknown keys is one line, and neither leaves a folder behind."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(dynamic_run, run)
    info = json.loads((run / "run.json").read_text())
    info.pop("config")
    (run / "run.json").write_text(json.dumps(info))
    prune("train", "--run", run, "--epochs", "1", "--quiet")
    assert json.loads((run / "train" / "full" / "metrics.json").read_text())["epochs"] == 1
    info["config"] = {"model": "mlp", "warp_factor": 9}
    (run / "run.json").write_text(json.dumps(info))
    line = error_line(prune("train", "--run", run, "--epochs", "1", "--name", "x", ok=False))
    assert "config has keys this version of prune does not know (warp_factor)" in line
    assert not (run / "train" / "x").exists()
    assert not [p for p in (run / "train").iterdir() if p.name.startswith(".")]  # no partial folder left
