"""Batches of a split in a given order, with file-backed inputs decoded off the training thread.

In-memory splits (MNIST-1D, CIFAR, ...) are gathered by index on the
training thread: that is a single tensor index, cheaper than any hand-off.
A file-backed split (an image folder) decodes every image of a batch; done
on the training thread, the GPU would wait for PIL. Here a ``DataLoader``
with worker processes decodes the batches ahead (``prefetch_factor`` each),
in the order given, and the training thread only moves and normalises them.
The images and their order are those of :meth:`Split.take`, so results do
not depend on the number of workers.
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np
import torch

#: decoding processes for a file-backed split: the cores but the training thread's, at most 8
WORKERS = max(0, min(8, (os.cpu_count() or 1) - 1))


class _Decode(torch.utils.data.Dataset):
    """``dataset[ids]`` = the decoded batch of ``ids`` (or the one-line error reading it raised)."""

    def __init__(self, split):
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, ids):
        from pipeline.io.errors import PruneError

        try:
            return self.split.decode(ids)
        except PruneError as err:  # said by the training thread as the stage's own one line
            return err


def batches_of(split, id_batches: Sequence[np.ndarray], device, workers: int | None = None) -> Iterator[torch.Tensor]:
    """The finished (moved, normalised) input batch of every array of ids in ``id_batches``, in order."""
    workers = WORKERS if workers is None else workers
    if split.files is None or workers == 0 or len(id_batches) < 2:
        for ids in id_batches:
            yield split.take(ids, device)
        return
    loader = torch.utils.data.DataLoader(_Decode(split), batch_size=None, sampler=list(id_batches),
                                         num_workers=min(workers, len(id_batches)), prefetch_factor=2)
    for raw in loader:
        if isinstance(raw, BaseException):
            raise raw
        yield split.finish(raw, device)
