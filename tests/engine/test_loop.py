"""train_one_epoch and evaluate on tiny models and tensors whose results can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.data.base import DataBundle, Split
from pipeline.engine.hooks import Hook
from pipeline.engine.loop import evaluate, fit, train_one_epoch
from pipeline.models.recipes import TrainConfig

CPU = torch.device("cpu")


def _bundle(y, x=None, augment=None, classes=2) -> DataBundle:
    """Every input is the single value 1.0 unless ``x`` is given; val and test are the training split."""
    y = np.asarray(y, dtype=np.int64)
    x = torch.ones(len(y), 1) if x is None else x
    split = Split(y=y, x=x)
    return DataBundle(name="tiny", classes=[str(k) for k in range(classes)], input_shape=tuple(x.shape[1:]),
                      train=split, val=split, test=split, augment=augment)


def _zero_linear(n_in=1, n_out=2) -> torch.nn.Linear:
    """logits = W x, W zero: every class has probability 1/C and d loss / d logit_k = 1/C - [k == y]."""
    net = torch.nn.Linear(n_in, n_out, bias=False)
    with torch.no_grad():
        net.weight.zero_()
    return net


class Seen(Hook):
    def __init__(self):
        self.idx, self.loss = [], []

    def on_batch(self, epoch, idx, logits, loss):
        self.idx.append(idx.tolist())
        self.loss.append(loss.tolist())


def _epoch(net, bundle, ids, *, lr=0.1, batch_size=64, **kw):
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    return train_one_epoch(net, opt, bundle, np.asarray(ids, dtype=np.int64), 0, device=CPU, batch_size=batch_size,
                           rng=np.random.default_rng(0), gen=torch.Generator().manual_seed(0), **kw)


# ---------------------------------------------------------------------------- train_one_epoch


def test_one_step_moves_the_weight_by_lr_times_the_gradient():
    # 4 samples of class 0, x = 1, one batch: d loss / d W = (p - onehot) x = (0.5 - 1, 0.5) = (-0.5, 0.5)
    net, seen = _zero_linear(), Seen()
    done = _epoch(net, _bundle([0, 0, 0, 0]), [0, 1, 2, 3], lr=0.1, hooks=[seen])
    assert torch.equal(net.weight.detach(), torch.tensor([[0.05], [-0.05]]))  # 0 - 0.1 · (∓0.5), exact in float32
    assert (done.samples, done.steps) == (4, 1)
    assert done.train_loss == pytest.approx(math.log(2), rel=1e-6)  # every sample at p = 1/2
    assert sorted(seen.idx[0]) == [0, 1, 2, 3] and seen.loss[0] == pytest.approx([math.log(2)] * 4, rel=1e-6)


def test_two_steps_and_the_epoch_loss_is_the_mean_over_samples():
    # batch 1 as above (W = ±0.05); batch 2 then sees logits (0.05, -0.05): p0 = σ(0.1)
    net, steps = _zero_linear(), []
    done = _epoch(net, _bundle([0, 0, 0, 0]), [0, 1, 2, 3], lr=0.1, batch_size=2,
                  on_step=lambda i, n: steps.append((i, n)))
    p0 = 1 / (1 + math.exp(-0.1))
    w = 0.05 + 0.1 * (1 - p0)
    assert net.weight.detach().flatten().tolist() == pytest.approx([w, -w], rel=1e-6)
    assert done.train_loss == pytest.approx((2 * math.log(2) + 2 * -math.log(p0)) / 4, rel=1e-6)
    assert (done.samples, done.steps) == (4, 2) and steps == [(1, 2), (2, 2)]


def test_counts_follow_the_ids_not_the_split():
    # 3 of 6 samples in batches of at most 2: ceil(3 / 2) = 2 near-equal batches (2 + 1), each id once
    seen = Seen()
    done = _epoch(_zero_linear(), _bundle([0, 1, 0, 1, 0, 1]), [0, 2, 4], batch_size=2, hooks=[seen])
    assert (done.samples, done.steps) == (3, 2)
    assert sorted(len(b) for b in seen.idx) == [1, 2] and sorted(sum(seen.idx, [])) == [0, 2, 4]


def test_balanced_classes_cancel_and_weights_tip_the_gradient():
    # one sample of each class, x = 1: per-sample gradients (-0.5, 0.5) and (0.5, -0.5) cancel in the plain mean
    ids = [0, 1]
    net = _zero_linear()
    _epoch(net, _bundle([0, 1]), ids)
    assert torch.equal(net.weight.detach(), torch.zeros(2, 1))
    # sample weights 3 and 1: (3 · (-0.5, 0.5) + (0.5, -0.5)) / 2 = (-0.5, 0.5)
    net = _zero_linear()
    _epoch(net, _bundle([0, 1]), ids, weights=np.array([3.0, 1.0]))
    assert torch.equal(net.weight.detach(), torch.tensor([[0.05], [-0.05]]))
    # class weights (1, 0): only class 0's sample counts, divided by the weight sum 1
    net = _zero_linear()
    _epoch(net, _bundle([0, 1]), ids, class_weight=torch.tensor([1.0, 0.0]))
    assert torch.equal(net.weight.detach(), torch.tensor([[0.05], [-0.05]]))


def test_augmentation_is_applied_to_each_batch():
    # the augmentation doubles every input: the gradient (p - onehot) x doubles with it
    net = _zero_linear()
    _epoch(net, _bundle([0, 0], augment=lambda x, gen: 2 * x), [0, 1])
    assert torch.equal(net.weight.detach(), torch.tensor([[0.1], [-0.1]]))


# ---------------------------------------------------------------------------- evaluate


def test_evaluate_per_class_and_summary_metrics():
    # logits = x (identity weights): log 3 for the predicted class, 0 for the others; class 3 has no samples
    y = [0, 0, 0, 0, 1, 1, 2, 2]
    pred = [0, 0, 0, 0, 1, 0, 1, 2]
    x = torch.zeros(len(y), 4)
    x[torch.arange(len(y)), torch.tensor(pred)] = math.log(3)
    net = torch.nn.Linear(4, 4, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.eye(4))
    res = evaluate(net, _bundle(y, x=x, classes=4).test, 4, device=CPU, batch_size=3)  # batches of 3, 3, 2
    assert res.n.tolist() == [4, 2, 2, 0]
    assert res.recall.tolist() == [1.0, 0.5, 0.5, 0.0]
    assert res.precision.tolist() == [0.8, 0.5, 1.0, 0.0]  # 4 of the 5 said 0, 1 of the 2 said 1, 1 of 1 said 2
    assert res.f1.tolist() == pytest.approx([2 * 0.8 / 1.8, 0.5, 2 * 0.5 / 1.5, 0.0])
    assert res.accuracy == 0.75  # 6 of 8
    assert res.balanced_accuracy == pytest.approx(2 / 3)  # (1 + 0.5 + 0.5) / 3: the absent class is left out
    assert res.worst_class_accuracy == 0.5
    # p(label) is 3 / (3 + 1 + 1 + 1) = 1/2 when right, 1/6 when wrong
    right, wrong = math.log(2), math.log(6)
    assert res.loss == pytest.approx((6 * right + 2 * wrong) / 8, rel=1e-6)
    assert res.class_loss[:3].tolist() == pytest.approx([right, (right + wrong) / 2, (right + wrong) / 2], rel=1e-6)
    assert math.isnan(res.class_loss[3])
    assert net.training  # evaluated in eval mode, handed back as it was


# ---------------------------------------------------------------------------- fit = the two, epoch after epoch


def test_fit_is_train_one_epoch_then_evaluate():
    bundle = _bundle([0, 1, 0, 0, 1, 0], x=torch.linspace(-1, 1, 12).reshape(6, 2))
    cfg = TrainConfig(model="-", epochs=2, batch_size=4, lr=0.1, momentum=0.0, weight_decay=0.0, nesterov=False,
                      schedule="constant", milestones=(), gamma=0.1)
    a, b = _zero_linear(2), _zero_linear(2)
    logs = fit(a, bundle, np.arange(6), cfg, epochs=2, device=CPU, seed=3, eval_splits=("test",))
    opt = torch.optim.SGD(b.parameters(), lr=0.1)
    rng, gen = np.random.default_rng(3), torch.Generator().manual_seed(3)
    for epoch, log in enumerate(logs):
        done = train_one_epoch(b, opt, bundle, np.arange(6), epoch, device=CPU, batch_size=4, rng=rng, gen=gen)
        res = evaluate(b, bundle.test, 2, device=CPU, batch_size=256)
        assert (log.train_loss, log.samples, log.steps) == (done.train_loss, done.samples, done.steps)
        assert log.evals["test"].loss == res.loss and log.evals["test"].recall.tolist() == res.recall.tolist()
    assert torch.equal(a.weight, b.weight)
    assert not torch.equal(a.weight, torch.zeros(2, 2))
