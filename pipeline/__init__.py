"""prune: data pruning from recorded training dynamics.

The public Python API (the command line calls the same functions)::

    from pipeline import Recorder, IndexedDataset, score, select, read_manifest, subset, DynamicSampler

``score`` and ``select`` are the stage packages of the same names, which are
callable: ``score(run, "tdds")`` runs :func:`pipeline.api.functions.score`.
Names are imported on first use, so ``import pipeline`` (and ``prune --help``)
stays instant; torch loads only with what needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "Recorder": "pipeline.api.recorder",
    "IndexedDataset": "pipeline.api.data",
    "read_manifest": "pipeline.api.data",
    "subset": "pipeline.api.data",
    "subset_sampler": "pipeline.api.data",
    "DynamicSampler": "pipeline.api.dynamic",
    "Selection": "pipeline.api.functions",
    "register_score": "pipeline.api.functions",
    "register_sampler": "pipeline.api.functions",
    "register_quota": "pipeline.api.functions",
    "Sampler": "pipeline.select.base",
    "Quota": "pipeline.select.base",
    "ScoreMethod": "pipeline.score.base",
    "open_run": "pipeline.io",
    "read_scores": "pipeline.io",
    "PruneError": "pipeline.io",
}

__all__ = sorted([*_API, "record", "score", "select", "train"])


def __getattr__(name: str) -> Any:
    if name in ("score", "select", "record", "train"):  # the callable stage packages
        return importlib.import_module(f"pipeline.{name}")
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
