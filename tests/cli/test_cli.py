"""The whole CLI end to end on a tiny data set, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
import torch
import zarr

from pipeline.cli import app
from pipeline.io import fingerprint, read_manifest, read_scores
from cli_helpers import prune, runner

EPOCHS = 12


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder holding one recorded digits run, shared by the tests of this module."""
    d = tmp_path_factory.mktemp("cli")
    mp = pytest.MonkeyPatch()
    mp.chdir(d)
    prune("record", "--data", "digits", "--epochs", str(EPOCHS), "--checkpoints", "0,3,final", "--eval-pass",
          "--seed", "1", "--inits", "2", "--batch-size", "256")
    yield d
    mp.undo()


def test_record_writes_every_artifact(workdir):
    run = workdir / "runs" / "default"
    info = json.loads((run / "run.json").read_text())
    n, C = info["n_train"], len(info["classes"])
    assert (info["data"], info["epochs"], info["inits"], info["seeds"]) == ("digits", EPOCHS, 2, [1, 2])
    g = zarr.open_group(str(run / "trajectories.zarr"), mode="r")
    assert g["logits"].shape == (2, EPOCHS, n, C) and g["logits"].dtype == np.float16
    assert g["eval_logits"].shape == (2, EPOCHS, n, C)
    assert tuple(g["logits"].metadata.dimension_names) == ("init", "epoch", "sample", "class")
    targets = g["targets"][:]
    assert g.attrs["fingerprint"] == info["fingerprint"] == fingerprint("digits", "train", targets)
    assert g.attrs["record_pass"] == "train"
    assert np.isfinite(g["logits"][:]).all()

    dyn = pl.scan_parquet(run / "dynamics", hive_partitioning=True).collect()
    assert dyn.height == 2 * EPOCHS * n
    assert set(dyn.columns) >= {"init", "epoch", "sample", "target", "pred", "loss", "correct", "p_true", "margin",
                                "prob_margin", "el2n", "entropy"}
    # the scalars are the stored logits' own: margin of init 1, epoch 5
    z = g["logits"][1, 5].astype(np.float32)
    rows = dyn.filter((pl.col("init") == 1) & (pl.col("epoch") == 5)).sort("sample")
    other = z.copy()
    other[np.arange(n), targets] = -np.inf
    np.testing.assert_allclose(rows["margin"].to_numpy(), z[np.arange(n), targets] - other.max(1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(rows["correct"].to_numpy(), z.argmax(1) == targets)

    ev = pl.read_parquet(run / "eval.parquet")
    assert ev.height == 2 * EPOCHS * 2 * C
    assert set(ev["split"].unique()) == {"val", "test"}
    assert {"n", "recall", "precision", "f1", "loss"} <= set(ev.columns)

    for k in (0, 3, EPOCHS):
        state = torch.load(run / "checkpoints" / "init=0" / f"epoch={k}.pt", weights_only=True)
        assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_design_card_flow_score_select_train(workdir):
    run = workdir / "runs" / "default"
    prune("score", "--method", "tdds")
    res = prune("select", "--method", "ccs", "--rate", "0.3")
    assert "runs/default/scores/tdds.parquet" in res.output
    m = read_manifest(workdir / "keep.parquet")
    n = json.loads((run / "run.json").read_text())["n_train"]
    assert len(m.sample) == n - round(0.3 * n) == m.meta["n_kept"]
    assert m.meta["n_total"] == n and m.meta["rate"] == 0.3 and m.meta["method"] == "ccs"
    assert m.meta["scores"]["path"].endswith("tdds.parquet")
    assert sum(m.meta["class_counts_kept"].values()) == len(m.sample)

    res = prune("train", "--manifest", "keep.parquet", "--epochs", "3")
    metrics = json.loads((run / "train" / "keep" / "metrics.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "worst_class_accuracy", "per_class", "loss", "best", "n_train",
                "epochs", "steps", "seconds", "manifest", "seed"):
        assert key in metrics
    assert metrics["n_train"] == len(m.sample) and metrics["epochs"] == 3
    assert metrics["worst_class_accuracy"] == min(c["recall"] for c in metrics["per_class"].values())
    hist = pl.read_parquet(run / "train" / "keep" / "history.parquet")
    assert hist.height == 3 * 2


def test_manifest_loads_with_torch_subset(workdir):
    from torch.utils.data import Subset, TensorDataset

    ids = pl.read_parquet(workdir / "keep.parquet")["sample"].to_list()
    n = json.loads((workdir / "runs" / "default" / "run.json").read_text())["n_train"]
    ds = TensorDataset(torch.arange(n))
    assert [int(ds[i][0]) for i in range(3)] == [0, 1, 2]
    sub = Subset(ds, ids)
    assert len(sub) == len(ids) and int(sub[0][0]) == ids[0]


def test_every_score_runs_from_the_cli(workdir):
    for method, extra in (("forgetting", []), ("aum", ["--space", "prob"]), ("el2n", []), ("random", ["--seed", "4"]),
                          ("tdds", ["--window", "5"])):
        prune("score", "--method", method, *extra, "--out", f"s-{method}.parquet")
        t = read_scores(workdir / f"s-{method}.parquet")
        assert t.meta["method"] == method and np.isfinite(t.score).all()


@pytest.mark.parametrize("method", ["topk", "random", "ccs"])
@pytest.mark.parametrize("quota", ["none", "proportional", "balanced"])
def test_select_exact_counts(workdir, method, quota):
    out = f"k-{method}-{quota}.parquet"
    prune("select", "--method", method, "--rate", "0.45", "--quota", quota, "--scores", "tdds", "--out", out, "--seed", "3")
    m = read_manifest(workdir / out)
    assert len(m.sample) == m.meta["n_total"] - round(0.45 * m.meta["n_total"])
    again = workdir / f"again-{out}"
    prune("select", "--method", method, "--rate", "0.45", "--quota", quota, "--scores", "tdds", "--out", str(again), "--seed", "3")
    np.testing.assert_array_equal(read_manifest(again).sample, m.sample)


def error_line(res) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    return lines[0]


def test_bad_input_is_one_line_and_damages_nothing(workdir):
    before = (workdir / "keep.parquet").read_bytes()
    assert "in (0, 1)" in error_line(prune("select", "--method", "ccs", "--rate", "1.5", ok=False))
    assert "topk, random, ccs" in error_line(prune("select", "--method", "nope", "--rate", "0.3", ok=False))
    assert "forgetting, aum, el2n, tdds, random" in error_line(prune("score", "--method", "nope", ok=False))
    assert "prune record" in error_line(prune("score", "--method", "tdds", "--run", "runs/missing", ok=False))
    assert "does not apply" in error_line(prune("score", "--method", "aum", "--window", "3", ok=False))
    assert "already holds a recorded run" in error_line(prune("record", "--data", "digits", ok=False))
    assert (workdir / "keep.parquet").read_bytes() == before


def test_manifest_of_other_data_is_refused(workdir, tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNE_DATA_DIR", str(tmp_path))
    # a manifest whose fingerprint is not the digits training set's
    m = read_manifest(workdir / "keep.parquet")
    from pipeline.io import write_manifest

    write_manifest(tmp_path / "other.parquet", m.sample, m.target, {**m.meta, "fingerprint": "0" * 64})
    line = error_line(prune("train", "--manifest", str(tmp_path / "other.parquet"), ok=False))
    assert "other data" in line


def test_truncated_run_is_reported(workdir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(workdir / "runs" / "default", broken)
    shutil.rmtree(broken / "trajectories.zarr" / "logits")
    assert "truncated" in error_line(prune("score", "--method", "tdds", "--run", str(broken), ok=False))


def test_help_never_imports_torch():
    code = ("import sys; from typer.testing import CliRunner; from pipeline.cli import app; r = CliRunner()\n"
            "for c in ([], ['record'], ['score'], ['select'], ['train'], ['demo']):\n"
            "    assert r.invoke(app, c + ['--help']).exit_code == 0\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("cmd", ["record", "score", "select", "train", "demo"])
def test_help_explains_every_option(cmd):
    res = runner.invoke(app, [cmd, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    import re

    options = re.findall(r"(--[a-z][a-z-]+)", res.output)
    assert options, res.output
    for line in res.output.splitlines():
        m = re.match(r"\W*(--[a-z-]+)\s", line)
        if m and m.group(1) not in ("--help",):
            assert len(line.split(m.group(1), 1)[1].strip()) > 10, f"{cmd} {m.group(1)} has no help: {line}"


def test_design_card_lines_verbatim_on_mnist1d(tmp_path, monkeypatch):
    """The four lines of the design card, exactly as written, in an empty folder (the slowest test: ~1 min)."""
    monkeypatch.chdir(tmp_path)
    prune("record")
    prune("score", "--method", "tdds")
    prune("select", "--method", "ccs", "--rate", "0.3")
    res = prune("train", "--manifest", "keep.parquet")
    metrics = json.loads((tmp_path / "runs" / "default" / "train" / "keep" / "metrics.json").read_text())
    assert metrics["n_train"] == 16000 - round(0.3 * 16000) and metrics["data"] == "mnist1d"
    # a pruned MNIST-1D model that did not learn would sit near 10%
    assert metrics["accuracy"] > 0.9, res.output


def test_train_on_a_label_noise_run_uses_its_flipped_labels(tmp_path, monkeypatch):
    from pipeline.io import open_run

    monkeypatch.chdir(tmp_path)
    prune("record", "--data", "digits", "--epochs", "2", "--label-noise", "0.2", "--checkpoints", "final")
    run = open_run(tmp_path / "runs" / "default")
    flipped = run.clean_targets != run.targets
    assert flipped.sum() == round(0.2 * run.n)
    prune("select", "--method", "random", "--rate", "0.5")
    prune("train", "--manifest", "keep.parquet", "--epochs", "1")
    m = read_manifest(tmp_path / "keep.parquet")
    np.testing.assert_array_equal(m.target, run.targets[m.sample])  # the noisy labels, as trained
    metrics = json.loads((tmp_path / "runs" / "default" / "train" / "keep" / "metrics.json").read_text())
    assert metrics["manifest"]["fingerprint"] == run.fingerprint


def test_version_and_flags_without_a_value_placeholder():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("prune ")
    for cmd in ([], ["record"], ["train"], ["select"], ["score"], ["export"], ["rounds"], ["sweep"], ["report"],
                ["demo"], ["check"], ["clean"]):
        out = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "200"}).output
        assert "Show this message and exit" in out, cmd
        flags = [line for line in out.splitlines() if "<bool>" in line]  # -h/--help and --full/--no-full too
        assert not flags, (cmd, flags)
