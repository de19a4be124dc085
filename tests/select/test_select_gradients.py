"""End to end: `prune record --embeddings` keeps the classifier and the validation features, the select stage
builds last-layer gradients from them, and a weighted sampler's weights reach the manifest and the training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cli_helpers import error_line, prune

from pipeline.io import open_run, read_manifest
from pipeline.select.base import Sampler
from pipeline.select.catalog import SAMPLERS


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("grad") / "run"
    prune("record", "--data", "digits", "--model", "mlp", "--epochs", "2", "--embeddings", "1,final",
          "--checkpoints", "final", "--run", d)
    return d


def test_heads_are_the_checkpoints_classifier_and_gradients_are_autograds(run):
    r = open_run(run)
    W, b = r.heads()
    state = torch.load(r.checkpoint_path(0, 2), weights_only=True)
    state = state.get("model", state)
    np.testing.assert_allclose(W[0], state["classifier.weight"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(b[0], state["classifier.bias"].numpy(), rtol=1e-6)
    hv, yv = r.val_embeddings()
    assert hv.shape[1] == len(yv) > 0 and yv.max() < r.num_classes

    from pipeline.select.run import model_inputs

    got = model_inputs(r, ("gradients",), r.targets)["grads"]
    h = torch.from_numpy(r.embeddings()[0, :3].astype(np.float64))
    lin = torch.nn.Linear(W.shape[2], W.shape[1]).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W[0]))
        lin.bias.copy_(torch.from_numpy(b[0]))
    F.cross_entropy(lin(h), torch.from_numpy(r.targets[:3]), reduction="sum").backward()
    np.testing.assert_allclose(got.dense(np.arange(3)).sum(0),
                               torch.cat([lin.bias.grad, lin.weight.grad.flatten()]).numpy(), rtol=1e-9, atol=1e-12)


@pytest.fixture
def weighted():
    def fn(pool, n_keep, rng):
        # the n_keep smallest gradient norms, each weighted by its position + 1
        order = np.argsort(pool.grads.sq_norms(), kind="stable")[:n_keep]
        return order, order + 1.0

    entry = Sampler("test-weighted", fn, "test", "test", needs=("gradients",))
    SAMPLERS.register(entry)
    yield entry
    SAMPLERS.unregister("test-weighted")


def test_weights_reach_the_manifest_and_train(run, weighted, tmp_path):
    out = tmp_path / "keep.parquet"
    res = prune("select", "--run", run, "--method", "test-weighted", "--rate", "0.5", "--out", out)
    assert "last-layer gradients: after epoch 2" in res.output
    m = read_manifest(out)
    order = np.argsort(m.sample)
    assert m.weight is not None and np.all(m.weight[order] == m.sample[order] + 1.0)
    assert m.meta["parameters"]["gradients"]["snapshot"] == 2 and "weighted" in m.meta
    r = open_run(run)
    from pipeline.select.run import model_inputs

    g = model_inputs(r, ("gradients",), r.targets)["grads"]
    np.testing.assert_array_equal(m.sample, np.sort(np.argsort(g.sq_norms(), kind="stable")[:len(m.sample)]))
    prune("train", "--run", run, "--manifest", out, "--epochs", "1", "--out", tmp_path / "t")


def test_a_gradient_sampler_without_embeddings_is_one_line(tmp_path, weighted):
    d = tmp_path / "plain"
    prune("record", "--data", "digits", "--model", "mlp", "--epochs", "1", "--run", d)
    line = error_line(prune("select", "--run", d, "--method", "test-weighted", "--rate", "0.5", "--out",
                            tmp_path / "k.parquet", ok=False))
    assert "--embeddings" in line
