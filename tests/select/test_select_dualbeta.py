"""DUAL's Beta sampler: the Beta's shape by the rate, its weights against the Beta pdf, draws without replacement,
exact counts, the edges the authors' call cannot take, and the pipeline end to end (record, score dual, select)."""

from __future__ import annotations

import numpy as np
import pytest

from cli_helpers import prune
from pipeline.counts import keep_count
from pipeline.io import PruneError, open_run, read_manifest, read_scores
from pipeline.select.core import choose
from pipeline.select.samplers.dualbeta import beta_shape, dualbeta_probabilities, select_dualbeta


def test_the_beta_shape_by_hand():
    # β = 15 (1 − μ_D)(1 − r^c_D), α = 16 − β
    a, b = beta_shape(0.5, 0.4, 4.0)
    assert b == pytest.approx(15 * 0.6 * (1 - 0.5 ** 4)) == pytest.approx(8.4375)
    assert a == pytest.approx(16 - 8.4375)
    # the higher the rate, the smaller β: the Beta's mode (α−1)/(α+β−2) moves towards μ = 1 (easier samples)
    modes = [(a - 1) / (a + b - 2) for a, b in (beta_shape(r, 0.4, 4.0) for r in (0.1, 0.5, 0.7, 0.9))]
    assert modes == sorted(modes) and modes[0] == pytest.approx(0.4, abs=0.05) and modes[-1] > 0.75


def test_three_samples_by_hand():
    # fewer than 10 samples: μ_D is the mean μ of all of them, 0.5; keep 1 of 3: r = 2/3
    scores, mu = np.array([1.0, 2.0, 3.0]), np.array([0.2, 0.5, 0.8])
    b = 15 * 0.5 * (1 - (2 / 3) ** 4)
    a = 16 - b
    w = [mu_i ** (a - 1) * (1 - mu_i) ** (b - 1) * s for mu_i, s in zip(mu, scores)]
    want = np.array(w) / sum(w)
    np.testing.assert_allclose(dualbeta_probabilities(scores, mu, 1), want, rtol=1e-12)


def test_the_probabilities_are_the_beta_pdf_times_the_score():
    stats = pytest.importorskip("scipy.stats")
    g = np.random.default_rng(0)
    n, n_keep = 40, 12
    scores, mu = g.uniform(0.01, 1.0, n), g.uniform(0.02, 0.98, n)
    top10 = np.argsort(-scores)[:10]  # μ_D: the mean μ of the 10 highest scores (the authors' mask[-10:])
    a, b = beta_shape((n - n_keep) / n, mu[top10].mean(), 4.0)
    joint = stats.beta.pdf(mu, a, b) * scores
    np.testing.assert_allclose(dualbeta_probabilities(scores, mu, n_keep), joint / joint.sum(), rtol=1e-9)
    a, b = beta_shape((n - n_keep) / n, mu[top10].mean(), 1.5)  # another c_D
    joint = stats.beta.pdf(mu, a, b) * scores
    np.testing.assert_allclose(dualbeta_probabilities(scores, mu, n_keep, c_d=1.5), joint / joint.sum(), rtol=1e-9)


