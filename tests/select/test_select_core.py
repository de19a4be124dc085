"""The selection core on arrays and the registries behind it: samplers, quotas, user entries (dynamic rules: tests/train/)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.counts import keep_count
from pipeline.io import PruneError, open_run, read_manifest, write_scores
from pipeline.record.synthetic import write_run
from pipeline.select.base import Pool, Quota, Sampler
from pipeline.select.catalog import QUOTAS, SAMPLERS, get_quota, get_sampler, register_quota, register_sampler
from pipeline.select.lastlayer import LastLayer
from pipeline.select.core import choose
from pipeline.select.run import select
from pipeline.select.samplers import ccs_default_beta, select_topk

runner = CliRunner()

SIZES = [30, 50, 70, 90]
N = sum(SIZES)
RECALLS = np.array([0.5, 0.9, 1.0, 0.95])


@pytest.fixture(scope="module")
def table():
    """A small random table: labels, tied scores, embeddings, recalls and a reference selection's class counts."""
    gen = np.random.default_rng(0)
    targets = np.repeat(np.arange(4), SIZES)
    gen.shuffle(targets)
    emb = (gen.normal(size=(N, 6)) + targets[:, None]).astype(np.float32)
    head_w, head_b = gen.normal(size=(4, 6)), gen.normal(size=4)
    val_y = np.repeat(np.arange(4), 5)
    val_emb = gen.normal(size=(20, 6)) + val_y[:, None]
    return {
        "targets": targets,
        "values": np.round(gen.normal(size=N), 1),
        "emb": emb,
        "recalls": RECALLS,
        "like_counts": np.array([24, 24, 24, 24]),
        "grads": LastLayer.from_head(emb, head_w, head_b, targets),
        "val_grads": LastLayer.from_head(val_emb, head_w, head_b, val_y),
        "val_targets": val_y,
        "p_true_mean": gen.uniform(0.0, 1.0, size=N),
    }


def _choose(table, method, quota, **kw):
    return choose(targets=table["targets"], values=table["values"], emb=table["emb"], recalls=table["recalls"],
                  like_counts=table["like_counts"], grads=table["grads"], val_grads=table["val_grads"],
                  val_targets=table["val_targets"], p_true_mean=table["p_true_mean"], method=method, quota=quota,
                  **kw)


# -------------------------------------------------------------------------- the registries


@pytest.mark.parametrize("entry", [*SAMPLERS.values(), *QUOTAS.values()], ids=lambda e: e.name)
def test_every_entry_has_summary_and_paper(entry):
    assert entry.summary.strip() and entry.paper.strip()
    assert "\n" not in entry.summary


@pytest.mark.parametrize("method", list(SAMPLERS))
@pytest.mark.parametrize("quota", list(QUOTAS))
@pytest.mark.parametrize("rate", [0.3, 0.55, 0.9])
def test_every_sampler_with_every_quota_keeps_the_exact_count(table, method, quota, rate):
    kept, params, detail, _ = _choose(table, method, quota, rate=rate, seed=1)
    assert kept.dtype == np.int64 and len(kept) == keep_count(N, rate) == N - round(rate * N)
    assert (np.diff(kept) > 0).all() and kept[0] >= 0 and kept[-1] < N
    assert list(params) == list(SAMPLERS[method].defaults)  # no sources given: only the parameters
    again, _, _, _ = _choose(table, method, quota, rate=rate, seed=1)
    np.testing.assert_array_equal(again, kept)  # deterministic for a seed


def test_parameters_and_details_as_a_manifest_records_them(table):
    _, params, detail, _ = _choose(table, "ccs", "drop", rate=0.8)
    assert params == {"beta": ccs_default_beta(0.8), "strata": 50}
    assert detail["recalls"] == dict(zip("0123", RECALLS.tolist())) and detail["floor"] == 1
    _, params, detail, _ = _choose(table, "d2", "strategyq", n_keep=100, k=3)
    assert params == {"keep": "hard", "k": 3, "gamma": 0.1, "gamma_forward": 1.0, "beta": 0.0, "strata": 1}
    assert detail == {"like": {"n_kept": 96, "class_counts_kept": {c: 24 for c in "0123"}}}
    kept, _, detail, _ = _choose(table, "random", "normalize", n_keep=100, keep="easy")
    assert detail == {"keep": "easy"} and len(kept) == 100
    assert _choose(table, "topk", "proportional", rate=0.5)[2] is None


def test_topk_by_hand():
    kept, params, _, _ = choose(targets=[0, 0, 1, 1, 1], values=[0.5, 0.1, 0.9, 0.3, 0.3], n_keep=2, method="topk")
    assert kept.tolist() == [0, 2] and params == {"keep": "hard"}
    kept, _, _, _ = choose(targets=[0, 0, 1, 1, 1], values=[0.5, 0.1, 0.9, 0.3, 0.3], n_keep=2, higher_is_harder=False)
    assert kept.tolist() == [1, 3]  # the tie at 0.3 goes to the lower id
    kept, _, _, _ = choose(targets=[0, 0, 1, 1, 1], values=[0.5, 0.1, 0.9, 0.3, 0.3], n_keep=2, quota="balanced")
    assert kept.tolist() == [0, 2]


