"""The selection catalog: k-center and D2 on hand-made embeddings, every sampler × quota end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import MANIFEST_SCHEMA, PruneError, open_run, read_manifest, write_manifest, write_scores
from pipeline.record.synthetic import write_run
from pipeline.select.catalog import QUOTAS, SAMPLERS
from pipeline.select.samplers import d2_forward, d2_reverse, knn_graph, select_d2, select_kcenter
from pipeline.select.quotas import quota_drop, quota_proportional
from pipeline.select.run import select
from pipeline.select.samplers import n_keep_for, select_topk

runner = CliRunner()

# --------------------------------------------------------------------------
# k-center (DRoP's CoreSet): start nearest the mean, then farthest points
# --------------------------------------------------------------------------

LINE = np.array([[0.0], [1.0], [2.0], [10.0], [4.0]])  # mean 3.4: position 4 (4.0) is nearest


@pytest.mark.parametrize(
    "n_keep, expected",
    [
        (1, [4]),
        (2, [3, 4]),        # farthest from 4.0 is 10.0 (6) rather than 0.0 (4)
        (3, [0, 3, 4]),     # then 0.0 (4 from 4.0)
        (4, [0, 2, 3, 4]),  # 1.0 is 1 from 0.0, 2.0 is 2 from both: 2.0
        (5, [0, 1, 2, 3, 4]),
        (0, []),
    ],
)
def test_kcenter_hand_computed(n_keep, expected):
    got = select_kcenter(LINE, n_keep)
    assert got.dtype == np.int64 and got.tolist() == expected


def test_kcenter_ties_and_duplicates():
    # 0, 2, 4: the mean is 2 (position 1); 0 and 4 are both 2 away: position 0 wins.
    assert select_kcenter(np.array([[0.0], [2.0], [4.0]]), 2).tolist() == [0, 1]
    # Identical points: all distances 0 after the first pick, lowest unchosen positions follow.
    assert select_kcenter(np.zeros((6, 3)), 3).tolist() == [0, 1, 2]


# --------------------------------------------------------------------------
# D2: k-NN graph, forward and reverse message passing
# --------------------------------------------------------------------------

# 1-D points 0, 1, 3, 10, 11 with k = 1: 0-1 (1), 1-2 (2, 3's nearest is 1), 3-4 (1).
POINTS = np.array([[0.0], [1.0], [3.0], [10.0], [11.0]])
IMPORTANCE = np.array([1.0, 2.0, 3.0, 1.0, 1.0])


def test_knn_graph_is_mutual():
    indptr, indices, dist = knn_graph(POINTS, 1)
    nbrs = [indices[indptr[i]:indptr[i + 1]].tolist() for i in range(5)]
    assert nbrs == [[1], [0, 2], [1], [4], [3]]
    assert dist.tolist() == [1.0, 1.0, 2.0, 2.0, 1.0, 1.0]
    # k larger than the set: everyone is joined to everyone else.
    indptr, indices, _ = knn_graph(POINTS[:3], 5)
    assert np.diff(indptr).tolist() == [2, 2, 2]
    assert knn_graph(POINTS[:1], 5)[1].size == 0


def test_d2_forward_hand_computed():
    e = math.exp
    graph = knn_graph(POINTS, 1)
    x = d2_forward(IMPORTANCE, *graph)
    expected = [1 + e(-1) * 2, 2 + e(-1) * 1 + e(-2) * 3, 3 + e(-2) * 2, 1 + e(-1), 1 + e(-1)]
    np.testing.assert_allclose(x, expected, rtol=1e-12)
    # A zero-importance neighbour still sends ε = 1e-7.
    x0 = d2_forward(np.array([0.0, 0.0]), *knn_graph(POINTS[:2], 1))
    np.testing.assert_allclose(x0, [1e-7 * e(-1)] * 2, rtol=1e-12)


@pytest.mark.parametrize("n_keep, expected", [(1, [2]), (2, [1, 2]), (3, [1, 2, 3]), (4, [0, 1, 2, 3]), (5, [0, 1, 2, 3, 4])])
def test_d2_reverse_hand_computed(n_keep, expected):
    # forward values ≈ 1.7358, 2.7739, 3.2707, 1.3679, 1.3679; with γ_r = 1:
    # pick 2 -> 1 drops by e^-2·3.2707 to 2.3313; pick 1 -> 0 drops by e^-1·2.3313
    # to 0.8782; 3 and 4 tie at 1.3679: 3 (lower id) -> 4 drops to 0.8647; then 0, 4.
    graph = knn_graph(POINTS, 1)
    x = d2_forward(IMPORTANCE, *graph)
    assert d2_reverse(x, *graph, n_keep, gamma=1.0).tolist() == expected


def test_select_d2_trades_difficulty_for_diversity():
    got = select_d2(IMPORTANCE, POINTS, 3, higher_is_harder=True, k=1, gamma=1.0)
    assert got.tolist() == [1, 2, 3]
    # Top-k by score alone would keep 0, 1, 2: all on one side of the line.
    assert select_topk(IMPORTANCE, 3, higher_is_harder=True).tolist() == [0, 1, 2]
    # Lower-is-harder scores become max - s: -IMPORTANCE turns into IMPORTANCE - 1.
    flipped = select_d2(-IMPORTANCE, POINTS, 3, higher_is_harder=False, k=1, gamma=1.0)
    assert flipped.tolist() == select_d2(IMPORTANCE - 1, POINTS, 3, higher_is_harder=True, k=1, gamma=1.0).tolist()
    # A score with negative values whose high end is kept is shifted to start at 0.
    assert select_d2(IMPORTANCE - 5, POINTS, 3, higher_is_harder=True, k=1, gamma=1.0).tolist() == flipped.tolist()


def test_select_d2_cutoff_and_strata():
    gen = np.random.default_rng(0)
    s = gen.normal(size=60)
    emb = gen.normal(size=(60, 3))
    got = select_d2(s, emb, 20, higher_is_harder=True, beta=0.1)
    assert len(got) == 20 and not set(np.argsort(-s)[:6]) & set(got.tolist())  # the 6 hardest are gone
    strat = select_d2(s, emb, 20, higher_is_harder=True, strata=4)
    assert len(strat) == 20 and (np.diff(strat) > 0).all()
    with pytest.raises(ValueError, match="beta must be at most"):
        select_d2(s, emb, 58, higher_is_harder=True, beta=0.1)


@pytest.mark.parametrize("n", [1, 2, 7, 60])
@pytest.mark.parametrize("rate", [0.01, 0.5, 0.99])
def test_embedding_samplers_contract(n, rate):
    gen = np.random.default_rng(n)
    emb = gen.integers(0, 3, size=(n, 2)).astype(float)  # duplicates and ties
    s = gen.integers(0, 4, size=n).astype(float)
    k = n_keep_for(n, rate)
    for got in (select_kcenter(emb, k), select_d2(s, emb, k, higher_is_harder=True),
                select_d2(s, emb, k, higher_is_harder=False, keep="easy", k=2, strata=3)):
        assert got.dtype == np.int64 and got.shape == (k,)
        assert (np.diff(got) > 0).all() and (k == 0 or (got[0] >= 0 and got[-1] < n))


# --------------------------------------------------------------------------
# The stage: every sampler × quota on a synthetic run
# --------------------------------------------------------------------------

SIZES = [30, 50, 70, 90]
RECALLS = np.array([0.5, 0.9, 1.0, 0.95])


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("catalog")
    gen = np.random.default_rng(0)
    targets = np.repeat(np.arange(4), SIZES)
    gen.shuffle(targets)
    n = len(targets)
    logits = gen.normal(size=(2, 3, n, 4)).astype(np.float32)
    emb = (gen.normal(size=(2, 2, n, 5)) + targets[None, None, :, None]).astype(np.float32)
    run = write_run(d / "run", logits, targets, val_recall=RECALLS, embeddings=emb, snapshot_epochs=[1, 3])
    r = open_run(run)
    score = np.round(gen.normal(size=n), 1)  # ties
    write_scores(run / "scores" / "el2n.parquet", np.arange(n), targets, score, method="el2n", parameters={},
                 higher_is_harder=True, fingerprint=r.fingerprint, source_run=str(run))
    plain = write_run(d / "plain", logits, targets, val_recall=RECALLS)
    select(run=run, method="random", rate=0.6, scores=None, out=d / "like.parquet", keep="hard", quota="balanced",
           beta=None, strata=None, seed=0, log=lambda m: None)
    return {"dir": d, "run": run, "plain": plain, "targets": targets, "score": score, "emb": emb}


def _select(synth, method, quota, seed=1, out="k.parquet", rate=0.55, **kw):
    like = synth["dir"] / "like.parquet" if quota == "strategyq" else None
    return select(run=synth["run"], method=method, rate=rate, scores=None, out=synth["dir"] / out, keep="hard",
                  quota=quota, beta=None, strata=None, seed=seed, like=like, log=lambda m: None, **kw)


@pytest.mark.parametrize("method", list(SAMPLERS))
@pytest.mark.parametrize("quota", list(QUOTAS))
def test_every_sampler_with_every_quota(synth, method, quota):
    n = sum(SIZES)
    meta = _select(synth, method, quota, out=f"a-{method}-{quota}.parquet")
    m = read_manifest(synth["dir"] / f"a-{method}-{quota}.parquet")
    assert len(m.sample) == meta["n_kept"] == n_keep_for(n, 0.55) == n - round(0.55 * n)
    assert (np.diff(m.sample) > 0).all() and m.sample[0] >= 0 and m.sample[-1] < n
    np.testing.assert_array_equal(m.target, synth["targets"][m.sample])
    kept = np.bincount(synth["targets"][m.sample], minlength=4)
    assert list(m.meta["class_counts_kept"].values()) == kept.tolist()
    assert list(m.meta["class_counts_total"].values()) == SIZES
    if quota == "proportional":
        assert kept.tolist() == quota_proportional(np.array(SIZES), meta["n_kept"]).tolist()
    if quota == "drop":
        assert kept.tolist() == quota_drop(np.array(SIZES), RECALLS, meta["n_kept"]).tolist()
    again = _select(synth, method, quota, out=f"b-{method}-{quota}.parquet")
    np.testing.assert_array_equal(read_manifest(synth["dir"] / f"b-{method}-{quota}.parquet").sample, m.sample)
    assert again["class_counts_kept"] == meta["class_counts_kept"]


def test_drop_counts_on_the_run_by_hand(synth):
    # Keep 108 of 240. e = .5 .1 0 .05 -> weights 15, 5, 0, 4.5; class 2 keeps the floor (1).
    # 107 over 24.5: class 0 would get 65.5 > 30 -> whole; 77 over 9.5: 40.53, 36.47
    # -> 40 + 36, the unit to class 1 (.53 > .47): 30, 41, 1, 36.
    meta = _select(synth, "topk", "drop", out="drop.parquet")
    assert list(meta["class_counts_kept"].values()) == [30, 41, 1, 36]
    assert meta["quota_detail"]["recalls"] == dict(zip("0123", RECALLS.tolist()))
    assert "eval.parquet" in meta["quota_detail"]["recalls_from"]


def test_drop_recalls_from_metrics_json(synth):
    d = synth["dir"]
    doc = {"data": "synthetic", "val": {"recall": {"0": 1.0, "1": 1.0, "2": 0.5, "3": 1.0}},
           "per_class": {c: {"recall": 0.0} for c in "0123"}}
    (d / "metrics.json").write_text(json.dumps(doc))
    meta = _select(synth, "random", "drop", recalls=d / "metrics.json", out="drop-json.parquet")
    assert meta["quota_detail"]["recalls"]["2"] == 0.5 and "val.recall" in meta["quota_detail"]["recalls_from"]
    # Only class 2 has an error: it is kept whole (70), the others share 38 by size above their floors.
    assert list(meta["class_counts_kept"].values())[2] == 70
    (d / "test-only.json").write_text(json.dumps({"per_class": {c: {"recall": 0.5 if c == "1" else 1.0} for c in "0123"}}))
    meta = _select(synth, "random", "drop", recalls=d / "test-only.json", out="drop-pc.parquet")
    assert meta["quota_detail"]["recalls"]["1"] == 0.5 and "per_class" in meta["quota_detail"]["recalls_from"]
    assert list(meta["class_counts_kept"].values())[1] == 50


def test_strategyq_copies_the_class_shares(synth):
    like = read_manifest(synth["dir"] / "like.parquet")
    ref = np.bincount(synth["targets"][like.sample], minlength=4)  # balanced at rate 0.6: 24 each
    assert ref.tolist() == [24, 24, 24, 24]
    meta = _select(synth, "topk", "strategyq", out="sq.parquet")
    assert list(meta["class_counts_kept"].values()) == [27, 27, 27, 27]
    assert meta["quota_detail"]["like"]["class_counts_kept"] == {"0": 24, "1": 24, "2": 24, "3": 24}


def test_embedding_samplers_use_every_init_and_the_snapshot(synth):
    n = sum(SIZES)
    meta = _select(synth, "kcenter", "none", out="kc.parquet", snapshot="1")
    assert meta["parameters"]["embeddings"] == {"snapshot": 1, "inits": 2, "dim": 5}
    concat = np.concatenate([synth["emb"][0, 0], synth["emb"][1, 0]], axis=1)  # inits side by side
    expected = select_kcenter(concat.astype(np.float16).astype(np.float32), n_keep_for(n, 0.55))
    np.testing.assert_array_equal(read_manifest(synth["dir"] / "kc.parquet").sample, expected)
    last = _select(synth, "d2", "none", out="d2.parquet", k=3, gamma=0.5)
    assert last["parameters"]["embeddings"]["snapshot"] == 3
    assert last["parameters"]["k"] == 3 and last["parameters"]["gamma"] == 0.5


def test_errors_name_what_is_missing(synth):
    with pytest.raises(PruneError, match="prune record --embeddings"):
        select(run=synth["plain"], method="kcenter", rate=0.5, scores=None, out=synth["dir"] / "x.parquet", keep="hard",
               quota="none", beta=None, strata=None, seed=0, log=lambda m: None)
    with pytest.raises(PruneError, match="--like"):
        select(run=synth["run"], method="topk", rate=0.5, scores=None, out=synth["dir"] / "x.parquet", keep="hard",
               quota="strategyq", beta=None, strata=None, seed=0, log=lambda m: None)
    with pytest.raises(PruneError, match="--k does not apply"):
        _select(synth, "topk", "none", k=3)
    with pytest.raises(PruneError, match="not recorded"):
        _select(synth, "kcenter", "none", snapshot="2")
    other = synth["dir"] / "other.parquet"
    write_manifest(other, np.array([0, 1]), synth["targets"][:2], {"fingerprint": "0" * 64})
    with pytest.raises(PruneError, match="other data"):
        select(run=synth["run"], method="topk", rate=0.5, scores=None, out=synth["dir"] / "x.parquet", keep="hard",
               quota="strategyq", beta=None, strata=None, seed=0, like=other, log=lambda m: None)
    (synth["dir"] / "bad.json").write_text(json.dumps({"val": {"recall": {"0": 0.5}}}))
    with pytest.raises(PruneError, match="no recall for class"):
        _select(synth, "topk", "drop", recalls=synth["dir"] / "bad.json")


# --------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------

def _cli(*args):
    return runner.invoke(app, ["select", *map(str, args)])


def test_cli_every_combination(synth):
    run, d = synth["run"], synth["dir"]
    for method in SAMPLERS:
        for quota in QUOTAS:
            extra = ["--like", d / "like.parquet"] if quota == "strategyq" else []
            res = _cli("--run", run, "--method", method, "--quota", quota, "--rate", "0.3", "--seed", "2",
                       "--out", d / "cli.parquet", *extra)
            assert res.exit_code == 0, (method, quota, res.output)
            assert f"kept {240 - 72} of 240" in res.output
            assert len(read_manifest(d / "cli.parquet").sample) == 168
    res = _cli("--run", run, "--method", "topk", "--quota", "drop", "--rate", "0.55", "--out", d / "cli.parquet")
    lines = res.output.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("class"))
    assert lines[head].split() == ["class", "total", "kept", "kept", "%", "val", "recall"]
    assert lines[head + 1].split() == ["0", "30", "30", "100.0", "0.5000"]
    assert lines[head + 3].split() == ["2", "70", "1", "1.4", "1.0000"]
    assert lines[head + 5].split() == ["all", "240", "108", "45.0"]


def test_cli_errors_are_one_line(synth):
    run = synth["run"]
    for args, words in (
        (["--quota", "nope"], "none, proportional, balanced, drop, strategyq, normalize"),
        (["--method", "nope"], "topk, random, ccs, moderate, d2, kcenter"),
        (["--method", "kcenter", "--run", synth["plain"]], "prune record --embeddings"),
        (["--method", "topk", "--gamma", "1"], "does not apply"),
        (["--quota", "drop", "--recalls", synth["dir"] / "missing.json"], "does not exist"),
    ):
        res = _cli("--run", run, "--rate", "0.5", "--out", synth["dir"] / "err.parquet", *map(str, args))
        assert res.exit_code == 2, res.output
        lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in res.output, res.output


def test_manifest_round_trip_keeps_schema_values_and_metadata(tmp_path):
    # The manifest is stored delta-encoded and uncompressed: readers see the
    # same schema, ids, labels and metadata as with any other encoding.
    import polars as pl
    import pyarrow.parquet as pq

    gen = np.random.default_rng(0)
    ids = np.sort(gen.choice(50_000, size=20_000, replace=False))
    labels = gen.integers(0, 10, size=ids.shape[0])
    meta = {"method": "topk", "n_kept": int(ids.shape[0]), "class_counts_kept": {"0": 1}, "seed": 3}
    path = tmp_path / "keep.parquet"
    write_manifest(path, ids, labels, meta)
    m = read_manifest(path)
    assert m.sample.tolist() == ids.tolist() and m.target.tolist() == labels.tolist() and m.weight is None
    assert {k: m.meta[k] for k in meta} == meta and m.meta["artifact"] == "manifest"
    assert pq.read_schema(path).remove_metadata().equals(MANIFEST_SCHEMA)
    assert pl.read_parquet(path)["sample"].to_list() == ids.tolist()
    with pytest.raises(ValueError, match="sorted and unique"):
        write_manifest(tmp_path / "bad.parquet", ids[::-1], labels, meta)
    weights = gen.random(ids.shape[0])
    write_manifest(tmp_path / "weighted.parquet", ids, labels, meta, weight=weights)
    assert read_manifest(tmp_path / "weighted.parquet").weight.tolist() == weights.tolist()
