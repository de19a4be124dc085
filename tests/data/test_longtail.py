"""The long-tailed training set of ``prune record --imbalance R`` (pipeline/data/longtail.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.data.base import DataBundle, Split
from pipeline.data.longtail import (check_imbalance, longtail_bundle, longtail_counts, longtail_ids,
                                    train_as_recorded)
from pipeline.io import PruneError, fingerprint


def test_counts_follow_ldams_profile_with_truncation():
    # n_c = int(n_max · (1/R) ** (c / (C − 1))), LDAM's get_img_num_per_cls with imb_factor = 1/R.
    # C = 4, 100 per class, R = 10:
    #   c=0: 100 · 1                  = 100
    #   c=1: 100 · 10^(−1/3) = 46.42  → 46
    #   c=2: 100 · 10^(−2/3) = 21.54  → 21
    #   c=3: 100 · 10^(−1)   = 10     → 10
    assert longtail_counts([100] * 4, 10) == [100, 46, 21, 10]
    # truncation, not rounding: C = 3, 50 per class, R = 4: 50, 50 · 4^(−1/2) = 25, 50 · 4^(−1) = 12.5 → 12
    assert longtail_counts([50] * 3, 4) == [50, 25, 12]
    # R = 1 keeps everything; a class smaller than its share keeps all it has (n_max is the largest class)
    assert longtail_counts([100, 90, 80, 70], 1) == [100, 90, 80, 70]
    assert longtail_counts([30, 100, 100, 100], 10) == [30, 46, 21, 10]


def labels() -> np.ndarray:
    """C = 4, 100 samples each, interleaved 0, 1, 2, 3, 0, 1, ..."""
    return np.tile(np.arange(4), 100)


def test_ids_keep_the_counts_in_the_original_order_from_the_seed():
    y = labels()
    ids = longtail_ids(y, 4, 10, seed=0)
    assert np.bincount(y[ids], minlength=4).tolist() == [100, 46, 21, 10]
    assert ids.dtype == np.int64 and np.all(np.diff(ids) > 0)  # the kept samples, in their original order
    np.testing.assert_array_equal(longtail_ids(y, 4, 10, seed=0), ids)  # same seed, same samples
    other = longtail_ids(y, 4, 10, seed=1)
    assert np.bincount(y[other], minlength=4).tolist() == [100, 46, 21, 10]
    assert not np.array_equal(other, ids)  # another seed, other samples
    # a steeper tail keeps a subset of a gentler one's (each class's permutation does not depend on R)
    assert set(longtail_ids(y, 4, 50, seed=0)) <= set(ids)
    np.testing.assert_array_equal(longtail_ids(y, 4, 1, seed=0), np.arange(400))


@pytest.mark.parametrize("r, message", [
    (0.5, "--imbalance must be a finite number >= 1"),
    (float("nan"), "--imbalance must be a finite number >= 1"),
    (float("inf"), "--imbalance must be a finite number >= 1"),
    (0, "--imbalance must be a finite number >= 1"),
])
def test_bad_ratios_are_one_line(r, message):
    with pytest.raises(PruneError, match=message) as e:
        check_imbalance(r)
    assert "\n" not in str(e.value)


def test_a_ratio_that_empties_a_class_is_one_line():
    y = labels()
    longtail_ids(y, 4, 100, seed=0)  # the last class keeps int(100 / 100) = 1
    with pytest.raises(PruneError, match="--imbalance 101 leaves class 3 empty") as e:
        longtail_ids(y, 4, 101, seed=0)
    assert "\n" not in str(e.value)
    with pytest.raises(PruneError, match="leaves class 4 empty: it has no training sample"):
        longtail_ids(y, 5, 2, seed=0)
    with pytest.raises(PruneError, match="at least two classes"):
        longtail_ids(np.zeros(10, dtype=np.int64), 1, 2, seed=0)


def bundle(y: np.ndarray) -> DataBundle:
    def split(t):
        return Split(y=t, x=torch.arange(len(t), dtype=torch.float32).view(-1, 1))
    return DataBundle(name="toy", classes=["a", "b", "c", "d"], input_shape=(1,), train=split(y),
                      val=split(np.arange(4)), test=split(np.arange(4)))


def test_the_long_tailed_set_is_its_own_data_set():
    y = np.repeat(np.arange(4), 100)  # sorted by class: every seed gives the same label sequence
    full = bundle(y)
    lt, ids = longtail_bundle(full, 10, seed=0)
    assert len(lt.train) == 177 and lt.val is full.val and lt.test is full.test  # val and test stay balanced
    np.testing.assert_array_equal(lt.train.x[:, 0].numpy(), ids)  # renumbered 0..n'-1, in the original order
    fp = fingerprint(lt.name, "train", lt.train.y, lt.identity)
    assert fp != fingerprint(full.name, "train", full.train.y, full.identity)
    other, _ = longtail_bundle(full, 10, seed=1)
    np.testing.assert_array_equal(other.train.y, lt.train.y)
    assert fingerprint(other.name, "train", other.train.y, other.identity) != fp  # same labels, other samples
    # what prune train and GraNd rebuild from run.json: the same samples, labels and fingerprint
    again = train_as_recorded({"imbalance": 10.0, "imbalance_seed": 0, "classes": full.classes}, full)
    np.testing.assert_array_equal(again.train.x.numpy(), lt.train.x.numpy())
    assert fingerprint(again.name, "train", again.train.y, again.identity) == fp
    assert train_as_recorded({"classes": full.classes}, full) is full
    # with label noise too: the flips are drawn on the long-tailed set
    noisy = train_as_recorded({"imbalance": 10.0, "imbalance_seed": 0, "label_noise": 0.2, "label_noise_seed": 0,
                               "classes": full.classes}, full)
    assert len(noisy.train) == 177 and np.sum(noisy.train.y != lt.train.y) == round(0.2 * 177)
