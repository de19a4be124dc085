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

Options are declared once (:mod:`pipeline.score.options`, or the method's own
:class:`pipeline.registry.Option` objects): ``prune score --opt KEY=VALUE``
reaches every one, a plugin's included.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from pipeline.io import PruneError
from pipeline.registry import Registry
from pipeline.score.base import ScoreMethod

_MODULES = ("forgetting", "aum", "el2n", "tdds", "random", "grand", "dynunc", "entropy", "margin", "confidence", "loss",
            "variability", "correctness", "moderate", "prototype", "least_confidence", "variation_ratio", "bald", "kcenter",
            "deepfool", "cal", "dual")
ENTRY_POINT_GROUP = "prune.scores"


def _check(entry) -> None:
    if not isinstance(entry, ScoreMethod):
        raise TypeError(f"expected a ScoreMethod, got {type(entry).__name__}")


METHODS: Registry[ScoreMethod] = Registry(
    "score", ENTRY_POINT_GROUP, flag="--method", summary_of=lambda m: m.formula, check=_check,
    adapt=lambda name, obj: as_method(name, obj),
    unknown="unknown score method {name!r}; valid methods: {names} (or package.module:function for your own)")
for _mod in _MODULES:
    METHODS.register(importlib.import_module(f"pipeline.score.methods.{_mod}").METHOD, builtin=True)


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
        if name in METHODS.builtin:
            raise PruneError(f"{name!r} is a built-in score; register yours under another name")
        METHODS.register(as_method(name, f, **metadata), replace=True)
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


def get_method(name: str) -> ScoreMethod:
    """A score by name: built-in or registered, ``package.module:function``, or a ``prune.scores`` entry point."""
    if not isinstance(name, str) or not name:
        raise PruneError(f"a score method is a name (e.g. 'tdds'; `prune score --list` shows them), got {name!r}")
    if ":" in name and name not in METHODS:
        return _from_reference(name)
    return METHODS.get(name)


def flag_help(option: str, note: str = "") -> str:
    """Help of ``prune score``'s flag for ``option``: the methods that read it (plugins included), what it
    means (its one declaration, then ``note``) and its defaults (:func:`pipeline.registry.option_help`)."""
    from pipeline.score.options import SHARED

    return METHODS.option_help(option, (SHARED[option].help if option in SHARED else option) + note)


def parse_opts(method: ScoreMethod | None, raw: dict[str, str]) -> dict[str, Any]:
    """``--opt KEY=VALUE`` texts, each parsed by the option it names: ``method``'s, or with ``--all`` (None)
    whichever method declares it."""
    out = {}
    for key, text in raw.items():
        owners = [method] if method is not None else [m for m in METHODS.values() if key in m.defaults]
        decl = next((o for m in owners for o in m.options if o.name == key), None)
        if decl is None:
            takes = ", ".join(method.defaults) if method is not None else "see --list"
            where = f"--method {method.name} has" if method is not None else "no method has"
            raise PruneError(f"--opt {key}=…: {where} no option {key!r} ({takes or 'it takes no options'})")
        out[key] = decl.parse(text, f"--method {method.name}" if method is not None else "")
    return out
