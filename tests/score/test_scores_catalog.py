"""The scoring catalog: each new score on a hand-computed case, label noise and its AUROC, --all and --list."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cli_helpers import error_line, prune
from pipeline.io import PruneError, fingerprint, open_run, read_scores, read_table_metadata
from pipeline.data.noise import flip_labels, labels_as_trained
from pipeline.record.run import parse_epochs
from pipeline.record.synthetic import write_run
from pipeline.score.methods.grand import default_checkpoint, gradient_norms, last_layer_norms
from pipeline.score.noise import auroc, label_noise_auroc
from pipeline.score.registry import METHODS
from pipeline.score.run import score, score_all



def logits_of(p) -> np.ndarray:
    """Logits whose softmax is ``p`` (log p; softmax is shift-invariant)."""
    return np.log(np.asarray(p, dtype=np.float64)).astype(np.float32)


def binary_logits(p_true: list[list[float]]) -> np.ndarray:
    """(init, epoch) lists of p_y for one sample of target 0 → logits (init, epoch, 1, 2)."""
    p = np.asarray(p_true, dtype=np.float64)
    return logits_of(np.stack([p, 1 - p], axis=-1))[:, :, None, :]


# -- dynunc -------------------------------------------------------------------

def test_dynunc_mean_of_window_stds_without_the_last_epoch(tmp_path):
    run = write_run(tmp_path / "run", binary_logits([[0.1, 0.3, 0.5, 0.5, 0.9]]), np.array([0]))
    _, s, params = score(run=run, method="dynunc", params={"window": 3})
    # T=5, J=3: windows end at epochs 2 and 3 (the authors' loop never ends one at T−1 = 4)
    w0 = 0.2  # std_{ddof=1}(.1, .3, .5)
    w1 = math.sqrt(((0.3 - 13 / 30) ** 2 + 2 * (0.5 - 13 / 30) ** 2) / 2)  # std_{ddof=1}(.3, .5, .5)
    np.testing.assert_allclose(s, [(w0 + w1) / 2], rtol=1e-5)
    assert params == {"window": 3, "epochs": 5}  # the default, resolved to the epochs recorded
    # --epochs 4 keeps one window (epochs 0..2)
    _, s, _ = score(run=run, method="dynunc", params={"window": 3, "epochs": 4})
    np.testing.assert_allclose(s, [w0], rtol=1e-5)


def test_dynunc_prefers_eval_logits_and_averages_inits(tmp_path):
    train = binary_logits([[0.5] * 4, [0.5] * 4])
    ev = binary_logits([[0.1, 0.3, 0.5, 0.9], [0.2, 0.2, 0.2, 0.2]])
    run = write_run(tmp_path / "run", train, np.array([0]), eval_logits=ev)
    _, s, _ = score(run=run, method="dynunc", params={"window": 3})
    np.testing.assert_allclose(s, [(0.2 + 0.0) / 2], rtol=1e-5)  # one window per init: (.1,.3,.5) and flat


def test_dynunc_window_must_fit(tmp_path):
    run = write_run(tmp_path / "run", binary_logits([[0.1, 0.3, 0.5]]), np.array([0]))
    with pytest.raises(PruneError, match="--window 3 must be between 2 and 2"):
        score(run=run, method="dynunc", params={"window": 3})


# -- one-epoch uncertainty scores ---------------------------------------------

@pytest.fixture
def three_class_run(tmp_path):
    # 2 inits, 2 epochs, 1 sample of target 1; the last epoch holds the hand-computed probabilities
    p = np.array([[[0.4, 0.3, 0.3], [0.7, 0.2, 0.1]],
                  [[0.3, 0.3, 0.4], [0.2, 0.2, 0.6]]])
    return write_run(tmp_path / "run", logits_of(p)[:, :, None, :], np.array([1])), p


def entropy_of(p):
    return -sum(x * math.log(x) for x in p)


@pytest.mark.parametrize("method, per_init", [
    ("entropy", entropy_of),
    ("margin", lambda p: sorted(p)[-1] - sorted(p)[-2]),
    ("confidence", max),
    ("loss", lambda p: -math.log(p[1])),
])
def test_one_epoch_scores_hand_computed(three_class_run, method, per_init):
    run, p = three_class_run
    _, s, params = score(run=run, method=method, params={})
    np.testing.assert_allclose(s, [(per_init(p[0, 1]) + per_init(p[1, 1])) / 2], rtol=1e-5)  # last epoch, mean over inits
    _, s, _ = score(run=run, method=method, params={"epoch": 0})
    np.testing.assert_allclose(s, [(per_init(p[0, 0]) + per_init(p[1, 0])) / 2], rtol=1e-5, atol=1e-7)
    assert read_scores(run / "scores" / f"{method}.parquet").higher_is_harder is (method in ("entropy", "loss"))


def test_confidence_logit_space_is_deepcores_max_logit(three_class_run):
    run, p = three_class_run
    _, s, _ = score(run=run, method="confidence", params={"space": "logit"})
    np.testing.assert_allclose(s, [(math.log(0.7) + math.log(0.6)) / 2], rtol=1e-6)


def test_one_epoch_scores_read_the_eval_pass_where_recorded(tmp_path):
    z = logits_of([[[[0.5, 0.5]]]])
    ev = logits_of([[[[0.9, 0.1]]]])
    run = write_run(tmp_path / "run", z, np.array([0]), eval_logits=ev)
    _, s, _ = score(run=run, method="loss", params={})
    np.testing.assert_allclose(s, [-math.log(0.9)], rtol=1e-5)


# -- dataset cartography ------------------------------------------------------

def test_variability_and_correctness_hand_computed(tmp_path):
    run = write_run(tmp_path / "run", binary_logits([[0.2, 0.4, 0.9], [0.6, 0.6, 0.6]]), np.array([0]))
    _, s, _ = score(run=run, method="variability", params={})
    std0 = math.sqrt(((0.2 - 0.5) ** 2 + (0.4 - 0.5) ** 2 + (0.9 - 0.5) ** 2) / 3)  # ddof=0, as np.std
    np.testing.assert_allclose(s, [(std0 + 0.0) / 2], rtol=1e-5, atol=1e-7)
    _, s, _ = score(run=run, method="correctness", params={})
    np.testing.assert_allclose(s, [(1 / 3 + 1.0) / 2])  # correct at epoch 2 only, and at every epoch
    _, s, _ = score(run=run, method="correctness", params={"epochs": 2})
    np.testing.assert_allclose(s, [(0.0 + 1.0) / 2])


# -- embeddings ---------------------------------------------------------------

def test_moderate_distance_to_class_median(tmp_path):
    emb = np.array([[0, 0], [2, 0], [10, 0], [1, 1], [1, 5]], dtype=np.float32)[None, None]
    y = np.array([0, 0, 0, 1, 1])
    run = write_run(tmp_path / "run", np.zeros((1, 1, 5, 2), np.float32), y, embeddings=emb)
    _, s, params = score(run=run, method="moderate", params={})
    # medians: class 0 (2, 0), class 1 (1, 3)
    np.testing.assert_allclose(s, [2, 0, 8, 2, 2])
    assert params == {"snapshot": 1}


def test_prototype_euclidean_and_cosine(tmp_path):
    pts = np.array([[0, 0], [0, 2], [10, 0], [10, 2]], dtype=np.float32)
    run = write_run(tmp_path / "a", np.zeros((1, 1, 4, 2), np.float32), np.array([0, 1, 0, 1]), embeddings=pts[None, None])
    _, s, params = score(run=run, method="prototype", params={"distance": "euclidean"})
    np.testing.assert_allclose(s, [1, 1, 1, 1], rtol=1e-6)  # centroids (0, 1) and (10, 1), whatever the labels
    assert params["clusters"] == 2  # default: the class count
    # cosine: two directions 36.87° apart per cluster, at any lengths → 1 − cos(18.43°) each
    pts = np.array([[3, 0], [4, 3], [-2, 0], [-4, -3]], dtype=np.float32)  # exact in float16
    run = write_run(tmp_path / "b", np.zeros((1, 1, 4, 2), np.float32), np.array([0, 0, 0, 0]), embeddings=pts[None, None],
                    classes=["a", "b"])
    _, s, _ = score(run=run, method="prototype", params={})
    np.testing.assert_allclose(s, [1 - math.cos(math.atan2(0.6, 0.8) / 2)] * 4, rtol=1e-5)


@pytest.mark.parametrize("method", ["moderate", "prototype"])
def test_embedding_scores_name_the_record_flag(tmp_path, method):
    run = write_run(tmp_path / "run", np.zeros((1, 2, 3, 2), np.float32), np.array([0, 1, 0]))
    with pytest.raises(PruneError, match=r"prune record --embeddings"):
        score(run=run, method=method, params={})


# -- GraNd --------------------------------------------------------------------

def autograd_loop(model, x, y, params):
    out = []
    for i in range(len(y)):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        out.append(math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params)))
    return np.array(out)


@pytest.mark.parametrize("name, shape", [("cnn1d", (1, 40)), ("mlp", (1, 8, 8))])
def test_grand_equals_a_per_sample_autograd_loop(name, shape):
    from pipeline.models import build_model

    torch.manual_seed(0)
    model = build_model(name, shape, 5)
    model.train()
    model(torch.randn(32, *shape))  # non-trivial batch-norm running statistics
    model.eval()
    x, y = torch.randn(9, *shape), torch.randint(0, 5, (9,))
    np.testing.assert_allclose(gradient_norms(model, x, y).numpy(), autograd_loop(model, x, y, list(model.parameters())),
                               rtol=1e-5)
    head = [model.classifier.weight, model.classifier.bias]
    np.testing.assert_allclose(last_layer_norms(model, x, y).numpy(), autograd_loop(model, x, y, head), rtol=1e-5)


def test_grand_default_checkpoint_is_nearest_ten_percent():
    assert default_checkpoint([0, 4, 40], 40) == 4
    assert default_checkpoint([0, 3, 5, 40], 40) == 3  # a tie goes to the earlier
    assert default_checkpoint([0, 40], 40) == 0
    assert default_checkpoint([2, 6], 6) == 2


def test_grand_without_checkpoints_names_the_flag(tmp_path):
    run = write_run(tmp_path / "run", np.zeros((1, 2, 3, 2), np.float32), np.array([0, 1, 0]))
    with pytest.raises(PruneError, match=r"prune record --checkpoints"):
        score(run=run, method="grand", params={})


# -- label noise and AUROC ----------------------------------------------------

def test_auroc_mann_whitney_with_ties():
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert auroc([1, 2, 2, 3], [0, 1, 0, 1]) == 0.875  # the tied pair counts one half
    assert auroc([5, 5, 5], [1, 0, 0]) == 0.5
    assert auroc([1, 2], [0, 0]) is None
    rng = np.random.default_rng(0)
    s, pos = rng.integers(0, 5, 200).astype(float), rng.random(200) < 0.3
    pairs = (s[pos][:, None] > s[~pos][None, :]) + 0.5 * (s[pos][:, None] == s[~pos][None, :])
    assert auroc(s, pos) == pytest.approx(pairs.mean(), abs=1e-12)
    assert label_noise_auroc(s, pos, False) == pytest.approx(1 - pairs.mean(), abs=1e-12)  # low end read as hard


def test_flip_labels_is_seeded_exact_and_always_moves():
    y = np.repeat(np.arange(4), 25)
    noisy = flip_labels(y, 4, 0.1, seed=3)
    assert int((noisy != y).sum()) == 10 and noisy.min() >= 0 and noisy.max() <= 3
    np.testing.assert_array_equal(noisy, flip_labels(y, 4, 0.1, seed=3))
    assert not np.array_equal(noisy, flip_labels(y, 4, 0.1, seed=4))
    assert int((flip_labels(y, 4, 0.125, 0) != y).sum()) == 13  # round(12.5) = 13: halves round up, as rates
    big = flip_labels(np.zeros(30000, dtype=np.int64), 4, 0.9, seed=0)
    counts = np.bincount(big, minlength=4)[1:]  # flipped labels spread evenly over the other classes
    assert counts.min() > 0.95 * counts.mean() and counts[0] + counts[1] + counts[2] == 27000
    info = {"label_noise": 0.1, "label_noise_seed": 3, "classes": ["a", "b", "c", "d"]}
    np.testing.assert_array_equal(labels_as_trained(info, y), noisy)
    np.testing.assert_array_equal(labels_as_trained({"label_noise": 0.0}, y), y)


def test_score_table_carries_label_noise_auroc(tmp_path):
    clean = np.array([0, 0, 1, 1])
    noisy = np.array([1, 0, 1, 0])  # samples 0 and 3 flipped
    z = logits_of([[[[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]]])  # the model predicts the clean labels
    run = write_run(tmp_path / "run", z, noisy, clean_targets=clean)
    path, s, _ = score(run=run, method="loss", params={})
    meta = read_table_metadata(path)
    assert meta["label_noise_auroc"] == 1.0 and meta["label_noise_flipped"] == 2
    path, _, _ = score(run=run, method="aum", params={})  # low = hard, read from that end
    assert read_table_metadata(path)["label_noise_auroc"] == 1.0


def test_parse_epochs_accepts_percentages_and_final():
    assert parse_epochs("0,10%,final", 40) == [0, 4, 40]
    assert parse_epochs("10%", 6) == [1]
    assert parse_epochs("", 6) == []
    with pytest.raises(PruneError, match="--embeddings: 'x' is not an epoch"):
        parse_epochs("x", 6, "--embeddings")
    with pytest.raises(PruneError, match="outside 0..6"):
        parse_epochs("150%", 6)


# -- a recorded run, end to end -----------------------------------------------

EPOCHS = 6


@pytest.fixture(scope="module")
def noisy_run(tmp_path_factory):
    """digits, 6 epochs, 20% flipped labels, embeddings before and after training, default checkpoints."""
    path = tmp_path_factory.mktemp("catalog") / "run"
    res = prune("record", "--data", "digits", "--epochs", str(EPOCHS), "--embeddings", "0,final", "--label-noise", "0.2",
                "--eval-pass", "--batch-size", "256", "--seed", "3", "--run", str(path))
    assert "label noise: flipped" in res.output
    return path


def test_label_noise_run_keeps_the_clean_labels(noisy_run):
    r = open_run(noisy_run)
    info = json.loads((noisy_run / "run.json").read_text())
    assert info["label_noise"] == 0.2 and info["label_noise_seed"] == 3
    assert int(r.flipped.sum()) == info["label_noise_flipped"] == math.floor(0.2 * r.n + 0.5)
    # the labels trained on are re-derived from the clean ones, and the fingerprint is theirs
    np.testing.assert_array_equal(labels_as_trained(info, r.clean_targets), r.targets)
    assert r.fingerprint == fingerprint("digits", "train", r.targets)
    assert info["checkpoints"] == [0, 1, EPOCHS]  # the default 0,10%,final


def test_embeddings_are_the_checkpoints_features(noisy_run):
    from pipeline.engine.embeddings import features
    from pipeline.score.methods.grand import load_checkpoint, load_training_data

    r = open_run(noisy_run)
    assert r.snapshot_epochs == [0, EPOCHS]
    bundle, _ = load_training_data(r)
    for k in (0, EPOCHS):
        h = features(load_checkpoint(r, 0, k, bundle), bundle.train, torch.device("cpu"), 512).numpy()
        np.testing.assert_allclose(r.embeddings(k)[0], h, rtol=2e-3, atol=2e-3)  # stored as float16


def test_grand_on_the_run_matches_autograd_from_the_checkpoint(noisy_run):
    from pipeline.score.methods.grand import load_checkpoint, load_training_data

    r = open_run(noisy_run)
    path, s, params = score(run=noisy_run, method="grand", params={})
    assert params["epoch"] == 1  # nearest 10% of 6 epochs among 0, 1, 6
    bundle, y = load_training_data(r)
    model = load_checkpoint(r, 0, 1, bundle).eval()
    idx = np.arange(12)
    ref = autograd_loop(model, bundle.train.take(idx), torch.from_numpy(y[idx]), list(model.parameters()))
    np.testing.assert_allclose(s[:12], ref, rtol=1e-5)


METHOD_ARGS = {"tdds": ["--window", "3"], "dynunc": ["--window", "3"], "dual": ["--window", "3"], "grand": ["--last-layer"],
               "prototype": ["--clusters", "5"], "moderate": ["--snapshot", "0"]}


ROW_METHODS = sorted(n for n, m in METHODS.items() if not m.pool_only)  # the pool-only ones: test_acquisition_scores


@pytest.mark.parametrize("method", ROW_METHODS)
def test_every_method_from_the_cli_reports_its_noise_auroc(noisy_run, method):
    out = noisy_run.parent / f"{method}.parquet"
    res = prune("score", "--method", method, "--run", str(noisy_run), "--out", str(out), *METHOD_ARGS.get(method, []))
    t = read_scores(out)
    assert t.method == method and len(t.score) == open_run(noisy_run).n and np.isfinite(t.score).all()
    assert f"AUROC {t.meta['label_noise_auroc']:.4f}" in res.output
    assert t.fingerprint == open_run(noisy_run).fingerprint


def test_all_writes_every_table_in_one_go(noisy_run):
    res = prune("score", "--all", "--run", str(noisy_run), "--window", "3")
    assert "skipped" not in res.output, res.output
    for name in ROW_METHODS:
        meta = read_table_metadata(noisy_run / "scores" / f"{name}.parquet")
        assert meta["method"] == name and 0.0 <= meta["label_noise_auroc"] <= 1.0
    # the loss and AUM of a trained model find flipped labels far better than chance
    assert read_table_metadata(noisy_run / "scores" / "aum.parquet")["label_noise_auroc"] > 0.8
    assert f"wrote {len(ROW_METHODS)} tables" in res.output


def test_all_skips_what_the_run_cannot_give(noisy_run):
    res = prune("score", "--all", "--run", str(noisy_run), "--epochs", "2", "--epoch", "0", "--out", "x.parquet", ok=False)
    assert "--out names one table" in error_line(res)
    results, skipped = score_all(run=noisy_run, params={"window": 10, "last_layer": True})
    assert set(skipped) == {"tdds", "dynunc", "dual"} and "--window 10" in skipped["tdds"]
    assert {r.method for r in results} == set(ROW_METHODS) - {"tdds", "dynunc", "dual"}


def test_list_shows_every_method_without_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = prune("score", "--list")
    for m in METHODS.values():
        assert f"\n{m.name}\n" in f"\n{res.output}" and m.paper in res.output and m.formula in res.output
    assert "prune record --embeddings" in res.output and "prune record --checkpoints" in res.output


def test_missing_inputs_are_one_line_naming_the_flag(tmp_path):
    run = write_run(tmp_path / "run", np.zeros((1, 3, 4, 2), np.float32), np.array([0, 1, 0, 1]))
    assert "prune record --embeddings" in error_line(prune("score", "--method", "moderate", "--run", str(run), ok=False))
    assert "prune record --embeddings" in error_line(prune("score", "--method", "prototype", "--run", str(run), ok=False))
    assert "prune record --checkpoints" in error_line(prune("score", "--method", "grand", "--run", str(run), ok=False))
    assert "--method NAME or --all" in error_line(prune("score", "--run", str(run), ok=False))
    assert "does not apply" in error_line(prune("score", "--method", "loss", "--clusters", "3", "--run", str(run), ok=False))
