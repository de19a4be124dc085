"""Every score against hand-computed values on tiny trajectories written as real runs."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from pipeline.io import PruneError, open_run, read_scores
from pipeline.record.synthetic import write_run
from pipeline.score.methods.tdds import tdds
from pipeline.score.registry import METHODS
from pipeline.score.run import score


def two_class_logits(correct: list[list[int]]) -> np.ndarray:
    """(epoch, sample) correctness pattern → logits of target class 0: [1, 0] if correct else [0, 1]."""
    c = np.asarray(correct, dtype=bool).T  # (epoch, sample)
    z = np.zeros(c.shape + (2,), dtype=np.float32)
    z[..., 0] = c
    z[..., 1] = ~c
    return z


@pytest.fixture
def forgetting_run(tmp_path):
    init0 = two_class_logits([[1, 0, 1, 0, 1], [0, 0, 0, 0, 0], [0, 1, 1, 1, 1]])
    init1 = two_class_logits([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 0, 0, 1, 0]])
    return write_run(tmp_path / "run", np.stack([init0, init1]), np.zeros(3, dtype=np.int64))


def test_forgetting_counts_transitions_and_never_learned(forgetting_run):
    _, s, params = score(run=forgetting_run, method="forgetting", params={})
    # s0: 2 and 0 events; s1 never learned: E=5 in both inits; s2: 0 and 2 (1→0 at 0→1 and 3→4)
    np.testing.assert_array_equal(s, [1.0, 5.0, 1.0])
    assert params == {"never_learned": "epochs"}
    _, s, _ = score(run=forgetting_run, method="forgetting", params={"never_learned": "zero"})
    np.testing.assert_array_equal(s, [1.0, 0.0, 1.0])


@pytest.fixture
def margin_run(tmp_path):
    # one init, two epochs, two samples, three classes; targets 0 and 2
    z = np.array([[[2.0, 1.0, 0.0], [0.0, 0.5, 0.0]],
                  [[0.0, 3.0, 1.0], [1.0, 0.0, 4.0]]], dtype=np.float32)
    return write_run(tmp_path / "run", z[None], np.array([0, 2])), z


def softmax(v):
    e = [math.exp(x) for x in v]
    return [x / sum(e) for x in e]


def test_aum_logit_margin_mean(margin_run):
    run, _ = margin_run
    _, s, _ = score(run=run, method="aum", params={})
    # sample 0: (2 − 1) and (0 − 3) → mean −1; sample 1: (0 − 0.5) and (4 − 1) → mean 1.25
    np.testing.assert_allclose(s, [-1.0, 1.25], rtol=1e-6)
    assert read_scores(run / "scores" / "aum.parquet").higher_is_harder is False


def test_aum_prob_space_sums(margin_run):
    run, z = margin_run
    _, s, _ = score(run=run, method="aum", params={"space": "prob"})
    exp = []
    for n, y in ((0, 0), (1, 2)):
        total = 0.0
        for e in range(2):
            p = softmax(z[e, n])
            total += p[y] - max(p[c] for c in range(3) if c != y)
        exp.append(total)
    np.testing.assert_allclose(s, exp, rtol=1e-5)


def test_el2n_default_epoch_from_dynamics_and_from_eval_logits(tmp_path):
    E = 10  # 10% into training → epoch index 0
    z = np.zeros((1, E, 2, 2), dtype=np.float32)
    z[0, 0, 1] = [math.log(0.9), math.log(0.1)]  # sample 1 (target 0): p = [0.9, 0.1]
    z[0, 1:] = 5.0
    run = write_run(tmp_path / "a", z, np.array([0, 0]))
    _, s, params = score(run=run, method="el2n", params={})
    assert params == {"epoch": 0}  # the default, resolved and recorded
    np.testing.assert_allclose(s, [math.sqrt(0.5), math.sqrt(0.1**2 + 0.1**2)], rtol=1e-5)
    # with an eval pass, EL2N reads the eval logits, not the training pass
    ev = np.zeros_like(z)
    ev[0, 3, 0] = [0.0, math.log(3.0)]  # p = [0.25, 0.75]
    run = write_run(tmp_path / "b", z, np.array([0, 0]), eval_logits=ev)
    _, s, _ = score(run=run, method="el2n", params={"epoch": 3})
    np.testing.assert_allclose(s, [math.sqrt(0.75**2 * 2), math.sqrt(0.5)], rtol=1e-5)


def test_tdds_hand_computed_single_window(tmp_path):
    p = [[0.5, 0.5], [0.8, 0.2], [0.8, 0.2]]
    z = np.log(np.array(p, dtype=np.float32))[None, :, None, :]  # (1, 3, 1, 2)
    run = write_run(tmp_path / "run", z, np.array([0]))
    _, s, _ = score(run=run, method="tdds", params={"window": 3})
    d0 = abs(0.8 * math.log(0.8 / 0.5)) + abs(0.2 * math.log(0.2 / 0.5))
    d1 = 0.0
    # one window (k = 0 = T − J): v = ‖(d0, d1) − mean‖₂ = |d0 − d1|/√2, weight β
    np.testing.assert_allclose(s, [0.9 * abs(d0 - d1) / math.sqrt(2)], rtol=1e-5)


def tdds_reference(logits, T, J, beta):
    """The authors' loop, written out literally (DESIGN §5), for one init."""
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    n = logits.shape[1]
    score = np.zeros(n)
    for k in range(0, T - J + 1):
        d = []
        for j in range(J - 1):
            a, b = p[k + j + 1], p[k + j]
            d.append(np.abs(a * (np.log(a + 1e-8) - np.log(b + 1e-8))).sum(-1))
        d = np.stack(d)
        v = np.sqrt(((d - d.mean(0)) ** 2).sum(0))
        score += v * beta * (1 - beta) ** (T - J - k)
    return score


