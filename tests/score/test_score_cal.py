"""CAL: a hand-sized case against a naive implementation, the kNN's ties and blocks, a recorded run end to end."""

from __future__ import annotations

import numpy as np
import pytest

from cli_helpers import error_line, prune
from pipeline.io import PruneError, open_run, read_scores
from pipeline.record.synthetic import write_run
from pipeline.score.methods import cal
from pipeline.score.run import score


def naive_cal(points, logits, targets, k, balance=True):
    """Every pairwise distance by explicit differences; neighbours by a stable sort (ties to the lower row);
    the symmetric KL term by term."""
    points, logits = np.asarray(points, dtype=np.float64), np.asarray(logits, dtype=np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    out = []
    for i in range(len(points)):
        others = [j for j in range(len(points)) if j != i and (not balance or targets[j] == targets[i])]
        dist = [float(np.sqrt(((points[i] - points[j]) ** 2).sum())) for j in others]
        near = [others[t] for t in np.argsort(dist, kind="stable")[:k]]
        kl = [sum(0.5 * p[i, c] * np.log(p[i, c] / p[j, c]) + 0.5 * p[j, c] * np.log(p[j, c] / p[i, c])
                  for c in range(p.shape[1])) for j in near]
        out.append(np.mean(kl) if kl else 0.0)
    return np.array(out)


# 8 points on a grid (integer coordinates: the distances, ties included, are exact), two classes
POINTS = np.array([[0, 0], [1, 0], [0, 2], [3, 1], [5, 5], [4, 4], [6, 5], [1, 1]], dtype=np.float64)
TARGETS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
LOGITS = np.array([[2.0, 0.0, -1.0], [1.5, 0.5, 0.0], [0.0, 1.0, 0.0], [3.0, -2.0, 1.0],
                   [0.0, 0.0, 2.0], [-1.0, 1.0, 0.5], [0.3, 0.2, 0.1], [1.0, 1.0, -3.0]])


def test_neighbours_by_hand():
    nb = cal.nearest_neighbours(POINTS[:4], 2)
    # point 0: 1 at 1, 2 at 2; point 1: 0 at 1, then 2 (√5) and 3 (√5) tie → the lower row, 2
    np.testing.assert_array_equal(nb, [[1, 2], [0, 2], [0, 1], [1, 0]])
    assert cal.nearest_neighbours(POINTS[:1], 2).shape == (1, 0)  # a lone point has none


def test_hand_sized_case_matches_the_naive_implementation():
    log_p = cal.log_softmax(LOGITS)
    for balance in (True, False):
        got = cal.cal_scores(POINTS, log_p, TARGETS if balance else None, 2)
        np.testing.assert_allclose(got, naive_cal(POINTS, LOGITS, TARGETS, 2, balance), rtol=1e-12, atol=1e-15)
    # point 0 by hand, its class's neighbours 1 and 2: the mean of ½(p − q)·(log p − log q) over the two
    p = np.exp(log_p)
    by_hand = np.mean([0.5 * ((p[0] - p[j]) * (log_p[0] - log_p[j])).sum() for j in (1, 2)])
    assert cal.cal_scores(POINTS, log_p, TARGETS, 2)[0] == pytest.approx(by_hand, rel=1e-12)


def test_blocks_and_ties_do_not_change_the_neighbours(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(300, 3)).astype(np.float64)  # many exact ties and duplicates
    want = cal.nearest_neighbours(x, 7)
    for i in (0, 151, 299):
        d = np.sqrt(((x - x[i]) ** 2).sum(axis=1))
        d[i] = np.inf
        np.testing.assert_array_equal(want[i], np.argsort(d, kind="stable")[:7])
    monkeypatch.setattr(cal, "BLOCK_BYTES", 8 * 300 * 7)  # 7 query rows per block
    np.testing.assert_array_equal(cal.nearest_neighbours(x, 7), want)


def synthetic_run(path, emb, heads, targets):
    """A run with embeddings (init, sample, dim) and heads (init, class, 1 + dim), after its one epoch."""
    inits, n, dim = emb.shape
    C = heads.shape[1]
    return write_run(path, np.zeros((inits, 1, n, C), np.float32), targets, embeddings=emb[:, None],
                     heads=heads[:, None])


def test_a_run_averages_its_inits_and_reads_user_features(tmp_path):
    emb = np.stack([POINTS, POINTS[::-1] * 2]).astype(np.float32)  # exact in float16
    W = np.array([[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], [[0.0, 1.0], [1.0, -1.0], [0.0, 0.0]]])
    b = np.array([[0.0, 0.5, -0.5], [0.25, 0.0, 0.0]])
    run = synthetic_run(tmp_path / "run", emb, np.concatenate([b[..., None], W], axis=2), TARGETS)
    _, s, params = score(run=run, method="cal", params={"neighbors": 2})
    want = np.mean([naive_cal(emb[i], emb[i] @ W[i].T + b[i], TARGETS, 2) for i in range(2)], axis=0)
    np.testing.assert_allclose(s, want, rtol=1e-5)
    assert params == {"snapshot": 1, "neighbors": 2, "balance": True, "features": None}
    np.save(tmp_path / "f.npy", POINTS[::-1])
    _, s, _ = score(run=run, method="cal", params={"neighbors": 2, "features": str(tmp_path / "f.npy")})
    want = np.mean([naive_cal(POINTS[::-1], emb[i] @ W[i].T + b[i], TARGETS, 2) for i in range(2)], axis=0)
    np.testing.assert_allclose(s, want, rtol=1e-5)
    np.save(tmp_path / "bad.npy", POINTS[:5])
    with pytest.raises(PruneError, match=r"--features .*bad.npy: expected .* 8 rows"):
        score(run=run, method="cal", params={"features": str(tmp_path / "bad.npy")})


def test_without_embeddings_names_the_flag(tmp_path):
    run = write_run(tmp_path / "run", np.zeros((1, 2, 3, 2), np.float32), np.array([0, 1, 0]))
    assert "prune record --embeddings" in error_line(prune("score", "--method", "cal", "--run", str(run), ok=False))


def test_recorded_run_end_to_end(tmp_path):
    run = tmp_path / "run"
    prune("record", "--data", "digits", "--model", "mlp", "--epochs", "1", "--embeddings", "final",
          "--checkpoints", "final", "--batch-size", "256", "--device", "cpu", "--run", str(run))
    prune("score", "--method", "cal", "--run", str(run))
    t = read_scores(run / "scores" / "cal.parquet")
    r = open_run(run)
    assert len(t.score) == r.n and np.isfinite(t.score).all() and (t.score >= 0).all() and t.higher_is_harder
    w, b = r.heads()
    emb = r.embeddings()[0]
    some = np.flatnonzero(r.targets == 3)[:20]
    naive = naive_cal(emb[r.targets == 3], emb[r.targets == 3] @ w[0].T + b[0], r.targets[r.targets == 3], 10)
    np.testing.assert_allclose(t.score[some], naive[:20], rtol=1e-6)
