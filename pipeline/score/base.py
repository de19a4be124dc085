"""The shape of a score method: a function over a run plus its metadata."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable

import numpy as np

from pipeline.io import PruneError
from pipeline.registry import Option, options_from


@dataclass(frozen=True)
class LogitsPlan:
    """How a per-sample score reads recorded logits, so several scores can share one pass over them.

    ``fn`` is pure and per-sample: given a float32 block (init, epoch, samples,
    class) of ``source`` over the recorded epochs ``epochs`` and those samples'
    labels, it returns their scores. The driver (``pipeline.score.stream``)
    streams the array by sample chunks and hands every plan its slice.
    """

    source: str  # "logits" (training pass) or "eval_logits" (eval pass)
    epochs: range  # recorded epoch indices read, contiguous
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ScoreMethod:
    name: str
    compute: Callable[[Any, dict[str, Any]], np.ndarray]  # (Run, params) -> scores in sample order
    higher_is_harder: bool | None  # None: neither end (random)
    formula: str
    paper: str
    defaults: dict[str, Any] = field(default_factory=dict)  # every parameter it accepts, with its default
    needs: tuple[str, ...] = ()  # what the run must hold, in words (shown by `prune score --list`)
    # (Run, params) -> LogitsPlan, or None where this run is scored another way; lets `--all` share one read
    plan: Callable[[Any, dict[str, Any]], LogitsPlan | None] | None = None
    hard_end: str | None = None  # how --list shows the hard end when it is not simply high/low
    # Active learning (``prune score --pool`` on a run recorded with ``--manifest M --pool``): (Run, full params)
    # -> one float per pool sample, in ``run.pool_ids`` order, label-free (it never reads ``run.pool_targets``).
    # ``higher_is_harder`` means the same there: the hard end is the one to acquire (label) first. None: the
    # method needs labels or training dynamics, which the pool has not, and cannot score it.
    pool: Callable[[Any, dict[str, Any]], np.ndarray] | None = None
    pool_only: bool = False  # True: ``compute`` refuses training rows in one line (it scores the pool alone)
    #: Every option declared (type, range, help). Given ``defaults`` instead, each name takes the shared
    #: declaration of :data:`pipeline.score.options.SHARED` with this method's default (a name not there is
    #: inferred from its default); ``defaults`` is then always ``{option: default}``.
    options: tuple[Option, ...] = ()

    def __post_init__(self):
        from pipeline.score.options import SHARED

        if self.options and self.defaults:
            raise ValueError(f"score {self.name!r}: give options (Option objects) or defaults (a mapping), not both")
        options = tuple(self.options) or tuple(
            dataclasses.replace(SHARED[k], default=v) if k in SHARED else options_from({k: v})[0]
            for k, v in self.defaults.items())
        if not all(isinstance(o, Option) for o in options):
            raise TypeError(f"score {self.name!r}: options must be pipeline.registry.Option objects")
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "defaults", MappingProxyType({o.name: o.default for o in options}))

    def resolve(self, given: dict[str, Any], run) -> dict[str, Any]:
        """The full parameter set: defaults, then what the user gave, each checked by its declaration;
        unknown ones are an error."""
        extra = sorted(k for k, v in given.items() if v is not None and k not in self.defaults)
        if extra:
            flags = ", ".join("--" + k.replace("_", "-") for k in extra)
            accepted = ", ".join("--" + k.replace("_", "-") for k in self.defaults) or "no options"
            raise PruneError(f"{flags} does not apply to --method {self.name} (it takes {accepted})")
        params = dict(self.defaults)
        declared = {o.name: o for o in self.options}
        params.update({k: declared[k].check(v, f"--method {self.name}") for k, v in given.items() if v is not None})
        return params

    @property
    def hard(self) -> str:
        if self.hard_end is not None:
            return self.hard_end
        return {True: "high", False: "low", None: "neither"}[self.higher_is_harder]


def pool_only(name: str, how: str) -> Callable[[Any, dict[str, Any]], np.ndarray]:
    """A ``compute`` for a method that scores the pool alone: one line saying so, whatever the run."""

    def compute(run, params) -> np.ndarray:
        raise PruneError(f"{name} scores the pool: {how}")

    return compute
