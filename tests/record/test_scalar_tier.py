"""`prune record --logits none`: dynamics/ only, and every trajectory score works from it, to float tolerance."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
import zarr

from cli_helpers import error_line, prune
from pipeline.engine import recording
from pipeline.engine.recording import dynamics_columns
from pipeline.io import PruneError, open_run
from pipeline.record.run import record
from pipeline.score.methods._arrays import dynamics_array
from pipeline.score.methods.tdds import kl_steps
from pipeline.score.run import compute, score_all

EPOCHS = 12
RECORD = ["record", "--data", "digits", "--epochs", str(EPOCHS), "--checkpoints", "final", "--device", "cpu",
          "--seed", "5"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same training recorded twice: all logits in float32 (through the older flag name), and dynamics only."""
    root = tmp_path_factory.mktemp("tiers")
    prune(*RECORD, "--logits-dtype", "float32", "--run", root / "full")
    prune(*RECORD, "--logits", "none", "--run", root / "scalar")
    return open_run(root / "full"), open_run(root / "scalar")


def _frame(run) -> pl.DataFrame:
    return run.dynamics().collect().sort("init", "epoch", "sample")


def test_the_scalar_run_keeps_no_logits(runs):
    full, scalar = runs
    assert json.loads((scalar.path / "run.json").read_text())["logits_dtype"] == "none"
    g = zarr.open_group(str(scalar.path / "trajectories.zarr"), mode="r")
    assert set(g.array_keys()) == {"targets"}
    np.testing.assert_array_equal(scalar.targets, full.targets)
    stored = {p.relative_to(scalar.path).parts[1] for p in (scalar.path / "trajectories.zarr").rglob("*") if p.is_file()}
    assert stored == {"zarr.json", "targets"}
    assert not scalar.has("logits") and full.has("logits")
    # recording changes nothing of the training: the dynamics of both tiers are the same values
    assert _frame(scalar).equals(_frame(full))


def test_kl_step_is_nan_at_epoch_0_and_the_tdds_term_after(runs):
    full, _ = runs
    got = dynamics_array(full, "kl_step")  # (init, epoch, sample)
    assert np.isnan(got[:, 0]).all() and np.isfinite(got[:, 1:]).all()
    want = kl_steps(full.read("logits").astype(np.float32))  # what TDDS computes from the stored logits
    np.testing.assert_allclose(got[:, 1:], want, rtol=1e-5, atol=1e-6)


def test_kl_step_by_hand():
    z0 = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    z1 = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    y = torch.tensor([0, 1])
    first = dynamics_columns(z0, y)
    assert np.isnan(first["kl_step"]).all()
    got = dynamics_columns(z1, y, prev=z0)["kl_step"]
    assert got.dtype == np.float32
    # sample 0: the same p both epochs, so 0. Sample 1: p0 = (a, b), p1 = (b, a) with a = σ(2), b = σ(−2):
    # |b (log(b+ε) − log(a+ε))| + |a (log(a+ε) − log(b+ε))| = (a + b)·log(a/b) = 2 (up to ε)
    a, b, eps = 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2)), 1e-8
    want = b * abs(math.log(b + eps) - math.log(a + eps)) + a * abs(math.log(a + eps) - math.log(b + eps))
    assert got[0] == 0.0
    assert got[1] == pytest.approx(want, rel=1e-6) and want == pytest.approx(2.0, rel=1e-6)


def test_the_writer_keeps_one_epoch_of_log_probabilities_in_float32(monkeypatch):
    monkeypatch.setattr(recording, "KL_SLICE_BYTES", 8)  # slices of one sample: the same values as one slice
    z = torch.randn(3, 5, 2)
    d, state = recording.kl_step(z[:, 0], None)
    again, state2 = recording.kl_step(z[:, 1], state, state)
    assert state2 is state and state.dtype == torch.float32 and state.shape == (3, 2)
    want = dynamics_columns(z[:, 1], torch.zeros(3, dtype=torch.long), prev=z[:, 0])["kl_step"]
    np.testing.assert_array_equal(again.numpy(), want)


def test_in_the_float16_tier_kl_step_is_the_term_of_the_stored_logits(tmp_path):
    """The recorder rounds each epoch to float16 before its scalars: kl_step is what TDDS computes from the array."""
    from pipeline.engine.recording import TrajectoryWriter
    from pipeline.io import layout
    from pipeline.io.run import create_trajectories

    rng = np.random.default_rng(0)
    n, C, E = 300, 7, 3
    y = rng.integers(0, C, size=n)
    group = create_trajectories(layout.trajectories(tmp_path), inits=1, epochs=E, targets=y, num_classes=C,
                                dtype="float16", eval_pass=False, attrs={})
    writer = TrajectoryWriter(run_dir=tmp_path, group=group, init=0, targets=y, device=torch.device("cpu"),
                              dtype="float16")
    for e in range(E):
        writer.scatter(torch.from_numpy(rng.permutation(n)), torch.randn(n, C) * 4)  # rows as the ids say
        writer.end_epoch(e)
    stored = np.asarray(group["logits"][:]).astype(np.float32)
    got = np.stack([pl.read_parquet(layout.dynamics_file(tmp_path, 0, e))["kl_step"].to_numpy() for e in range(E)])
    assert np.isnan(got[0]).all()
    np.testing.assert_allclose(got[1:], kl_steps(stored)[0], rtol=1e-5, atol=1e-6)