@pytest.mark.parametrize("n", [1, 2, 7, 13, 60])
def test_exact_counts_and_the_same_draw_for_a_seed(n):
    g = np.random.default_rng(n)
    scores, mu = g.uniform(0, 1, n), g.uniform(0, 1, n)
    for n_keep in range(n + 1):
        kept = select_dualbeta(scores, mu, n_keep, rng=np.random.default_rng(5))
        assert kept.dtype == np.int64 and len(kept) == n_keep and (np.diff(kept) > 0).all()
        assert len(kept) == 0 or (kept[0] >= 0 and kept[-1] < n)
        np.testing.assert_array_equal(kept, select_dualbeta(scores, mu, n_keep, rng=np.random.default_rng(5)))
    if n >= 13:
        draws = {tuple(select_dualbeta(scores, mu, n // 2, rng=np.random.default_rng(s))) for s in range(20)}
        assert len(draws) > 1  # random: other seeds draw other subsets


def test_the_first_draw_follows_the_probabilities():
    g = np.random.default_rng(1)
    scores, mu = g.uniform(0.1, 1.0, 5), np.array([0.3, 0.45, 0.6, 0.75, 0.9])
    p = dualbeta_probabilities(scores, mu, 1)
    trials = 4000
    counts = np.bincount([select_dualbeta(scores, mu, 1, rng=np.random.default_rng(s))[0] for s in range(trials)],
                         minlength=5)
    assert np.all(np.abs(counts / trials - p) <= 4 * np.sqrt(p * (1 - p) / trials) + 1e-9)


def test_two_draws_are_without_replacement_in_proportion_to_the_weights():
    # successive draws, each in proportion to the weights left: P(i kept) = p_i + Σ_{j≠i} p_j · p_i / (1 − p_j),
    # p the normalised weights for keeping 2 of 5 (r = 3/5)
    g = np.random.default_rng(2)
    scores, mu = g.uniform(0.1, 1.0, 5), np.array([0.2, 0.4, 0.5, 0.7, 0.85])
    p = dualbeta_probabilities(scores, mu, 2)
    want = np.array([p[i] + sum(p[j] * p[i] / (1 - p[j]) for j in range(5) if j != i) for i in range(5)])
    trials = 4000
    kept = np.concatenate([select_dualbeta(scores, mu, 2, rng=np.random.default_rng(s)) for s in range(trials)])
    freq = np.bincount(kept, minlength=5) / trials
    assert np.all(np.abs(freq - want) <= 4 * np.sqrt(want * (1 - want) / trials))


def test_samples_at_a_pole_come_first_and_weight_zero_last():
    # c_D small and rate 0.75: β = 15 (1 − μ_D)(1 − 0.75^0.1) < 1, so the pdf is infinite at μ = 1
    n = 20
    g = np.random.default_rng(3)
    scores, mu = g.uniform(0.1, 1.0, n), g.uniform(0.1, 0.9, n)
    mu[[2, 7, 11]] = 1.0
    assert beta_shape(0.75, 0.0, 0.1)[1] < 1
    for seed in range(10):
        kept = select_dualbeta(scores, mu, 5, c_d=0.1, rng=np.random.default_rng(seed))
        assert {2, 7, 11} <= set(kept.tolist())
    p = dualbeta_probabilities(scores, mu, 5, c_d=0.1)
    np.testing.assert_allclose(p[[2, 7, 11]], scores[[2, 7, 11]] / scores[[2, 7, 11]].sum())
    assert p.sum() == pytest.approx(1.0) and np.count_nonzero(p) == 3
    # a score of 0 (or below) weighs 0: taken only once every weighted sample is kept, uniformly among them
    scores = np.array([0.5, 0.0, 0.2, 0.0, 0.9, 0.0])
    mu = np.full(6, 0.5)
    seen = set()
    for seed in range(30):
        kept = select_dualbeta(scores, mu, 4, rng=np.random.default_rng(seed)).tolist()
        assert {0, 2, 4} <= set(kept)
        seen |= set(kept) - {0, 2, 4}
    assert seen == {1, 3, 5}
    # no positive weight at all: every sample equally likely
    np.testing.assert_allclose(dualbeta_probabilities(np.zeros(4), np.full(4, 0.5), 2), np.full(4, 0.25))


def test_a_table_whose_low_end_is_hard_weighs_its_negated_score():
    mu = np.array([0.3, 0.5, 0.6, 0.4])
    low = np.array([-1.0, -3.0, 2.0, -2.0])
    np.testing.assert_allclose(dualbeta_probabilities(low, mu, 2, higher_is_harder=False),
                               dualbeta_probabilities(-low, mu, 2, higher_is_harder=True))
    assert dualbeta_probabilities(low, mu, 2, higher_is_harder=False)[2] == 0.0


def test_through_choose_with_a_class_quota():
    g = np.random.default_rng(4)
    targets = np.repeat(np.arange(3), [20, 30, 50])
    values, mu = g.uniform(0, 1, 100), g.uniform(0, 1, 100)
    kept, params, _, _ = choose(targets=targets, values=values, p_true_mean=mu, method="dualbeta",
                                quota="proportional", rate=0.6, seed=3)
    assert params == {"c_d": 4.0} and len(kept) == keep_count(100, 0.6)
    assert np.bincount(targets[kept]).tolist() == [8, 12, 20]
    kept, params, _, _ = choose(targets=targets, values=values, p_true_mean=mu, method="dualbeta", rate=0.6, seed=3,
                                options={"c_d": 2.0})
    np.testing.assert_array_equal(kept, select_dualbeta(values, mu, 40, c_d=2.0, rng=np.random.default_rng(3)))
    with pytest.raises(PruneError, match="pass p_true_mean"):
        choose(targets=targets, values=values, method="dualbeta", rate=0.6)
    with pytest.raises(PruneError, match=r"probabilities in \[0, 1\]"):
        choose(targets=targets, values=values, p_true_mean=mu + 1, method="dualbeta", rate=0.6)
    with pytest.raises(PruneError, match="--c-d"):
        choose(targets=targets, values=values, p_true_mean=mu, method="dualbeta", rate=0.6, options={"c_d": 0.0})


def test_the_dynamic_rule_dual_plus_dualbeta():
    import pipeline.api.composite  # noqa: F401  (registers the SCORE+SAMPLER family)
    from pipeline.train.dynamic import get_dynamic
    from pipeline.score.methods.dual import dual_score

    g = np.random.default_rng(6)
    targets = np.repeat(np.arange(3), 20)
    logits = g.normal(size=(1, 4, 60, 3)).astype(np.float32)
    plan = get_dynamic("dual+dualbeta").build(targets, 0.5, num_classes=3, epochs=8, window=2)
    values, hard_high = plan.score(logits)
    np.testing.assert_allclose(values, dual_score(logits, targets, 2), rtol=1e-6)
    kept = plan.choose(values, hard_high, 30, 7)
    z = logits[0].astype(np.float64)
    p_y = np.exp(z - np.log(np.exp(z).sum(-1, keepdims=True)))[:, np.arange(60), targets]
    np.testing.assert_array_equal(kept, select_dualbeta(values, p_y.mean(axis=0), 30, rng=np.random.default_rng(7)))


def test_record_score_dual_select_dualbeta(tmp_path, monkeypatch):
    from pipeline import select as api_select
    from pipeline.score.methods.dual import p_true_mean

    monkeypatch.chdir(tmp_path)
    prune("record", "--data", "digits", "--model", "mlp", "--epochs", "2", "--run", "runs/d", "--quiet",
          "--threads", "1")
    prune("score", "--run", "runs/d", "--method", "dual", "--window", "2")
    res = prune("select", "--run", "runs/d", "--method", "dualbeta", "--rate", "0.5", "--seed", "3",
                "--out", "keep.parquet")
    assert "mean label probability: the first 2 epoch(s)" in res.output
    r, table, m = open_run("runs/d"), read_scores("runs/d/scores/dual.parquet"), read_manifest("keep.parquet")
    assert table.meta["parameters"] == {"window": 2, "epochs": 2}
    assert len(m.sample) == keep_count(r.n, 0.5) and m.meta["method"] == "dualbeta"
    assert m.meta["parameters"]["c_d"] == 4.0 and m.meta["parameters"]["p_true_mean"]["epochs"] == 2
    want = select_dualbeta(table.score, p_true_mean(r, 2), keep_count(r.n, 0.5), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(m.sample, want)
    # the API reads the same probabilities from the table's run
    sel = api_select("runs/d/scores/dual.parquet", 0.5, method="dualbeta", seed=3)
    np.testing.assert_array_equal(sel.ids, m.sample)
