"""Acquisition scores on the pool (label-free) against hand-computed values, on small fake runs (no training)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pipeline.io import PruneError
from pipeline.record.synthetic import write_run
from pipeline.score.registry import METHODS
from pipeline.score.run import score


def logits_of(p) -> np.ndarray:
    """Logits whose softmax is ``p`` (log p; softmax is shift-invariant)."""
    return np.log(np.asarray(p, dtype=np.float64)).astype(np.float32)


def H(p) -> float:
    return -sum(x * math.log(x) for x in p if x > 0)


class FakeRun:
    """What the pool functions read of a run recorded with ``--manifest M --pool``: arrays held in memory."""

    def __init__(self, *, epochs=2, inits=1, num_classes=3, pool_ids=(), arrays=None, embeddings=None,
                 snapshot_epochs=(), sample_ids=None, n=2, info=None):
        self.path = Path("fake-run")
        self.epochs, self.inits, self.num_classes, self.n = epochs, inits, num_classes, n
        self.pool_ids = np.asarray(pool_ids, dtype=np.int64)
        self.has_pool = True
        self.arrays = arrays or {}
        self._embeddings = embeddings
        self.snapshot_epochs = list(snapshot_epochs)
        self.sample_ids = np.arange(n, dtype=np.int64) if sample_ids is None else np.asarray(sample_ids, np.int64)
        self.n_total = n + len(self.pool_ids)
        self.info = info or {}
        self.checkpoint_epochs = sorted(int(k) for k in self.info.get("checkpoints", []))

    @property
    def pool_targets(self):
        raise AssertionError("a label-free pool score read the pool's labels")

    def has(self, name):
        return name in self.arrays

    def pool_array(self, name):
        if name not in self.arrays:
            raise PruneError(f"run {self.path} has no {name}")
        return np.asarray(self.arrays[name], dtype=np.float32)

    def embeddings(self, snapshot=None):
        if snapshot is not None and snapshot not in self.snapshot_epochs:
            raise PruneError(f"--snapshot {snapshot} was not recorded")
        k = len(self.snapshot_epochs) - 1 if snapshot is None else self.snapshot_epochs.index(snapshot)
        return np.asarray(self._embeddings[:, k], dtype=np.float32)


def pool_score(name, run, **given):
    m = METHODS[name]
    params = m.resolve(given, run)
    values = m.pool(run, params)
    assert values.shape == (len(run.pool_ids),)
    return values, params


# -- one-epoch scores of the pool's eval-mode logits ---------------------------

# 2 inits, 2 epochs, 2 pool samples, 3 classes: uniform after epoch 0, these after epoch 1
LAST = np.array([[[0.5, 0.25, 0.25], [0.7, 0.2, 0.1]],
                 [[0.25, 0.5, 0.25], [0.6, 0.3, 0.1]]])


@pytest.fixture
def logits_run():
    p = np.stack([np.full_like(LAST, 1 / 3), LAST], axis=1)  # (init, epoch, pool, class)
    return FakeRun(inits=2, pool_ids=[3, 7], arrays={"pool_logits": logits_of(p)})


@pytest.mark.parametrize("name, last, first", [
    ("entropy", [1.5 * math.log(2), (H([0.7, 0.2, 0.1]) + H([0.6, 0.3, 0.1])) / 2], [math.log(3)] * 2),
    ("margin", [0.25, (0.5 + 0.3) / 2], [0.0, 0.0]),
    ("confidence", [0.5, (0.7 + 0.6) / 2], [1 / 3] * 2),
    ("least-confidence", [0.5, (0.3 + 0.4) / 2], [2 / 3] * 2),
])
def test_one_epoch_pool_scores_hand_computed(logits_run, name, last, first):
    s, params = pool_score(name, logits_run)
    np.testing.assert_allclose(s, last, rtol=1e-6)
    assert params["epoch"] == 1  # the default, the last epoch, recorded as used
    s, params = pool_score(name, logits_run, epoch=0)
    np.testing.assert_allclose(s, first, rtol=1e-6, atol=1e-7)


def test_confidence_pool_logit_space(logits_run):
    s, _ = pool_score("confidence", logits_run, space="logit")
    np.testing.assert_allclose(s, [math.log(0.5), (math.log(0.7) + math.log(0.6)) / 2], rtol=1e-6)


def test_least_confidence_on_training_rows(tmp_path):
    # 2 inits, 2 epochs, 1 sample (target 1): the last epoch holds the probabilities
    p = np.array([[[0.4, 0.3, 0.3], [0.7, 0.2, 0.1]],
                  [[0.3, 0.3, 0.4], [0.2, 0.2, 0.6]]])
    run = write_run(tmp_path / "run", logits_of(p)[:, :, None, :], np.array([1]))
    _, s, params = score(run=run, method="least-confidence", params={})
    np.testing.assert_allclose(s, [(0.3 + 0.4) / 2], rtol=1e-5)
    assert params == {"epoch": 1}
    _, s, _ = score(run=run, method="least-confidence", params={"epoch": 0})
    np.testing.assert_allclose(s, [(0.6 + 0.6) / 2], rtol=1e-5)
    assert METHODS["least-confidence"].higher_is_harder is True


def test_least_confidence_keeps_small_values():
    from pipeline.score.methods.least_confidence import least_confidence

    z = np.array([[[30.0, 0.0]]])  # 1 − p_max = 1/(1 + e^30) ≈ 9.4e-14, lost by 1 − p in float64 rounding
    np.testing.assert_allclose(least_confidence(z), [[1 / (1 + math.exp(30))]], rtol=1e-12)


# -- EL2N without a label ------------------------------------------------------

def test_el2n_pool_max_and_avg(logits_run):
    # epoch 1; max: the predicted class is the label; avg: every class in turn
    s, params = pool_score("el2n", logits_run, epoch=1)
    assert params["label"] == "max"  # the pool's default, recorded as used
    np.testing.assert_allclose(s, [math.sqrt(0.375), (math.sqrt(0.14) + math.sqrt(0.26)) / 2], rtol=1e-6)
    s, _ = pool_score("el2n", logits_run, epoch=1, label="avg")
    s0 = (math.sqrt(0.375) + 2 * math.sqrt(0.875)) / 3  # both inits, by symmetry
    s1 = ((math.sqrt(0.14) + math.sqrt(1.14) + math.sqrt(1.34)) / 3 + (math.sqrt(0.26) + math.sqrt(0.86) + math.sqrt(1.26)) / 3) / 2
    np.testing.assert_allclose(s, [s0, s1], rtol=1e-6)


def test_el2n_pool_default_epoch_is_ten_percent_in(logits_run):
    s, params = pool_score("el2n", logits_run)
    assert params["epoch"] == 0  # ceil(0.1 · 2) − 1
    np.testing.assert_allclose(s, [math.sqrt(2 / 3)] * 2, rtol=1e-6)  # ‖(1/3, 1/3, 1/3) − e_c‖₂ for any c


def test_el2n_label_rules_are_checked(logits_run):
    with pytest.raises(PruneError, match="pool"):
        pool_score("el2n", logits_run, label="true")
    with pytest.raises(PruneError, match="--label of --method el2n must be one of 'true', 'max', 'avg'"):
        pool_score("el2n", logits_run, label="min")


def test_el2n_label_free_on_training_rows(tmp_path):
    # 1 init, 10 epochs (default epoch 0), 2 samples with targets 2 and 0
    z = np.zeros((1, 10, 2, 3), dtype=np.float32)
    z[0, 0] = logits_of([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]])
    run = write_run(tmp_path / "run", z, np.array([2, 0]))
    _, s, _ = score(run=run, method="el2n", params={"label": "max"})
    np.testing.assert_allclose(s, [math.sqrt(0.14), math.sqrt(0.26)], rtol=1e-5)
    _, s, _ = score(run=run, method="el2n", params={"label": "avg"})
    np.testing.assert_allclose(s, [(math.sqrt(0.14) + math.sqrt(1.14) + math.sqrt(1.34)) / 3,
                                   (math.sqrt(0.26) + math.sqrt(0.86) + math.sqrt(1.26)) / 3], rtol=1e-5)
    _, s, params = score(run=run, method="el2n", params={})  # the recorded label, as before
    np.testing.assert_allclose(s, [math.sqrt(1.34), math.sqrt(0.26)], rtol=1e-5)
    assert params == {"epoch": 0}  # label left at its default: the table's parameters as before the option
    _, s2, _ = score(run=run, method="el2n", params={"label": "true"})
    np.testing.assert_array_equal(s2, s)
    with pytest.raises(PruneError, match="--label of --method el2n must be one of 'true', 'max', 'avg'"):
        score(run=run, method="el2n", params={"label": "x"})


# -- MC-dropout scores ---------------------------------------------------------

def passes_predicting(classes_per_sample: list[list[int]], C: int = 3) -> np.ndarray:
    """(pass, sample, class) logits whose argmax in pass s for sample n is classes_per_sample[n][s]."""
    c = np.asarray(classes_per_sample).T  # (pass, sample)
    z = np.zeros(c.shape + (C,), dtype=np.float32)
    np.put_along_axis(z, c[..., None], 2.0, axis=-1)
    return z


def test_variation_ratio_counts_the_modal_class():
    mc = np.stack([passes_predicting([[0, 0, 1, 2], [1, 1, 1, 1]]),
                   passes_predicting([[2, 2, 2, 2], [0, 1, 1, 1]])])  # (init, pass, pool, class)
    run = FakeRun(inits=2, pool_ids=[0, 5], arrays={"pool_mc_logits": mc})
    s, _ = pool_score("variation-ratio", run)
    # sample 0: 1 − 2/4 and 1 − 4/4; sample 1: 1 − 4/4 and 1 − 3/4
    np.testing.assert_allclose(s, [(0.5 + 0.0) / 2, (0.0 + 0.25) / 2])


def test_bald_mutual_information_of_two_passes():
    p1 = [0.8, 0.1, 0.1]
    p2 = [0.1, 0.8, 0.1]
    mc = logits_of([[p1, p1], [p2, p1]])[None]  # (init, pass, pool, class): sample 1 agrees in both passes
    run = FakeRun(pool_ids=[1, 2], arrays={"pool_mc_logits": mc})
    s, _ = pool_score("bald", run)
    mean = [0.45, 0.45, 0.1]
    np.testing.assert_allclose(s, [H(mean) - (H(p1) + H(p2)) / 2, 0.0], rtol=1e-6, atol=1e-7)
    # by hand: H(.45, .45, .1) − H(.8, .1, .1) = (−.9 ln .45 − .1 ln .1) − (−.8 ln .8 − .2 ln .1)
    np.testing.assert_allclose(s[0], -0.9 * math.log(0.45) + 0.1 * math.log(0.1) + 0.8 * math.log(0.8), rtol=1e-6)


def test_bald_averages_inits():
    p1, p2 = [0.9, 0.1], [0.5, 0.5]
    mc = logits_of([[[p1], [p1]], [[p1], [p2]]])  # init 0 agrees (0); init 1 disagrees
    run = FakeRun(inits=2, num_classes=2, pool_ids=[0], arrays={"pool_mc_logits": mc})
    s, _ = pool_score("bald", run)
    np.testing.assert_allclose(s, [(H([0.7, 0.3]) - (H(p1) + H(p2)) / 2) / 2], rtol=1e-6)


@pytest.mark.parametrize("name", ["variation-ratio", "bald"])
def test_mc_scores_refuse_training_rows_in_one_line(name, tmp_path):
    run = write_run(tmp_path / "run", np.zeros((1, 2, 2, 2), np.float32), np.array([0, 1]))
    with pytest.raises(PruneError) as err:
        score(run=run, method=name, params={})
    assert str(err.value) == f"{name} scores the pool: prune score --pool on a run recorded with --pool --mc-samples K"
    assert METHODS[name].pool_only and METHODS[name].higher_is_harder is True


# -- GraNd of the pool ---------------------------------------------------------

def autograd_norms(model, x, y):
    out = []
    for i in range(len(y)):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        out.append(math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in model.parameters())))
    return np.array(out)


@pytest.fixture
def grand_setup(monkeypatch):
    from types import SimpleNamespace

    from pipeline.data.base import Split
    from pipeline.models import build_model
    from pipeline.score.methods import grand

    torch.manual_seed(0)
    shape, C, N = (1, 4, 4), 3, 7
    x = torch.randn(N, *shape)
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    models = []
    for _ in range(2):
        m = build_model("mlp", shape, C)
        m.train()
        m(torch.randn(16, *shape))  # non-trivial batch-norm running statistics
        models.append(m.eval())
    bundle = SimpleNamespace(train=Split(y=y, x=x))
    monkeypatch.setattr(grand, "load_training_data", lambda run: (bundle, y))
    monkeypatch.setattr(grand, "load_checkpoint", lambda run, i, k, b: models[i])
    run = FakeRun(inits=2, num_classes=C, n=3, sample_ids=[0, 2, 5], pool_ids=[1, 3, 4, 6],
                  info={"checkpoints": [0, 2], "model": "mlp"})
    return run, x, y, models


def test_grand_pool_predicted_label_matches_autograd(grand_setup):
    run, x, _, models = grand_setup
    s, params = pool_score("grand", run, device="cpu")
    assert params["label"] == "max" and params["epoch"] == 0  # nearest 10% of 2 epochs among 0, 2
    rows = torch.from_numpy(run.pool_ids)
    ref = []
    for m in models:
        with torch.no_grad():
            y_hat = m(x[rows]).argmax(1)
        ref.append(autograd_norms(m, x[rows], y_hat))
    np.testing.assert_allclose(s, np.mean(ref, axis=0), rtol=1e-5)


def test_grand_pool_avg_last_layer_is_the_closed_form(grand_setup):
    run, x, _, models = grand_setup
    s, _ = pool_score("grand", run, device="cpu", label="avg", last_layer=True)
    ref = []
    for m in models:
        with torch.no_grad():
            h = m.features(x[torch.from_numpy(run.pool_ids)]).flatten(1).double()
            p = torch.softmax(m.classifier(h.float()).double(), dim=1)
        corner = [(p - F.one_hot(torch.full((len(p),), c), 3).double()).norm(dim=1) for c in range(3)]
        ref.append((sum(corner) / 3 * torch.sqrt(1 + h.pow(2).sum(1))).numpy())
    np.testing.assert_allclose(s, np.mean(ref, axis=0), rtol=1e-5)


def test_grand_subset_run_scores_its_training_rows(grand_setup):
    from pipeline.score.methods import grand

    run, x, y, models = grand_setup
    params = METHODS["grand"].resolve({"device": "cpu"}, run)
    s = grand.compute(run, params)
    rows = torch.from_numpy(run.sample_ids)
    ref = np.mean([autograd_norms(m, x[rows], torch.from_numpy(y[run.sample_ids])) for m in models], axis=0)
    np.testing.assert_allclose(s, ref, rtol=1e-5)


def test_grand_loads_the_full_training_set_of_a_subset_run(monkeypatch):
    from types import SimpleNamespace

    import pipeline.engine.setup as setup
    from pipeline.score.methods import grand

    bundle = SimpleNamespace(name="d", identity=None, train=SimpleNamespace(y=np.arange(5) % 2))
    monkeypatch.setattr(setup, "load_data", lambda *a: bundle)
    monkeypatch.setattr(grand, "fingerprint", lambda *a: "fp")
    run = SimpleNamespace(info={"model": "mlp"}, dataset="d", path="r", fingerprint="fp", n=2, n_total=5)
    _, y = grand.load_training_data(run)
    np.testing.assert_array_equal(y, [0, 1, 0, 1, 0])
    run.n_total = 4
    with pytest.raises(PruneError, match="fingerprint differs"):
        grand.load_training_data(run)


# -- k-center (CoreSet) --------------------------------------------------------

# labelled: the origin; pool A, B, C, D
POOL_2D = np.array([[10, 0], [0, 5], [9, 1], [1, 2]], dtype=np.float32)


def kcenter_run(labelled, pool, inits=1):
    lab = np.asarray(labelled, np.float32)
    pool = np.asarray(pool, np.float32)
    lab, pool = np.stack([lab] * inits), np.stack([pool] * inits)
    return FakeRun(pool_ids=np.arange(len(pool[0])) * 2 + 1, n=len(lab[0]), inits=inits, snapshot_epochs=[0, 3],
                   embeddings=np.stack([np.zeros_like(lab), lab], axis=1),
                   arrays={"pool_embeddings": np.stack([np.zeros_like(pool), pool], axis=1)})


def test_kcenter_greedy_order_and_distances():
    run = kcenter_run([[0, 0]], POOL_2D)
    s, params = pool_score("kcenter", run, picks=3)
    # picks: A (10 from the origin), then B (5), then D (√5 from the origin; √85 and √10 from A and B); C stays √2 from A
    offset = 1 + math.sqrt(2)
    np.testing.assert_allclose(s, [offset + 3, offset + 2, math.sqrt(2), offset + 1], rtol=1e-6)
    assert params == {"snapshot": 3, "picks": 3}
    s, _ = pool_score("kcenter", run, picks=2)
    # after A and B: C √2 (from A), D √5 (from the origin)
    offset = 1 + math.sqrt(5)
    np.testing.assert_allclose(s, [offset + 2, offset + 1, math.sqrt(2), math.sqrt(5)], rtol=1e-6)
    assert list(np.argsort(-s)[:2]) == [0, 1]


def test_kcenter_default_picks_and_inits_side_by_side():
    run = kcenter_run([[0, 0]], POOL_2D, inits=2)
    s, params = pool_score("kcenter", run)
    assert params["picks"] == 1  # ceil(10% of 4)
    # the two inits' identical features side by side: every distance × √2; one pick (A)
    d = np.sqrt(2) * np.array([0, 5, math.sqrt(2), math.sqrt(5)])
    np.testing.assert_allclose(s, [1 + d.max() + 1, d[1], d[2], d[3]], rtol=1e-6)
    s, params = pool_score("kcenter", run, picks=10)
    assert params["picks"] == 4  # at most the pool
    np.testing.assert_allclose(s, [5, 4, 2, 3])  # A, B, D, C; offset 1 (no point left unpicked)


def reference_kcenter(labelled, pool, picks):
    d = np.sqrt(((pool[:, None, :].astype(np.float64) - labelled[None]) ** 2).sum(-1)).min(1)
    order = []
    for _ in range(picks):
        i = int(np.argmax(np.where(np.isin(np.arange(len(pool)), order), -1, d)))
        order.append(i)
        d = np.minimum(d, np.sqrt(((pool.astype(np.float64) - pool[i]) ** 2).sum(-1)))
    return order, d


@pytest.mark.parametrize("picks", [0, 1, 7, 40])
def test_kcenter_top_k_is_the_greedy_batch_with_small_blocks(monkeypatch, picks):
    from pipeline.score.methods import kcenter

    monkeypatch.setattr(kcenter, "BLOCK_BYTES", 200)  # many blocks, of both the start and the picks
    rng = np.random.default_rng(1)
    lab, pool = rng.normal(size=(9, 5)).astype(np.float32), rng.normal(size=(40, 5)).astype(np.float32)
    s, _ = pool_score("kcenter", kcenter_run(lab, pool), picks=picks)
    order, d = reference_kcenter(lab, pool, picks)
    np.testing.assert_array_equal(np.argsort(-s, kind="stable")[:picks], order)
    rest = np.setdiff1d(np.arange(40), order)
    np.testing.assert_allclose(s[rest], d[rest], rtol=1e-5)
    if picks and len(rest):
        assert s[order].min() > s[rest].max()


def test_kcenter_refuses_training_rows_naming_the_sampler(tmp_path):
    run = write_run(tmp_path / "run", np.zeros((1, 2, 2, 2), np.float32), np.array([0, 1]))
    with pytest.raises(PruneError, match="prune select --method kcenter"):
        score(run=run, method="kcenter", params={})
    with pytest.raises(PruneError, match="--picks of --method kcenter must be an integer >= 0"):
        pool_score("kcenter", kcenter_run([[0, 0]], POOL_2D), picks=-1)


# -- random and the methods that cannot score the pool -------------------------

def test_random_pool_follows_the_seed(logits_run):
    s, _ = pool_score("random", logits_run, seed=4)
    np.testing.assert_array_equal(s, np.random.default_rng(4).random(2))
    np.testing.assert_array_equal(pool_score("random", logits_run, seed=4)[0], s)
    assert not np.array_equal(pool_score("random", logits_run, seed=5)[0], s)


def test_which_methods_score_the_pool():
    with_pool = {"entropy", "margin", "confidence", "least-confidence", "variation-ratio", "bald", "el2n", "grand",
                 "random", "kcenter"}
    assert {m.name for m in METHODS.values() if m.pool is not None} == with_pool
    for name in ("tdds", "aum", "forgetting", "loss", "dynunc", "variability", "correctness", "moderate", "prototype"):
        assert METHODS[name].pool is None
    assert {m.name for m in METHODS.values() if m.pool_only} == {"variation-ratio", "bald", "kcenter"}