# -------------------------------------------------------------------------- one-line errors


@pytest.mark.parametrize("kind, get, registry, words", [
    ("method", get_sampler, SAMPLERS, "unknown selection method 'nope'; valid methods: "),
    ("quota", get_quota, QUOTAS, "unknown quota 'nope'; valid quotas: "),
])
def test_unknown_names_list_the_registry(kind, get, registry, words):
    with pytest.raises(PruneError) as err:
        get("nope")
    msg = str(err.value)
    assert "\n" not in msg and msg == words + ", ".join(registry)


@pytest.mark.parametrize("kw, words", [
    ({"method": "nope"}, "valid methods: topk, random, ccs, moderate, d2, kcenter"),
    ({"quota": "nope"}, "valid quotas: none, proportional, balanced, drop, strategyq, normalize"),
    ({"rate": 1.5}, "--rate must be in (0, 1)"),
    ({"rate": 0.001}, "removes none"),
    ({"rate": 0.5, "n_keep": 3}, "exactly one of n_keep and rate"),
    ({"n_keep": 240}, "n_keep must be in [1, 239]"),
    ({"rate": 0.5, "k": 3}, "--k does not apply to --method topk --quota none"),
    ({"rate": 0.5, "options": {"bogus": 1}}, "--bogus does not apply"),
    ({"rate": 0.5, "keep": "middle"}, "--keep must be one of 'hard', 'easy'"),
    ({"rate": 0.5, "method": "ccs", "beta": 1.0}, "--beta must be a number in [0, 1)"),
    ({"rate": 0.5, "method": "ccs", "beta": 0.6}, "beta must be at most 0.5"),
    ({"rate": 0.5, "method": "ccs", "strata": 0}, "--strata must be an integer >= 1"),
    ({"rate": 0.5, "method": "d2", "gamma": -1.0}, "--gamma must be a number >= 0"),
    ({"rate": 0.5, "values": None}, "reads scores: pass values"),
    ({"rate": 0.5, "values": np.full(N, np.nan)}, "NaN"),
    ({"rate": 0.5, "values": np.zeros(3)}, "3 scores but targets 240"),
    ({"rate": 0.5, "method": "kcenter", "emb": None}, "reads embeddings: pass emb"),
    ({"rate": 0.5, "quota": "drop", "recalls": None}, "pass recalls"),
    ({"rate": 0.5, "quota": "drop", "recalls": [0.5, 2.0, 1.0, 1.0]}, "recalls must be in [0, 1]"),
    ({"rate": 0.5, "quota": "strategyq", "like_counts": None}, "pass like_counts"),
    ({"rate": 0.5, "targets": np.full(N, -1)}, "targets must be >= 0"),
    ({"rate": 0.5, "num_classes": 2}, "num_classes must be"),
])
def test_bad_input_is_one_line(table, kw, words):
    args = {"targets": table["targets"], "values": table["values"], "emb": table["emb"], "recalls": table["recalls"],
            "like_counts": table["like_counts"], **kw}
    with pytest.raises(PruneError) as err:
        choose(**args)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_options_some_entries_ignore_stay_accepted(table):
    # keep, beta and strata were always accepted where they do not apply (`prune demo` passes --strata 50 to random)
    kept, params, _, _ = _choose(table, "random", "none", rate=0.5, strata=50, beta=0.1, keep="easy")
    assert len(kept) == 120 and params == {}


# -------------------------------------------------------------------------- user entries, through the same path


def _lowest_ids(pool: Pool, n_keep: int, rng, *, offset: int) -> np.ndarray:
    """Toy sampler: the n_keep positions from ``offset`` on (wrapping), whatever the scores."""
    return np.sort((np.arange(n_keep) + offset) % pool.n)


@pytest.fixture
def user_entries():
    register_sampler(Sampler("lowest", _lowest_ids, "the lowest ids from an offset", "a test", needs=(),
                             defaults={"offset": 0}))
    register_quota(Quota("first-class", lambda x, n_keep: _all_in_order(x.class_counts, n_keep),
                         "fill classes in order", "a test"))
    yield
    SAMPLERS.pop("lowest")
    QUOTAS.pop("first-class")


def _all_in_order(counts: np.ndarray, n_keep: int) -> np.ndarray:
    out = np.zeros_like(counts)
    for c, size in enumerate(counts.tolist()):
        out[c] = min(size, n_keep - out.sum())
    return out


