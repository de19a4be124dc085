"""The shape of a score method: a function over a run plus its metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from pipeline.io import PruneError


@dataclass(frozen=True)
class ScoreMethod:
    name: str
    compute: Callable[[Any, dict[str, Any]], np.ndarray]  # (Run, params) -> scores in sample order
    higher_is_harder: bool | None  # None: neither end (random)
    formula: str
    paper: str
    defaults: dict[str, Any] = field(default_factory=dict)  # every parameter it accepts, with its default
    needs: tuple[str, ...] = ()  # recorded inputs beyond the train-pass logits

    def resolve(self, given: dict[str, Any], run) -> dict[str, Any]:
        """The full parameter set: defaults, then what the user gave; unknown ones are an error."""
        extra = sorted(k for k, v in given.items() if v is not None and k not in self.defaults)
        if extra:
            flags = ", ".join("--" + k.replace("_", "-") for k in extra)
            accepted = ", ".join("--" + k.replace("_", "-") for k in self.defaults) or "no options"
            raise PruneError(f"{flags} does not apply to --method {self.name} (it takes {accepted})")
        params = dict(self.defaults)
        params.update({k: v for k, v in given.items() if v is not None})
        return params
