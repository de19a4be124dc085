"""The shape of a sampler and of a class quota: a function over arrays plus its metadata.

A selection reads a few arrays (:class:`Inputs`), lets a quota turn the global
budget into one budget per class, and runs a sampler on all samples or inside
each class (on a :class:`Pool`). Entries of both kinds are registered by name
in :mod:`pipeline.select.catalog`; :mod:`pipeline.select.core` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from pipeline.registry import ByRate, Option, options_from

__all__ = ["ByRate", "Option", "Pool", "Inputs", "Sampler", "Quota", "SAMPLER_NEEDS", "QUOTA_NEEDS", "INPUT_FLAGS"]

#: What an entry can read besides its options. Samplers read scores,
#: embeddings and last-layer gradients (of the training samples and of the
#: validation split, :class:`~pipeline.select.lastlayer.LastLayer`) and each
#: sample's mean label probability over the scored epochs ("p_true_mean", DUAL's
#: Beta sampler); quotas read scores, per-class validation recalls and the class
#: counts of another manifest ("like").
SAMPLER_NEEDS = ("scores", "embeddings", "gradients", "val_gradients", "p_true_mean")
QUOTA_NEEDS = ("scores", "recalls", "like")

#: The `prune select` flags that provide an input (one a method does not read is refused).
INPUT_FLAGS: dict[str, tuple[str, ...]] = {"embeddings": ("snapshot",), "gradients": ("snapshot",),
                                           "val_gradients": ("snapshot",), "recalls": ("recalls",), "like": ("like",)}


@dataclass(frozen=True)
class Pool:
    """The samples one sampler call chooses from: all of them, or one class's.

    Arrays are indexed by position ``0..n-1`` (increasing sample id); a field
    the sampler does not read (see :attr:`Sampler.needs`) is None.
    """

    n: int
    scores: np.ndarray | None = None
    higher_is_harder: bool = True
    emb: np.ndarray | None = None  # (n, dim)
    targets: np.ndarray | None = None  # (n,) class of each sample (one class inside a class quota)
    grads: Any = None  # LastLayer of the n samples ("gradients")
    val_grads: Any = None  # LastLayer of the validation samples of the pool's classes ("val_gradients")
    p_true_mean: np.ndarray | None = None  # (n,) mean p_y over the scored epochs, in [0, 1] ("p_true_mean")


@dataclass(frozen=True)
class Inputs:
    """Everything a selection reads, as arrays over the whole training set (positions = sample ids).

    ``sources`` says where inputs came from (input name → what the manifest
    records of it: the embeddings' snapshot, the recalls' file, the reference
    manifest); it is empty when the arrays were given directly.
    """

    targets: np.ndarray  # int64 (n,), in [0, num_classes)
    num_classes: int
    classes: tuple[str, ...]  # class names, as the manifest writes them
    scores: np.ndarray | None = None  # (n,), finite
    higher_is_harder: bool = True
    emb: np.ndarray | None = None  # (n, dim)
    grads: Any = None  # LastLayer over the n samples
    val_grads: Any = None  # LastLayer over the validation split
    val_targets: np.ndarray | None = None  # (n_val,) classes of the validation samples
    p_true_mean: np.ndarray | None = None  # (n,) mean label probability over the scored epochs, in [0, 1]
    recalls: np.ndarray | None = None  # (num_classes,), in [0, 1]
    like_counts: np.ndarray | None = None  # (num_classes,), kept per class by the reference selection
    sources: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.targets.shape[0])

    @cached_property
    def class_counts(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=self.num_classes)

    def pool(self, pos: np.ndarray | None, needs: tuple[str, ...]) -> Pool:
        """The pool of positions ``pos`` (None: all samples, the arrays as they are, no gather)."""

        def sub(a):
            return a if pos is None or a is None else a[pos]

        grads = val = None
        if "gradients" in needs and self.grads is not None:
            grads = self.grads if pos is None else self.grads.take(pos)
        if "val_gradients" in needs and self.val_grads is not None:
            val = self.val_grads
            if pos is not None:  # a class's pool is matched against that class's validation samples
                val = val.take(np.flatnonzero(np.isin(self.val_targets, np.unique(self.targets[pos]))))
        return Pool(n=self.n if pos is None else len(pos),
                    scores=sub(self.scores) if "scores" in needs else None,
                    higher_is_harder=self.higher_is_harder,
                    emb=sub(self.emb) if "embeddings" in needs else None,
                    targets=sub(self.targets), grads=grads, val_grads=val,
                    p_true_mean=sub(self.p_true_mean) if "p_true_mean" in needs else None)


def _accepts(options: tuple[Option, ...], needs: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(o.name for o in options) + tuple(f for need in needs for f in INPUT_FLAGS.get(need, ()))


def _declare(entry, kind: str) -> None:
    """Fill ``options`` from plain ``defaults`` (a plugin's shorthand) and ``defaults`` from ``options``."""
    if entry.defaults and entry.options:
        raise ValueError(f"{kind} {entry.name!r}: give options (Option objects) or defaults (a mapping), not both")
    options = tuple(entry.options) if entry.options else options_from(entry.defaults)
    if not all(isinstance(o, Option) for o in options):
        raise TypeError(f"{kind} {entry.name!r}: options must be pipeline.registry.Option objects")
    object.__setattr__(entry, "options", options)
    object.__setattr__(entry, "defaults", MappingProxyType({o.name: o.default for o in options}))


@dataclass(frozen=True)
class Sampler:
    """A sampler (``prune select --method NAME``): one file in :mod:`pipeline.select.samplers`, one entry.

    ``fn(pool, n_keep, rng, **params)`` returns exactly ``n_keep`` sorted
    unique positions of ``pool`` (ties broken by the lower position), taking
    its randomness only from ``rng``; a weighted sampler (Craig, GradMatch)
    returns ``(positions, weights)``, one non-negative weight per kept
    position, which the manifest keeps in its ``weight`` column; ``params`` are its options' defaults
    with what the user gave, in that order (the manifest records them so).
    An option named ``beta`` is a hard cutoff (the fraction of the hardest
    samples dropped first): it is checked against the budget globally and
    capped inside a class whose budget it would eat into.

    ``options`` declares every parameter (:class:`pipeline.registry.Option`:
    type, range, default, help); ``defaults={"alpha": 0.5}`` is a shorthand
    that infers them. ``--help``, ``--list``, ``--opt KEY=VALUE``, the sweep's
    axes and the API's checks all read them.
    """

    name: str
    fn: Callable[..., np.ndarray]
    summary: str  # one line, shown by `prune select --help`
    paper: str
    needs: tuple[str, ...] = ("scores",)  # of SAMPLER_NEEDS
    options: tuple[Option, ...] = ()
    #: Options a score is computed with when this sampler reads it and the user set none of them, per score
    #: method, where the sampler's paper reads that score another way than the score's own default (CCS: AUM
    #: as the accumulated probability margin). Used where prune computes the score for the sampler (sweep
    #: cells, rounds, ``--dynamic SCORE+SAMPLER``); a table scored beforehand is read as it is.
    score_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # filled from options (or options from it)

    def __post_init__(self):
        _declare(self, "sampler")

    @property
    def accepts(self) -> tuple[str, ...]:
        """Options of `prune select` it reads: its parameters, and the flags that provide its inputs."""
        return _accepts(self.options, self.needs)

    def score_params(self, method: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The options of score ``method`` when this sampler reads it: :attr:`score_options`, then ``given``
        over them (``space=logit`` keeps AUM's own margin under CCS)."""
        return {**self.score_options.get(method, {}), **(given or {})}

    @property
    def needs_scores(self) -> bool:
        return "scores" in self.needs

    @property
    def needs_embeddings(self) -> bool:
        return "embeddings" in self.needs

    @property
    def needs_model_outputs(self) -> bool:
        """It reads what `prune record --embeddings` writes (embeddings, or gradients built from them)."""
        return any(n in self.needs for n in ("embeddings", "gradients", "val_gradients"))


@dataclass(frozen=True)
class Quota:
    """A class quota (``prune select --quota NAME``): one file in :mod:`pipeline.select.quotas`, one entry.

    ``fn(inputs, n_keep, **params)`` returns one ``int64`` budget per class,
    summing exactly to ``n_keep``, none above its class's size; ``fn=None``
    is one global selection. ``detail(inputs, params)`` is what the manifest
    records of it (default: its parameters). Options as for :class:`Sampler`.
    """

    name: str
    fn: Callable[..., np.ndarray] | None
    summary: str
    paper: str
    needs: tuple[str, ...] = ()  # of QUOTA_NEEDS
    options: tuple[Option, ...] = ()
    detail: Callable[[Inputs, dict[str, Any]], dict[str, Any]] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        _declare(self, "quota")

    @property
    def accepts(self) -> tuple[str, ...]:
        return _accepts(self.options, self.needs)

    @property
    def needs_scores(self) -> bool:
        return "scores" in self.needs