TRAJECTORY = [("tdds", {}), ("tdds", {"window": 4, "decay": 0.5, "epochs": 10}), ("dynunc", {}),
              ("dynunc", {"window": 3, "epochs": 8}), ("variability", {}), ("variability", {"epochs": 6}),
              ("correctness", {}), ("correctness", {"epochs": 4}), ("aum", {}), ("aum", {"space": "prob"}),
              ("forgetting", {}), ("el2n", {}), ("el2n", {"epoch": 5})]
# one epoch's float32 columns: exact to the float32 rounding of values computed next to logits of about 20
ONE_EPOCH = [("entropy", {}), ("entropy", {"epoch": 2}), ("loss", {}), ("loss", {"epoch": 0}), ("confidence", {}),
             ("confidence", {"epoch": 1}), ("least-confidence", {}), ("least-confidence", {"epoch": 3})]


@pytest.mark.parametrize("method,params", TRAJECTORY + ONE_EPOCH, ids=lambda v: v if isinstance(v, str) else
                         ",".join(f"{k}={x}" for k, x in v.items()))
def test_a_score_from_dynamics_equals_its_score_from_the_logits(runs, method, params):
    full, scalar = runs
    _, _, want_params, want, _ = compute(run=full, method=method, params=dict(params))
    _, _, got_params, got, _ = compute(run=scalar, method=method, params=dict(params))
    assert got_params == want_params  # the tables record the same parameters
    atol = 1e-6 if (method, params) in TRAJECTORY else 5e-6
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("method,params,what", [
    ("margin", {}, "margin"),
    ("confidence", {"space": "logit"}, "confidence --space logit"),
    ("el2n", {"label": "max"}, "el2n --label max"),
])
def test_scores_that_need_logits_say_so_in_one_line(runs, method, params, what):
    _, scalar = runs
    with pytest.raises(PruneError) as err:
        compute(run=scalar, method=method, params=params)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(what) and "--logits float16" in msg and "--logits none" in msg
    res = prune("score", "--run", scalar.path, "--method", method,
                *[a for k, v in params.items() for a in (f"--{k}", str(v))], ok=False)
    assert "--logits float16" in error_line(res)


def test_score_all_on_a_scalar_run_computes_what_it_can(runs, tmp_path):
    _, scalar = runs
    results, skipped = score_all(run=scalar.path, params={})
    done = {r.method for r in results}
    assert {"tdds", "dynunc", "variability", "correctness", "aum", "forgetting", "el2n", "entropy", "loss",
            "confidence", "least-confidence", "random"} <= done
    assert "margin" in skipped and "--logits float16" in skipped["margin"]
    assert "grand" in done  # checkpoints, not logits


def test_eval_pass_is_refused_without_logits(tmp_path):
    line = error_line(prune(*RECORD, "--logits", "none", "--eval-pass", "--run", tmp_path / "r", ok=False))
    assert "--eval-pass" in line and "--logits float16" in line
    line = error_line(prune(*RECORD, "--logits", "none", "--logits-dtype", "float16", "--run", tmp_path / "r", ok=False))
    assert "disagree" in line
    assert not (tmp_path / "r").exists()


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "log.json" and "scores" not in p.parts}


def test_an_interrupted_scalar_recording_resumes_to_the_same_bytes(runs, tmp_path, monkeypatch):
    """The previous epoch's log-probabilities travel in the resume state: kl_step after the resume is unchanged."""
    _, scalar = runs
    cut = tmp_path / "cut"
    on_epoch_end = recording.RecordHook.on_epoch_end

    def interrupted(self, epoch, model, evals):
        if epoch == 4:  # epochs 0..3 finished, their state saved
            self.writer.wait()
            raise KeyboardInterrupt
        on_epoch_end(self, epoch, model, evals)

    kw = dict(run=cut, data="digits", data_dir=None, download=False, model=None, epochs=EPOCHS, inits=1, seed=5,
              batch_size=None, lr=None, device="cpu", eval_pass=False, checkpoints="final", logits_dtype="none",
              force=False, log=lambda _m: None)
    monkeypatch.setattr(recording.RecordHook, "on_epoch_end", interrupted)
    with pytest.raises(KeyboardInterrupt):
        record(**kw)
    monkeypatch.setattr(recording.RecordHook, "on_epoch_end", on_epoch_end)
    assert not cut.exists()
    said = []
    record(**{**kw, "resume": True, "log": said.append})
    assert any("after epoch 4/12" in line for line in said), said
    assert _frame(open_run(cut)).equals(_frame(scalar))
    assert _digests(cut) == _digests(scalar.path)


def test_the_recorder_api_writes_the_scalar_tier_too(tmp_path):
    import torch

    from pipeline import Recorder, score

    rng = np.random.default_rng(0)
    N, C, E = 50, 3, 6
    y = rng.integers(0, C, N)
    Z = rng.normal(size=(E, N, C)).astype(np.float32)
    got = {}
    for tier in ("float32", "none"):
        with Recorder(tmp_path / tier, targets=y, num_classes=C, epochs=E, logits_dtype=tier) as rec:
            for e in range(E):
                for s in range(0, N, 16):
                    idx = np.arange(s, min(N, s + 16))
                    rec.log(e, torch.from_numpy(idx), torch.from_numpy(Z[e, idx]))
        got[tier] = {m: score(tmp_path / tier, m, **({"window": 3} if m == "tdds" else {})).score
                     for m in ("tdds", "forgetting", "aum", "entropy", "loss")}
    assert not (tmp_path / "none" / "trajectories.zarr" / "logits").exists()
    for m, v in got["none"].items():
        np.testing.assert_allclose(v, got["float32"][m], rtol=1e-5, atol=1e-6, err_msg=m)
