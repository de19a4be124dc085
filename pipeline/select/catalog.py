"""The selection catalog: samplers (``--method``) and class quotas (``--quota``) by name (docs/design.md §6).

``prune select`` composes three independent choices: a score table, a
sampler and a class quota. Each entry says what it reads (``needs``), so the
stage loads only that (a random selection needs no score table, only
k-center and D2 need embeddings) and names the flag that provides a missing
input; its ``options`` (:class:`pipeline.registry.Option`) are every
parameter it takes, recorded in the manifest in that order.

Each built-in lives in its own file (:mod:`pipeline.select.samplers`,
:mod:`pipeline.select.quotas`) and is registered here, all of them when this
module is imported. Installed plugins come from the entry-point groups
``prune.samplers`` and ``prune.quotas``. ``prune select --help`` and
``--list``, ``--opt KEY=VALUE``, the unknown-name errors, the sweep's axes
and :func:`pipeline.select.core.choose` all read these registries.
"""

from __future__ import annotations

from pipeline.registry import Needs, Registry
from pipeline.registry import option_help as _option_help
from pipeline.select import quotas as _quotas
from pipeline.select import samplers as _samplers
from pipeline.select.base import INPUT_FLAGS, QUOTA_NEEDS, SAMPLER_NEEDS, Quota, Sampler

_SAMPLER_NEEDS = Needs(SAMPLER_NEEDS, INPUT_FLAGS)
_QUOTA_NEEDS = Needs(QUOTA_NEEDS, INPUT_FLAGS)


def _checker(kind: type, needs: Needs):
    def check(entry) -> None:
        if not isinstance(entry, kind):
            raise TypeError(f"expected a {kind.__name__}, got {type(entry).__name__}")
        if entry.fn is not None and not callable(entry.fn):
            raise TypeError(f"{kind.__name__.lower()} {entry.name!r}: fn must be callable")
        needs.check(kind.__name__.lower(), entry.name, entry.needs)
    return check


SAMPLERS: Registry[Sampler] = Registry("sampler", "prune.samplers", flag="--method", check=_checker(Sampler, _SAMPLER_NEEDS),
                                      unknown="unknown selection method {name!r}; valid methods: {names}")
QUOTAS: Registry[Quota] = Registry("quota", "prune.quotas", flag="--quota", check=_checker(Quota, _QUOTA_NEEDS),
                                 unknown="unknown quota {name!r}; valid quotas: {names}")
for _s in _samplers.BUILTIN:
    SAMPLERS.register(_s, builtin=True)
for _q in _quotas.BUILTIN:
    QUOTAS.register(_q, builtin=True)

# kept for readers of the CCS defaults by their old names
CCS_BETA = _samplers.ccs.CCS_BETA
CCS_STRATA = _samplers.ccs.CCS_STRATA


def register_sampler(entry: Sampler, *, replace: bool = False) -> Sampler:
    """Add a sampler to the catalog (``prune select --method``, :func:`pipeline.select.core.choose`)."""
    return SAMPLERS.register(entry, replace=replace)


def register_quota(entry: Quota, *, replace: bool = False) -> Quota:
    """Add a class quota to the catalog (``prune select --quota``, :func:`pipeline.select.core.choose`)."""
    return QUOTAS.register(entry, replace=replace)


def get_sampler(name: str) -> Sampler:
    return SAMPLERS.get(name)


def get_quota(name: str) -> Quota:
    return QUOTAS.get(name)


# -------------------------------------------------------------------------- help text of `prune select`

def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def sampler_help() -> str:
    """``--method``: every sampler with its summary, and which need recorded embeddings."""
    text = "; ".join(f"{s.name}: {s.summary}" + (f" (options: {', '.join(s.defaults)})" if s.defaults else "")
                     for s in SAMPLERS.values())
    emb = [s.name for s in SAMPLERS.values() if s.needs_model_outputs]
    if emb:
        text += f". {_names(emb)} need{'s' if len(emb) == 1 else ''} `prune record --embeddings`"
    return text


def quota_help() -> str:
    """``--quota``: every quota with its summary (and its options; not in brackets, which rich takes for markup)."""
    return "; ".join(f"{q.name}: {q.summary}" + (f" (options: {', '.join(q.defaults)})" if q.defaults else "")
                     for q in QUOTAS.values())


def listing() -> list[str]:
    """``prune select --list``: every sampler and quota, installed plugins included, with what it reads and
    each option's default and meaning."""
    lines = []
    for title, reg in (("samplers (--method)", SAMPLERS), ("quotas (--quota)", QUOTAS)):
        reg.load_plugins()
        lines.append(title)
        for e in reg.values():
            lines.append(f"  {e.name}: {e.summary}")
            lines.append(f"    paper    {e.paper}")
            lines.append(f"    reads    {', '.join(e.needs) or 'nothing but the labels'}")
            for o in e.options:
                lines.append(f"    option   {o.name} (default {o.shown_default()}): {o.help}")
    return lines


def option_help(option: str, what: str | None = None, *, defaults: bool = True) -> str:
    """Help of an option samplers and quotas read: "ccs, d2: <what> (default: ccs …; d2 0.0)."."""
    return _option_help((*SAMPLERS.declarations(), *QUOTAS.declarations()), option, what, defaults=defaults)


def input_help(need: str, what: str) -> str:
    """Help of a flag that provides an input: "drop: <what>"."""
    readers = [e.name for e in (*SAMPLERS.values(), *QUOTAS.values()) if need in e.needs]
    return f"{', '.join(readers)}: {what}"
