"""A long-tailed training set: ``prune record --imbalance R`` (a property of the data as trained, as label noise is).

The profile is CIFAR-10-LT's (Cao et al., Learning Imbalanced Datasets with
Label-Distribution-Aware Margin Loss, NeurIPS 2019): class c (0-based, in
class order) of C keeps

    n_c = int(n_max · (1/R) ** (c / (C − 1)))

samples, written as the LDAM code computes it (``imb_factor = 1/R``,
truncation by ``int``), where n_max is the size of the largest class (LDAM's
``img_max``, the class size of a balanced set). Which samples a class keeps:
a permutation of the class's samples drawn from the seed, its first n_c.
Only the training split changes; validation and test stay balanced.

The long-tailed set *is* the data set of such a run: its sample ids are
0..n'−1, the kept samples in their original order, and its fingerprint
differs from the balanced set's (:func:`longtail_bundle` extends the bundle's
identity with R and the seed). Every stage that reloads the data of a run
calls :func:`train_as_recorded`, so it trains on (and fingerprints) the same
samples with the same labels.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from pipeline.io.errors import PruneError

IMBALANCE_STREAM = 0x6C6F6E677461696C  # keeps the class permutations apart from the seed's other uses


def check_imbalance(imbalance: float) -> float:
    """``imbalance`` as a float, or a one-line PruneError unless it is a finite number >= 1."""
    try:
        r = float(imbalance)
    except (TypeError, ValueError):
        raise PruneError(f"--imbalance must be a number >= 1 (1 = balanced), got {imbalance!r}") from None
    if not (math.isfinite(r) and r >= 1.0):
        raise PruneError(f"--imbalance must be a finite number >= 1 (1 = balanced; 10 = the largest class keeps "
                         f"10 times the samples of the smallest), got {imbalance}")
    return r


def longtail_shares(n_max: int, num_classes: int, imbalance: float) -> list[int]:
    """What each class c of C keeps under imbalance R, as LDAM computes it: int(n_max · (1/R) ** (c / (C − 1)))."""
    r = check_imbalance(imbalance)
    if num_classes < 2:
        if r == 1.0:
            return [int(n_max)] * num_classes
        raise PruneError("--imbalance needs at least two classes")
    factor = 1.0 / r  # LDAM's imb_factor
    return [int(n_max * (factor ** (c / (num_classes - 1.0)))) for c in range(num_classes)]


def longtail_counts(class_sizes: Sequence[int], imbalance: float) -> list[int]:
    """The samples each class keeps under imbalance R: its share (:func:`longtail_shares`, n_max the largest
    class), capped at the class's size.

    A class smaller than its share (a set that is not balanced to begin with)
    keeps all its samples. R = 1 keeps every sample.
    """
    sizes = [int(s) for s in class_sizes]
    if check_imbalance(imbalance) == 1.0:
        return sizes
    shares = longtail_shares(max(sizes, default=0), len(sizes), imbalance)
    return [min(size, share) for size, share in zip(sizes, shares)]


def longtail_ids(targets: np.ndarray, num_classes: int, imbalance: float, seed: int) -> np.ndarray:
    """The sorted ids of the samples the long-tailed set keeps (all of them for R = 1).

    Class c's samples are permuted from (``seed``, c) and its first n_c
    (:func:`longtail_counts`) kept, so the same call keeps the same samples,
    and a larger R keeps a subset of a smaller one's. A class left empty is a
    one-line PruneError.
    """
    y = np.asarray(targets, dtype=np.int64)
    if check_imbalance(imbalance) == 1.0:
        return np.arange(len(y), dtype=np.int64)
    sizes = np.bincount(y, minlength=num_classes)[:num_classes]
    counts = longtail_counts(sizes, imbalance)
    empty = [c for c, k in enumerate(counts) if k < 1]
    if empty:
        c, n_max = empty[0], int(sizes.max())
        why = ("it has no training sample" if sizes[c] == 0 else
               f"its share of the largest class's {n_max} samples rounds down to 0; use an R below {n_max} here")
        raise PruneError(f"--imbalance {float(imbalance):g} leaves class {c} empty: {why}")
    kept = []
    for c, k in enumerate(counts):
        members = np.flatnonzero(y == c)
        rng = np.random.default_rng([IMBALANCE_STREAM, int(seed), c])
        kept.append(rng.permutation(members)[:k])
    return np.sort(np.concatenate(kept)).astype(np.int64)


def longtail_identity(identity: str, imbalance: float, seed: int) -> str:
    """The data identity of the long-tailed set drawn from data of ``identity``: it enters the fingerprint."""
    return " ".join(filter(None, (identity, f"imbalance {float(imbalance)!r} seed {int(seed)}")))


def longtail_bundle(bundle, imbalance: float, seed: int):
    """``bundle`` with its training split cut to the long-tailed set (renumbered 0..n'−1) and its identity
    extended; val and test unchanged. Returns (bundle, ids kept of the balanced training split)."""
    ids = longtail_ids(bundle.train.y, len(bundle.classes), imbalance, seed)
    return dataclasses.replace(bundle, train=bundle.train.subset(ids),
                               identity=longtail_identity(bundle.identity, imbalance, seed)), ids


def train_as_recorded(info: dict, bundle):
    """The data a recorded run trained on, from its run.json ``info`` and the data set as loaded.

    The run's ``--imbalance`` long tail first (its samples, renumbered), then
    its ``--label-noise`` flips of their labels; ``bundle`` unchanged for a
    run with neither. ``prune train`` (and so the sweep) and GraNd call this
    after loading the data, so the fingerprint matches the run's.
    """
    from pipeline.data.noise import labels_as_trained

    imbalance = float(info.get("imbalance") or 1.0)
    if imbalance != 1.0:
        if "imbalance_seed" not in info:
            raise PruneError("run.json records an imbalance without its seed (imbalance_seed); record the run again")
        bundle, _ = longtail_bundle(bundle, imbalance, int(info["imbalance_seed"]))
    y = labels_as_trained(info, bundle.train.y)
    if y is not bundle.train.y:
        bundle = dataclasses.replace(bundle, train=dataclasses.replace(bundle.train, y=y))
    return bundle
