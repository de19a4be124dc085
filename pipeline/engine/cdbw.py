"""CDB-W: cost-sensitive training with class weights from validation recall (``prune train --cdbw``)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def cdbw_weights(epoch: int, logs: Sequence) -> np.ndarray | None:
    """Class weights of ``epoch``: w_k = 1 - val recall_k of the epoch before; None (unweighted) in epoch 0.

    CDB-W as in DRoP's code (Vysogorets et al., ICLR 2025, ``--cdbw_final``;
    after Sinha et al.'s class-wise difficulty-balanced loss): from epoch 1 on
    the training loss is torch's weighted cross-entropy with these weights,
    Σ w_{y_i} ℓ_i / Σ w_{y_i} over the batch (``loop.weighted_loss``). A class
    recalled perfectly gets weight 0; a batch of only such classes has loss 0
    (DRoP's code would divide 0 by 0 there). A class absent from the val
    split has recall 0 and weight 1.
    """
    if epoch == 0:
        return None
    return 1.0 - np.asarray(logs[-1].evals["val"].recall, dtype=np.float64)
