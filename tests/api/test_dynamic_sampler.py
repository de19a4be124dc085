"""`DynamicSampler`: dynamic pruning as a torch Sampler, deterministic, with no global side effects."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

from pipeline import DynamicSampler, IndexedDataset
from pipeline.io import PruneError

Y = np.repeat(np.arange(4), 25)  # 100 samples, 4 classes


def _epoch_ids(sampler, epoch, losses=None):
    sampler.set_epoch(epoch)
    ids = list(sampler)
    if losses is not None:
        sampler.update(torch.tensor(ids), torch.as_tensor(losses[ids], dtype=torch.float32))
    return ids


@pytest.mark.parametrize("name,options", [("rs2", {}), ("rs2", {"stratify": True}), ("rcap", {}),
                                          ("infobatch", {"epochs": 8})])
def test_same_seed_same_epochs_and_exact_counts(name, options):
    losses = np.linspace(0.1, 3.0, 100)
    a = DynamicSampler(name, Y, 0.3, seed=5, **options)
    b = DynamicSampler(name, Y, 0.3, seed=5, **options)
    assert isinstance(a, Sampler)
    for e in range(4):
        ia, ib = _epoch_ids(a, e, losses), _epoch_ids(b, e, losses)
        assert ia == ib
        assert len(set(ia)) == len(ia) == len(a)
        if name != "infobatch":
            assert len(ia) == 70  # 100 − round(0.3·100)
    c = DynamicSampler(name, Y, 0.3, seed=6, **options)
    assert any(_epoch_ids(c, e, losses) != _epoch_ids(DynamicSampler(name, Y, 0.3, seed=5, **options), e, losses)
               for e in range(1))


def test_rs2_goes_through_every_sample_before_repeating():
    s = DynamicSampler("rs2", Y, 0.5, seed=0)
    first_two = _epoch_ids(s, 0) + _epoch_ids(s, 1)
    assert sorted(first_two) == list(range(100))


def test_infobatch_weights_rescale_the_kept_low_loss_samples():
    s = DynamicSampler("infobatch", Y, 0.5, seed=0, epochs=8)
    losses = np.where(np.arange(100) < 40, 0.1, 2.0)  # 40 below the mean
    ids0 = _epoch_ids(s, 0, losses)  # epoch 0 trains on everything (all losses start equal)
    assert len(ids0) == 100
    s.set_epoch(1)
    ids1 = list(s)
    assert len(ids1) == 60 + 20  # the 60 high-loss samples + 40 − round(0.5·40) low-loss ones
    w = s.update(torch.tensor(ids1), torch.as_tensor(losses[ids1], dtype=torch.float32))
    low = torch.tensor(ids1) < 40
    assert torch.all(w[low] == 2.0) and torch.all(w[~low] == 1.0)


def test_no_global_side_effects():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    torch_rng = torch.get_rng_state().clone()
    sampler_cls = torch.utils.data.Sampler
    s = DynamicSampler("infobatch", Y, 0.5, seed=0, epochs=4)
    for e in range(3):
        _epoch_ids(s, e, np.linspace(0, 1, 100))
    assert np.array_equal(np.random.get_state()[1], before)
    assert torch.equal(torch.get_rng_state(), torch_rng)
    assert torch.utils.data.Sampler is sampler_cls


def test_iterating_again_without_set_epoch_moves_to_the_next_epoch():
    s = DynamicSampler("rs2", Y, 0.5, seed=0)
    loader = DataLoader(IndexedDataset(TensorDataset(torch.arange(100.0))), batch_size=10, sampler=s)
    seen = [sorted(int(i) for _, idx in loader for i in idx) for _ in range(2)]
    assert sorted(seen[0] + seen[1]) == list(range(100)) and s.epoch == 1


@pytest.mark.parametrize("kw,message", [
    ({"name": "nope", "rate": 0.3}, "unknown --dynamic method 'nope'"),
    ({"name": "rs2", "rate": 1.5}, r"rate must be in \(0, 1\)"),
    ({"name": "infobatch", "rate": 0.3}, "needs epochs=E"),
])
def test_bad_arguments_are_one_line(kw, message):
    with pytest.raises(PruneError, match=message):
        DynamicSampler(kw["name"], Y, kw["rate"])
