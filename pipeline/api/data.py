"""Your data set with sample ids, and a manifest as a subset of it."""

from __future__ import annotations

import os
from typing import Any

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


def subset(dataset, manifest: Manifest | str | os.PathLike):
    """``torch.utils.data.Subset`` of ``dataset`` holding the manifest's samples (a path or a read manifest)."""
    from torch.utils.data import Subset

    m = manifest if isinstance(manifest, Manifest) else _read_manifest(manifest)
    if len(m.sample) and int(m.sample[-1]) >= len(dataset):
        raise PruneError(f"the manifest keeps sample {int(m.sample[-1])} but the data set has {len(dataset)} samples")
    return Subset(dataset, m.sample.tolist())


def subset_sampler(manifest: Manifest | str | os.PathLike, *, seed: int | None = None):
    """A ``SubsetRandomSampler`` over the manifest's ids, for a DataLoader over the full data set."""
    import torch
    from torch.utils.data import SubsetRandomSampler

    m = manifest if isinstance(manifest, Manifest) else _read_manifest(manifest)
    gen = None if seed is None else torch.Generator().manual_seed(int(seed))
    return SubsetRandomSampler(m.sample.tolist(), generator=gen)
