"""Score methods by name, each with its metadata (DESIGN §5).

A new score is one module in ``pipeline/score/methods/`` exposing ``METHOD``,
plus one name in ``_MODULES`` below, plus one test.
"""

from __future__ import annotations

import importlib

from pipeline.io import PruneError
from pipeline.score.base import ScoreMethod

_MODULES = ("forgetting", "aum", "el2n", "tdds", "random", "grand", "dynunc", "entropy", "margin", "confidence", "loss",
            "variability", "correctness", "moderate", "prototype")


def _load() -> dict[str, ScoreMethod]:
    out = {}
    for mod in _MODULES:
        m = importlib.import_module(f"pipeline.score.methods.{mod}").METHOD
        out[m.name] = m
    return out


METHODS: dict[str, ScoreMethod] = _load()


def get_method(name: str) -> ScoreMethod:
    try:
        return METHODS[name]
    except KeyError:
        raise PruneError(f"unknown score method {name!r}; valid methods: {', '.join(METHODS)}") from None
