"""Label noise: the flipped training labels of ``prune record --label-noise`` (a property of the data as trained).

Every stage that loads the data of a noisy run calls :func:`labels_as_trained`,
so it sees the labels the query model trained on and the fingerprint matches.
"""

from __future__ import annotations

import numpy as np

from pipeline.counts import round_half_up
from pipeline.io.errors import PruneError

LABEL_NOISE_STREAM = 0x6E6F697365  # keeps the flip draw apart from the seed's other uses (weights, order)


def flip_labels(targets: np.ndarray, num_classes: int, fraction: float, seed: int) -> np.ndarray:
    """``targets`` with round(fraction·N) samples moved to another class (``prune record --label-noise``).

    The samples are drawn uniformly without replacement, and each gets a class
    drawn uniformly among the C − 1 others, all from ``seed``: the same call
    always flips the same samples the same way.
    """
    y = np.asarray(targets, dtype=np.int64).copy()
    k = round_half_up(fraction, len(y))  # the rate rule of every stage
    if k == 0:
        return y
    rng = np.random.default_rng([LABEL_NOISE_STREAM, int(seed)])
    ids = np.sort(rng.choice(len(y), size=k, replace=False))
    y[ids] = (y[ids] + rng.integers(1, num_classes, size=k)) % num_classes
    return y


def labels_as_trained(info: dict, targets: np.ndarray) -> np.ndarray:
    """The labels a recorded run trained on, from its run.json ``info`` and the data set's own ``targets``.

    ``targets`` unchanged, or with the run's ``--label-noise`` flips applied.
    ``prune train`` (and GraNd) call this after loading the data, so that
    they see what ``prune record`` trained on and the fingerprint matches.
    """
    fraction = float(info.get("label_noise") or 0.0)
    if fraction == 0.0:
        return np.asarray(targets, dtype=np.int64)
    if "label_noise_seed" not in info:
        raise PruneError("run.json records label noise without its seed (label_noise_seed); record the run again")
    return flip_labels(targets, len(info["classes"]), fraction, int(info["label_noise_seed"]))
