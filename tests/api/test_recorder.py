"""`Recorder`: a run recorded from a plain PyTorch loop is an ordinary run for every later stage."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch
import torch.nn.functional as F
import zarr
from torch.utils.data import DataLoader, TensorDataset
from typer.testing import CliRunner

from pipeline import IndexedDataset, Recorder
from pipeline.cli import app
from pipeline.data import load_dataset
from pipeline.io import PruneError, open_run, read_manifest

runner = CliRunner()


def _cli(*args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def own_loop(run_dir, bundle, epochs=4, seed=0, **kw):
    """A user's own training loop: their model, their DataLoader, their optimiser; prune only records."""
    torch.manual_seed(seed)
    x = bundle.train.x.float().flatten(1)
    y = torch.from_numpy(bundle.train.y)
    C = len(bundle.classes)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, C))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(IndexedDataset(TensorDataset(x, y)), batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    xv, yv = bundle.val.x.float().flatten(1), torch.from_numpy(bundle.val.y)
    with Recorder(run_dir, targets=bundle.train.y, num_classes=C, epochs=epochs, data="digits-own", **kw) as rec:
        for epoch in range(epochs):
            for xb, yb, idx in loader:
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                rec.log(epoch, idx, logits)
            with torch.no_grad():
                rec.log_eval(epoch, "val", model(xv), yv)
    return run_dir


def test_a_run_from_your_own_loop_goes_through_score_and_select(tmp_path, digits, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = own_loop(tmp_path / "mine", digits)
    r = open_run(run)
    n = len(digits.train)
    assert (r.n, r.epochs, r.inits, r.num_classes) == (n, 4, 1, 10)
    logits = zarr.open_group(str(run / "trajectories.zarr"), mode="r")["logits"]
    assert logits.shape == (1, 4, n, 10) and np.all(np.isfinite(logits[:]))
    dyn = pl.scan_parquet(run / "dynamics", hive_partitioning=True).collect()
    assert dyn.height == 4 * n and sorted(dyn["epoch"].unique().to_list()) == [0, 1, 2, 3]
    for method in ("tdds", "aum", "forgetting"):
        _cli("score", "--method", method, "--run", run, "--window", "3") if method == "tdds" else \
            _cli("score", "--method", method, "--run", run)
    _cli("select", "--method", "ccs", "--quota", "drop", "--rate", "0.5", "--run", run, "--scores", "tdds",
         "--out", tmp_path / "keep.parquet")
    m = read_manifest(tmp_path / "keep.parquet")
    assert len(m.sample) == n - int(np.floor(0.5 * n + 0.5))
    assert m.meta["quota"] == "drop" and m.meta["fingerprint"] == r.fingerprint
    # the val recalls the quota read are the ones the loop logged, averaged over its epochs (--recalls mean,
    # the default source)
    ev = (pl.read_parquet(run / "eval.parquet").filter(pl.col("split") == "val")
          .group_by("class").agg(pl.col("recall").mean()).sort("class"))
    recalls = dict(zip(ev["class"].to_list(), ev["recall"].to_list()))
    assert m.meta["quota_detail"]["recalls"] == {str(c): pytest.approx(recalls[c]) for c in range(10)}


def test_recorder_run_equals_a_prune_record_run_with_the_same_logits(tmp_path, digits):
    """Feed a `prune record` run's logits through Recorder (shuffled batches): same arrays, tables and scores."""
    _cli("record", "--run", tmp_path / "rec", "--data", "digits", "--epochs", "12", "--inits", "2",
         "--checkpoints", "final", "--device", "cpu")
    ref = open_run(tmp_path / "rec")
    z = np.asarray(ref.array("logits")[:])
    rng = np.random.default_rng(0)
    with Recorder(tmp_path / "api", targets=ref.targets, num_classes=ref.num_classes, epochs=ref.epochs, inits=2,
                  data=ref.dataset, classes=ref.classes) as rec:
        for i in range(2):
            for e in range(ref.epochs):
                perm = rng.permutation(ref.n)
                for b in np.array_split(perm, 7):
                    rec.log(e, torch.from_numpy(b), torch.from_numpy(z[i, e, b]), init=i)
    got = open_run(tmp_path / "api")
    assert got.fingerprint == ref.fingerprint
    np.testing.assert_array_equal(np.asarray(got.array("logits")[:]), z)
    a = pl.scan_parquet(ref.path / "dynamics", hive_partitioning=True).collect().sort("init", "epoch", "sample")
    b = pl.scan_parquet(got.path / "dynamics", hive_partitioning=True).collect().sort("init", "epoch", "sample")
    assert a.equals(b)
    from pipeline import score

    for method in ("tdds", "aum", "forgetting", "el2n", "dynunc", "variability", "entropy"):
        np.testing.assert_array_equal(score(got.path, method).score, score(ref.path, method).score, err_msg=method)


def test_numpy_batches_and_several_inits(tmp_path):
    y = np.array([0, 1, 2, 0, 1, 2])
    with Recorder(tmp_path / "r", targets=y, epochs=2, inits=2, logits_dtype="float32") as rec:
        for i in range(2):
            for e in range(2):
                rec.log(e, np.arange(6), np.eye(3)[y] * (e + 1 + i), init=i)
    z = open_run(tmp_path / "r").array("logits")[:]
    np.testing.assert_array_equal(z[1, 1], np.eye(3)[y] * 3)
    assert open_run(tmp_path / "r").num_classes == 3


@pytest.mark.parametrize("bad,message", [
    (lambda rec: rec.log(0, [0, 9], np.zeros((2, 3))), "sample id 9 is outside 0..5"),
    (lambda rec: rec.log(0, [0, 1], np.zeros((2, 4))), r"logits must have shape \(batch, 3\)"),
    (lambda rec: rec.log(0, [0, 1, 2], np.zeros((2, 3))), "idx has 3 ids but logits have 2 rows"),
    (lambda rec: rec.log(0, np.array([0.5]), np.zeros((1, 3))), "integer sample ids"),
    (lambda rec: rec.log(5, [0], np.zeros((1, 3))), r"epoch must be an integer in 0..1"),
    (lambda rec: rec.log(0, [0], np.zeros((1, 3)), init=1), r"init must be in 0..0"),
    (lambda rec: (rec.log(0, [0, 1, 2, 3], np.zeros((4, 3))), rec.log(1, [0], np.zeros((1, 3)))),
     "epoch 0 of init 0 ended with 2 of 6 samples never logged"),
    (lambda rec: (rec.log(1, range(6), np.zeros((6, 3)))), "epoch 0 of init 0 was never logged"),
    (lambda rec: (rec.log(0, range(6), np.zeros((6, 3))), rec.log(1, range(6), np.zeros((6, 3))),
                  rec.log(0, [0], np.zeros((1, 3)))), "epoch 0 of init 0 was logged after epoch 1"),
    (lambda rec: rec.log_eval(0, "train", np.zeros((2, 3)), [0, 1]), "split must be one of val, test"),
    (lambda rec: rec.log(0, [4, 5], np.array([[0.0, 1.0, 2.0], [np.nan, 0.0, 0.0]])),
     "logits of sample 5 are NaN or infinite"),
    (lambda rec: rec.log(0, [0], np.full((1, 3), np.inf)), "logits of sample 0 are NaN or infinite"),
])
def test_bad_use_is_one_clear_error_and_leaves_no_run(tmp_path, bad, message):
    y = np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(PruneError, match=message):
        with Recorder(tmp_path / "r", targets=y, epochs=2) as rec:
            bad(rec)
    assert list(tmp_path.iterdir()) == []  # no run, no partial folder


def test_close_with_epochs_missing_keeps_nothing(tmp_path):
    rec = Recorder(tmp_path / "r", targets=[0, 1], epochs=3)
    rec.log(0, [0, 1], np.zeros((2, 2)))
    with pytest.raises(PruneError, match="init 0 logged 1 of 3 epochs"):
        rec.close()
    assert list(tmp_path.iterdir()) == []


def test_an_exception_in_the_loop_leaves_no_half_run(tmp_path):
    with pytest.raises(RuntimeError):
        with Recorder(tmp_path / "r", targets=[0, 1], epochs=1) as rec:
            rec.log(0, [0, 1], np.zeros((2, 2)))
            raise RuntimeError("the user's loop broke")
    assert list(tmp_path.iterdir()) == []


def test_recorder_refuses_a_folder_of_user_files(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "mine.txt").write_text("x")
    with pytest.raises(PruneError, match="not a recorded run"):
        Recorder(tmp_path / "r", targets=[0, 1], epochs=1)
    assert (tmp_path / "r" / "mine.txt").read_text() == "x"


def test_bad_targets(tmp_path):
    with pytest.raises(PruneError, match="label 1000000000 implies 1000000001 classes, more than the 2 samples"):
        Recorder(tmp_path / "r", targets=[0, 10**9], epochs=1)  # refused before anything is sized by it
    with pytest.raises(PruneError, match="targets must lie in 0..1"):
        Recorder(tmp_path / "r", targets=[0, 2], num_classes=2, epochs=1)
    with pytest.raises(PruneError, match="integer class labels"):
        Recorder(tmp_path / "r", targets=[0.5, 1], epochs=1)


def test_indexed_dataset_appends_the_index():
    ds = IndexedDataset(TensorDataset(torch.arange(4.0), torch.tensor([1, 0, 1, 0])))
    x, y, i = ds[2]
    assert (float(x), int(y), i) == (2.0, 1, 2) and len(ds) == 4
    plain = IndexedDataset([10, 20])
    assert plain[1] == (20, 1)


def test_embeddings_and_checkpoints_from_the_recorder_equal_prune_records(tmp_path, digits):
    """A Recorder given a `prune record` run's embeddings, classifier, validation features and checkpoint: every
    score and sampler that reads them gives the same result on both runs."""
    from pipeline import score, select
    from pipeline.api.functions import model_inputs

    _cli("record", "--run", tmp_path / "rec", "--data", "digits", "--model", "mlp", "--epochs", "3",
         "--embeddings", "1,final", "--checkpoints", "final", "--device", "cpu")
    ref = open_run(tmp_path / "rec")
    z = np.asarray(ref.array("logits")[:])
    with Recorder(tmp_path / "api", targets=ref.targets, num_classes=ref.num_classes, epochs=ref.epochs,
                  data=ref.dataset, classes=ref.classes, model="mlp", config=ref.info["config"],
                  snapshots=[1, 3], input_shape=ref.info["input_shape"]) as rec:
        for e in range(ref.epochs):
            rec.log(e, torch.arange(ref.n), torch.from_numpy(z[0, e]))
            if e + 1 in (1, 3):
                w, b = ref.heads(e + 1)
                hv, yv = ref.val_embeddings(e + 1)
                rec.log_embeddings(e + 1, ref.embeddings(e + 1)[0], (w[0], b[0]), val_embeddings=hv[0],
                                   val_targets=yv)
        state = torch.load(ref.checkpoint_path(0, 3), weights_only=True)
        rec.checkpoint(3, _Holder(state))
    got = open_run(tmp_path / "api")
    assert got.snapshot_epochs == [1, 3] and got.checkpoint_epochs == [3]
    for method in ("moderate", "prototype", "cal"):
        np.testing.assert_allclose(score(got.path, method).score, score(ref.path, method).score, err_msg=method)
    np.testing.assert_allclose(score(got.path, "grand", epoch=3).score, score(ref.path, "grand", epoch=3).score,
                               rtol=1e-6)
    def inputs(r):
        got = model_inputs(r, ("embeddings", "gradients", "val_gradients"), r.targets)
        return {("embeddings" if k == "emb" else k): v for k, v in got.items()}

    for method in ("kcenter", "gradmatch", "glister"):
        a = select(rate=0.5, method=method, quota="proportional", targets=got.targets, **inputs(got))
        b = select(rate=0.5, method=method, quota="proportional", targets=ref.targets, **inputs(ref))
        np.testing.assert_array_equal(a.ids, b.ids, err_msg=method)


class _Holder(torch.nn.Module):
    """A module whose state dict is a recorded checkpoint's (what the user's model would hold)."""

    def __init__(self, state):
        super().__init__()
        self._state = state

    def state_dict(self, *args, **kwargs):
        return self._state