def test_tdds_matches_the_authors_loop_and_averages_inits(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2, 12, 7, 4)).astype(np.float32) * 2
    ref = np.mean([tdds_reference(z[i].astype(np.float64), 12, 5, 0.8) for i in range(2)], axis=0)
    np.testing.assert_allclose(tdds(z, 5, 0.8), ref, rtol=1e-6)
    run = write_run(tmp_path / "run", z, rng.integers(0, 4, size=7))
    _, s, params = score(run=run, method="tdds", params={"window": 5, "decay": 0.8, "epochs": 10})
    ref10 = np.mean([tdds_reference(z[i, :10].astype(np.float64), 10, 5, 0.8) for i in range(2)], axis=0)
    np.testing.assert_allclose(s, ref10, rtol=1e-6)
    assert params == {"window": 5, "decay": 0.8, "epochs": 10}


@pytest.mark.parametrize("classes", [3, 40])  # the numpy kernel (few classes) and the torch one
def test_tdds_kernels_match_the_authors_loop(classes, monkeypatch):
    from pipeline.score.methods import tdds as module

    monkeypatch.setattr(module, "SUB_BYTES", 12 * 6 * classes * 4)  # slices of 6 samples: the loop over slices runs
    z = np.random.default_rng(classes).normal(size=(1, 12, 20, classes)).astype(np.float32) * 3
    np.testing.assert_allclose(tdds(z, 4, 0.9), tdds_reference(z[0].astype(np.float64), 12, 4, 0.9), rtol=1e-5)


def test_tdds_streams_chunks_like_one_block(tmp_path):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(1, 11, 50, 3)).astype(np.float32)
    run = open_run(write_run(tmp_path / "run", z, rng.integers(0, 3, size=50)))
    whole = tdds(z, 10, 0.9)
    chunked = np.concatenate([tdds(b, 10, 0.9) for _, _, b in run.iter_logits(chunk=7)])
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)


def test_random_scores_follow_the_seed(margin_run):
    run, _ = margin_run
    _, a, _ = score(run=run, method="random", params={"seed": 3})
    np.testing.assert_array_equal(a, np.random.default_rng(3).random(2))


# methods that need checkpoints or embeddings, or three epochs or more (dynunc), are
# covered the same way on a recorded run in test_scores_catalog.py
TWO_EPOCH_LOGITS = sorted({n for n, m in METHODS.items() if not m.pool_only} - {"grand", "moderate", "prototype", "dynunc", "deepfool", "cal"})


@pytest.mark.parametrize("name", TWO_EPOCH_LOGITS)
def test_every_method_writes_a_complete_table(margin_run, name):
    run, _ = margin_run
    path, values, params = score(run=run, method=name, params={"window": 2} if name in ("tdds", "dual") else {})
    t = read_scores(path)
    np.testing.assert_array_equal(t.sample, [0, 1])
    np.testing.assert_array_equal(t.target, [0, 2])
    np.testing.assert_array_equal(t.score, values)
    assert t.meta["method"] == name and t.meta["parameters"] == params
    assert t.fingerprint == open_run(run).fingerprint
    assert t.meta["source_run"] == str(run)


def test_unknown_method_lists_valid_ones(margin_run):
    with pytest.raises(PruneError, match="valid methods: forgetting, aum, el2n, tdds, random"):
        score(run=margin_run[0], method="nope", params={})


def test_option_of_another_method_is_refused(margin_run):
    with pytest.raises(PruneError, match="--window does not apply to --method aum"):
        score(run=margin_run[0], method="aum", params={"window": 3})


def test_tdds_window_longer_than_run(margin_run):
    with pytest.raises(PruneError, match="--window 10"):
        score(run=margin_run[0], method="tdds", params={})


def test_truncated_run_is_one_line(margin_run):
    run, _ = margin_run
    shutil.rmtree(run / "dynamics" / "init=0" / "epoch=1")
    with pytest.raises(PruneError, match="truncated"):
        score(run=run, method="aum", params={})
    (run / "run.json").unlink()
    with pytest.raises(PruneError, match="incomplete"):
        score(run=run, method="aum", params={})


def test_nan_logits_are_reported(tmp_path):
    z = np.zeros((1, 3, 2, 2), dtype=np.float32)
    z[0, 1, 0, 0] = np.nan
    run = write_run(tmp_path / "run", z, np.array([0, 1]))
    with pytest.raises(PruneError, match="NaN"):
        score(run=run, method="tdds", params={"window": 2})
    assert not (run / "scores" / "tdds.parquet").exists()
