"""Your data set with sample ids, and a manifest as a subset of it."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from pipeline.io import Manifest, PruneError
from pipeline.io import read_manifest as _read_manifest


class IndexedDataset:
    """Wraps any map-style data set so that each item also returns its sample index.

    ``IndexedDataset(ds)[i]`` is ``(*ds[i], i)`` when ``ds[i]`` is a tuple (the
    usual ``(x, y)``), else ``(ds[i], i)``; batches from a DataLoader then end
    with the sample ids that :meth:`Recorder.log` and
    :meth:`DynamicSampler.update` take.
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple:
        item = self.dataset[i]
        return (*item, i) if isinstance(item, tuple) else (item, i)

    def __getattr__(self, name: str) -> Any:  # targets, classes, ... of the wrapped data set
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def read_manifest(path: str | os.PathLike) -> Manifest:
    """A manifest written by ``prune select`` (or :func:`pipeline.select`): sorted unique ``.sample`` ids,
    ``.target``, optional ``.weight`` and its provenance in ``.meta``."""
    return _read_manifest(path)


def kept_ids(selection) -> np.ndarray:
    """The kept ids of a manifest path, a read :class:`Manifest`, a :class:`pipeline.Selection` or an id array."""
    if isinstance(selection, (str, os.PathLike)):
        return _read_manifest(selection).sample
    ids = getattr(selection, "sample", selection)
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise PruneError("expected a manifest (path or read), a Selection, or a one-dimensional array of sample ids")
    return ids.astype(np.int64)


def subset(dataset, selection):
    """``torch.utils.data.Subset`` of ``dataset`` holding the kept samples (see :func:`kept_ids` for what it takes).

    Wrap first, then subset (``subset(IndexedDataset(ds), m)``) to keep the
    full data set's ids in each batch.
    """
    from torch.utils.data import Subset

    ids = kept_ids(selection)
    if len(ids) and (int(ids.max()) >= len(dataset) or int(ids.min()) < 0):
        raise PruneError(f"the selection keeps sample {int(ids.max())} but the data set has {len(dataset)} samples")
    return Subset(dataset, ids.tolist())


def subset_sampler(selection, *, seed: int | None = None):
    """A ``SubsetRandomSampler`` over the kept ids, for a DataLoader over the full data set."""
    import torch
    from torch.utils.data import SubsetRandomSampler

    gen = None if seed is None else torch.Generator().manual_seed(int(seed))
    return SubsetRandomSampler(kept_ids(selection).tolist(), generator=gen)