@pytest.mark.parametrize("quota", ["none", "proportional", "balanced", "drop", "strategyq", "normalize", "first-class"])
def test_a_registered_sampler_runs_through_the_core(table, user_entries, quota):
    kept, params, _, _ = _choose(table, "lowest", quota, rate=0.3, options={"offset": 5})
    assert len(kept) == N - round(0.3 * N) and (np.diff(kept) > 0).all() and params == {"offset": 5}
    if quota == "none":
        assert kept.tolist() == list(range(5, 5 + 168))
    if quota == "first-class":
        counts = np.bincount(table["targets"][kept], minlength=4)
        assert counts.tolist() == [30, 50, 70, 18]
    with pytest.raises(PruneError, match="does not apply"):
        _choose(table, "lowest", quota, rate=0.3, k=3)


def test_a_registered_quota_runs_with_every_sampler(table, user_entries):
    for method in list(SAMPLERS):
        kept, _, _, _ = _choose(table, method, "first-class", rate=0.3)
        assert np.bincount(table["targets"][kept], minlength=4).tolist() == [30, 50, 70, 18]


def test_registration_is_checked():
    with pytest.raises(ValueError, match="is built-in"):
        register_sampler(SAMPLERS["topk"], replace=True)
    mine = register_sampler(Sampler("mine", _lowest_ids, "s", "p", needs=()))
    try:
        with pytest.raises(ValueError, match="is registered; pass replace=True"):
            register_sampler(mine)
        assert register_sampler(mine, replace=True) is mine
    finally:
        SAMPLERS.pop("mine")
    with pytest.raises(ValueError, match="it can read"):
        register_sampler(Sampler("x", _lowest_ids, "s", "p", needs=("recalls",)))
    with pytest.raises(TypeError):
        register_quota(SAMPLERS["topk"])
    with pytest.raises(ValueError, match="one word"):
        register_quota(Quota("two words", None, "s", "p"))


def test_a_sampler_that_breaks_the_count_is_one_line(table):
    register_sampler(Sampler("short", lambda pool, n_keep, rng: np.arange(n_keep - 1), "one short", "a test", needs=()))
    try:
        for quota in ("none", "balanced"):
            with pytest.raises(PruneError, match="expected"):
                _choose(table, "short", quota, rate=0.5)
    finally:
        SAMPLERS.pop("short")


# -------------------------------------------------------------------------- the stage calls the core


@pytest.fixture(scope="module")
def synth(tmp_path_factory, table):
    d = tmp_path_factory.mktemp("core")
    gen = np.random.default_rng(1)
    targets = table["targets"]
    logits = gen.normal(size=(1, 2, N, 4)).astype(np.float32)
    emb = table["emb"][None, None]  # one init, one snapshot
    run = write_run(d / "run", logits, targets, val_recall=RECALLS, embeddings=emb)
    write_scores(run / "scores" / "s.parquet", np.arange(N), targets, table["values"], method="s", parameters={},
                 higher_is_harder=True, fingerprint=open_run(run).fingerprint, source_run=str(run))
    return {"dir": d, "run": run}


@pytest.mark.parametrize("method, quota", [("ccs", "none"), ("ccs", "drop"), ("d2", "balanced"), ("kcenter", "none"),
                                           ("topk", "normalize"), ("random", "proportional")])
def test_the_stage_writes_what_the_core_chooses(synth, table, method, quota):
    out = synth["dir"] / f"{method}-{quota}.parquet"
    meta = select(run=synth["run"], method=method, rate=0.45, scores=None, out=out, keep="hard", quota=quota, beta=None,
                  strata=None, seed=4, log=lambda m: None)
    emb = open_run(synth["run"]).embeddings(None)[0]  # as recorded (float16, read as float32)
    kept, params, _, _ = choose(targets=table["targets"], values=table["values"], emb=emb, recalls=RECALLS, method=method,
                             quota=quota, rate=0.45, seed=4)
    np.testing.assert_array_equal(read_manifest(out).sample, kept)
    assert {k: v for k, v in meta["parameters"].items() if k != "embeddings"} == params


def test_the_stage_runs_a_registered_sampler(synth, user_entries):
    res = runner.invoke(app, ["select", "--run", str(synth["run"]), "--method", "lowest", "--quota", "first-class",
                              "--rate", "0.3", "--out", str(synth["dir"] / "user.parquet")])
    assert res.exit_code == 0, res.output
    m = read_manifest(synth["dir"] / "user.parquet")
    assert len(m.sample) == 168 and m.meta["parameters"] == {"offset": 0} and m.meta["quota"] == "first-class"


def test_select_help_comes_from_the_registries():
    res = runner.invoke(app, ["select", "--help"], env={"COLUMNS": "400"})
    text = " ".join(res.output.replace("│", " ").split())
    for e in [*SAMPLERS.values(), *QUOTAS.values()]:
        assert f"{e.name}: {e.summary}" in text


def test_select_core_and_topk_agree_on_a_large_table():
    gen = np.random.default_rng(3)
    values = gen.integers(0, 50, size=5000).astype(float)
    kept, _, _, _ = choose(targets=np.zeros(5000, dtype=int), values=values, rate=0.37)
    np.testing.assert_array_equal(kept, select_topk(values, keep_count(5000, 0.37), higher_is_harder=True))
