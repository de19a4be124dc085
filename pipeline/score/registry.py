"""Score methods by name, each with its metadata (docs/design.md §5).

A new score is one module in ``pipeline/score/methods/`` exposing ``METHOD``,
plus one name in ``_MODULES`` below, plus one test.

Your own score, without editing the package (the contract: a function of a
recorded run, :class:`pipeline.io.Run`, and its options, returning one float
per sample in sample order; ``higher_is_harder`` says which end selection
keeps by default):

- in Python: ``register_score("mine", fn, higher_is_harder=True)`` (or as a
  decorator), then ``score(run, "mine")`` or ``prune score --method mine``
  in the same process;
- on the command line: ``prune score --method package.module:function``, the
  function carrying a ``higher_is_harder`` attribute (a ``ScoreMethod``
  object works too);
- as an installed plugin: an entry point in the group ``prune.scores`` whose
  name is the method name and whose object is such a function or ScoreMethod.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from pipeline.io import PruneError
from pipeline.score.base import ScoreMethod

_MODULES = ("forgetting", "aum", "el2n", "tdds", "random", "grand", "dynunc", "entropy", "margin", "confidence", "loss",
            "variability", "correctness", "moderate", "prototype", "least_confidence", "variation_ratio", "bald", "kcenter")
ENTRY_POINT_GROUP = "prune.scores"


def _load() -> dict[str, ScoreMethod]:
    out = {}
    for mod in _MODULES:
        m = importlib.import_module(f"pipeline.score.methods.{mod}").METHOD
        out[m.name] = m
    return out


METHODS: dict[str, ScoreMethod] = _load()
_BUILTIN = frozenset(METHODS)


def as_method(name: str, obj: Any, *, higher_is_harder: bool | None = None, formula: str = "", paper: str = "",
              defaults: dict[str, Any] | None = None, needs: tuple[str, ...] = ()) -> ScoreMethod:
    """A ``ScoreMethod`` from a user's function ``fn(run, **params) -> scores`` (or a ScoreMethod as it is)."""
    if isinstance(obj, ScoreMethod):
        return obj
    if not callable(obj):
        raise PruneError(f"score {name!r} is {type(obj).__name__}, not a function of (run, **params) or a ScoreMethod")
    if higher_is_harder is None:
        higher_is_harder = getattr(obj, "higher_is_harder", None)
    if not isinstance(higher_is_harder, bool):
        raise PruneError(f"score {name!r} must say which end is hard: set {getattr(obj, '__name__', 'fn')}.higher_is_harder "
                         "= True (or False) on the function, or pass higher_is_harder= when registering it")
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    defaults = dict(getattr(obj, "defaults", {}) if defaults is None else defaults)

    def compute(run, params: dict[str, Any], fn: Callable = obj):
        return fn(run, **params)

    return ScoreMethod(name=name, compute=compute, higher_is_harder=higher_is_harder,
                       formula=formula or (doc[0] if doc else "user-defined"), paper=paper or "user-defined",
                       defaults=defaults, needs=needs)


def register_score(name: str, fn: Callable | None = None, **metadata: Any):
    """Add a score to the registry (``prune score`` and :func:`pipeline.score` then know it by ``name``).

    ``register_score("mine", fn, higher_is_harder=True)``, or as a decorator
    ``@register_score("mine", higher_is_harder=True)``. ``metadata``: formula,
    paper, defaults (its options with their defaults), needs. A built-in
    name cannot be replaced.
    """
    def add(f):
        if name in _BUILTIN:
            raise PruneError(f"{name!r} is a built-in score; register yours under another name")
        m = as_method(name, f, **metadata)
        METHODS[name] = m
        return f

    return add if fn is None else add(fn)


def _from_reference(ref: str) -> ScoreMethod:
    module, _, attr = ref.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except ImportError as err:
        raise PruneError(f"--method {ref}: cannot import {module} ({err})") from None
    except AttributeError:
        raise PruneError(f"--method {ref}: {module} has no {attr}") from None
    return as_method(ref.replace(":", "."), obj)  # the table's file name: RUN/scores/package.module.function.parquet


def _from_entry_point(name: str) -> ScoreMethod | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                obj = ep.load()
            except Exception as err:  # a broken plugin is the plugin's error, said in one line
                raise PruneError(f"score plugin {name!r} ({ep.value}) failed to load: {err}") from None
            return as_method(name, obj)
    return None


def get_method(name: str) -> ScoreMethod:
    """A score by name: built-in or registered, ``package.module:function``, or a ``prune.scores`` entry point."""
    if name in METHODS:
        return METHODS[name]
    if ":" in name:
        return _from_reference(name)
    m = _from_entry_point(name)
    if m is not None:
        METHODS[name] = m
        return m
    raise PruneError(f"unknown score method {name!r}; valid methods: {', '.join(METHODS)} "
                     "(or package.module:function for your own)")
