"""The selection catalog: samplers (``--method``) and class quotas (``--quota``) by name (docs/design.md §6).

``prune select`` composes three independent choices: a score table, a
sampler and a class quota. Each entry says what it reads (``needs``), so the
stage loads only that (a random selection needs no score table, only
k-center and D2 need embeddings) and names the flag that provides a missing
input; its ``defaults`` are every parameter it takes, recorded in the
manifest in that order. The array functions live in
:mod:`pipeline.select.samplers`, :mod:`pipeline.select.embedding` and
:mod:`pipeline.select.quotas`; the adapters below only map an entry's
calling convention (:class:`~pipeline.select.base.Sampler`,
:class:`~pipeline.select.base.Quota`) onto them.

A new sampler is one function ``fn(pool, n_keep, rng, **params)`` plus one
:func:`register_sampler` call (here: one line in ``_SAMPLERS``) plus one test;
a new quota likewise with ``fn(inputs, n_keep, **params)`` and
:func:`register_quota`. ``prune select --help``, the unknown-name errors and
:func:`pipeline.select.core.choose` all read these registries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.io import PruneError
from pipeline.select import embedding as G
from pipeline.select import quotas as Q
from pipeline.select import samplers as S
from pipeline.select.base import QUOTA_NEEDS, SAMPLER_NEEDS, ByRate, Inputs, Pool, Quota, Sampler

# The parameters only some samplers read, with their defaults.
D2_K = 5
D2_GAMMA = 0.1  # γ_r of the authors' CIFAR command (`--gamma 0.1`)
D2_GAMMA_FORWARD = 1.0  # γ_f, fixed in the authors' code
CCS_STRATA = 50
CCS_BETA = ByRate(S.ccs_default_beta, "by rate: 0 up to 0.5, 0.1 at 0.7–0.8, 0.3 from 0.9")


# -------------------------------------------------------------------------- samplers: fn(pool, n_keep, rng, **params)

def _topk(pool: Pool, n_keep: int, rng, *, keep: str) -> np.ndarray:
    return S.select_topk(pool.scores, n_keep, higher_is_harder=pool.higher_is_harder, keep=keep)


def _random(pool: Pool, n_keep: int, rng) -> np.ndarray:
    return S.select_random(pool.n, n_keep, rng)


def _ccs(pool: Pool, n_keep: int, rng, *, beta: float, strata: int) -> np.ndarray:
    return S.select_ccs(pool.scores, n_keep, higher_is_harder=pool.higher_is_harder, beta=beta, strata=strata, rng=rng)


def _moderate(pool: Pool, n_keep: int, rng) -> np.ndarray:
    return S.select_moderate(pool.scores, n_keep, higher_is_harder=pool.higher_is_harder)


def _d2(pool: Pool, n_keep: int, rng, *, keep: str, k: int, gamma: float, gamma_forward: float, beta: float,
        strata: int) -> np.ndarray:
    return G.select_d2(pool.scores, pool.emb, n_keep, higher_is_harder=pool.higher_is_harder, keep=keep, k=k,
                       gamma=gamma, gamma_forward=gamma_forward, beta=beta, strata=strata)


def _kcenter(pool: Pool, n_keep: int, rng) -> np.ndarray:
    return G.select_kcenter(pool.emb, n_keep)


# -------------------------------------------------------------------------- quotas: fn(inputs, n_keep, **params)

def _proportional(x: Inputs, n_keep: int) -> np.ndarray:
    return Q.quota_proportional(x.class_counts, n_keep)


def _balanced(x: Inputs, n_keep: int) -> np.ndarray:
    return Q.quota_balanced(x.class_counts, n_keep)


def _drop(x: Inputs, n_keep: int) -> np.ndarray:
    return Q.quota_drop(x.class_counts, x.recalls, n_keep)


def _drop_detail(x: Inputs, params: dict[str, Any]) -> dict[str, Any]:
    source = {"recalls_from": x.sources["recalls"]} if "recalls" in x.sources else {}
    return {"recalls": {x.classes[c]: float(x.recalls[c]) for c in range(x.num_classes)}, **source,
            "floor": Q.DROP_FLOOR, "rule": "paper (Algorithm 1): densities ∝ 1 − recall"}


def _like(x: Inputs, n_keep: int) -> np.ndarray:
    return Q.quota_like(x.class_counts, x.like_counts, n_keep)


def _like_detail(x: Inputs, params: dict[str, Any]) -> dict[str, Any]:
    source = x.sources.get("like", {"n_kept": int(x.like_counts.sum())})
    return {"like": {**source, "class_counts_kept": {x.classes[c]: int(x.like_counts[c]) for c in range(x.num_classes)}}}


def _normalize(x: Inputs, n_keep: int, *, keep: str) -> np.ndarray:
    return Q.quota_normalize(x.scores, x.targets, n_keep, higher_is_harder=x.higher_is_harder, keep=keep,
                             num_classes=x.num_classes)


# -------------------------------------------------------------------------- the registries

_SAMPLERS = (
    Sampler("topk", _topk, "keep the hard end of the scores (--keep easy: the easy end)",
            "Toneva et al. 2019; Paul et al. 2021", defaults={"keep": "hard"}),
    Sampler("random", _random, "uniformly random subset", "every pruning paper's baseline", needs=()),
    Sampler("ccs", _ccs, "drop the hardest --beta, then equal shares of --strata equal-width score bins, random inside",
            "Zheng et al., ICLR 2023", defaults={"beta": CCS_BETA, "strata": CCS_STRATA},
            # CCS's code ranks by the accumulated probability margin; the logit margin fell below random on
            # MNIST-1D at rates 0.7 and 0.9 (README's closing table)
            score_options={"aum": {"space": "prob"}}),
    Sampler("moderate", _moderate, "the band of the score ranking around the median", "Xia et al., ICLR 2023"),
    Sampler("d2", _d2, "message passing on a k-NN graph of embeddings (difficulty + diversity), greedy reverse passing",
            "Maharana et al., ICLR 2024", needs=("scores", "embeddings"),
            defaults={"keep": "hard", "k": D2_K, "gamma": D2_GAMMA, "gamma_forward": D2_GAMMA_FORWARD, "beta": 0.0,
                      "strata": 1}),
    Sampler("kcenter", _kcenter, "greedy k-center on embeddings, from the sample nearest the mean",
            "Sener & Savarese 2018, as DRoP's CoreSet", needs=("embeddings",)),
)

_QUOTAS = (
    Quota("none", None, "one global selection", "—"),
    Quota("proportional", _proportional, "class shares of the full set", "CCS --class-balanced (Zheng et al., ICLR 2023)"),
    Quota("balanced", _balanced, "equal counts where possible", "—"),
    Quota("drop", _drop, "DRoP's densities proportional to validation error 1 − recall (paper, Algorithm 1)",
          "Vysogorets et al., ICLR 2025", needs=("recalls",), detail=_drop_detail),
    Quota("strategyq", _like, "class shares copied from another manifest (--like)",
          "Vysogorets et al., ICLR 2025 (code)", needs=("like",), detail=_like_detail),
    Quota("normalize", _normalize, "class shares of the global top after min-max normalising scores within each class",
          "Vysogorets et al., ICLR 2025 (code)", needs=("scores",), defaults={"keep": "hard"}),
)

SAMPLERS: dict[str, Sampler] = {}
QUOTAS: dict[str, Quota] = {}


def _check_entry(entry, kind: type, known: tuple[str, ...], registry: dict, replace: bool) -> None:
    if not isinstance(entry, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(entry).__name__}")
    if not (isinstance(entry.name, str) and entry.name and entry.name == entry.name.strip() and " " not in entry.name):
        raise ValueError(f"a {kind.__name__.lower()} name is one word, got {entry.name!r}")
    if entry.fn is not None and not callable(entry.fn):
        raise TypeError(f"{kind.__name__.lower()} {entry.name!r}: fn must be callable")
    unknown = [n for n in entry.needs if n not in known]
    if unknown:
        raise ValueError(f"{kind.__name__.lower()} {entry.name!r} needs {', '.join(unknown)}; "
                         f"it can read: {', '.join(known)}")
    if entry.name in registry and not replace:
        raise ValueError(f"a {kind.__name__.lower()} named {entry.name!r} is registered; pass replace=True to replace it")


def register_sampler(entry: Sampler, *, replace: bool = False) -> Sampler:
    """Add a sampler to the catalog (``prune select --method``, :func:`pipeline.select.core.choose`)."""
    _check_entry(entry, Sampler, SAMPLER_NEEDS, SAMPLERS, replace)
    SAMPLERS[entry.name] = entry
    return entry


def register_quota(entry: Quota, *, replace: bool = False) -> Quota:
    """Add a class quota to the catalog (``prune select --quota``, :func:`pipeline.select.core.choose`)."""
    _check_entry(entry, Quota, QUOTA_NEEDS, QUOTAS, replace)
    QUOTAS[entry.name] = entry
    return entry


for _s in _SAMPLERS:
    register_sampler(_s)
for _q in _QUOTAS:
    register_quota(_q)


def get_sampler(name: str) -> Sampler:
    try:
        return SAMPLERS[name]
    except KeyError:
        raise PruneError(f"unknown selection method {name!r}; valid methods: {', '.join(SAMPLERS)}") from None


def get_quota(name: str) -> Quota:
    try:
        return QUOTAS[name]
    except KeyError:
        raise PruneError(f"unknown quota {name!r}; valid quotas: {', '.join(QUOTAS)}") from None


# -------------------------------------------------------------------------- help text of `prune select`

def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def sampler_help() -> str:
    """``--method``: every sampler with its summary, and which need recorded embeddings."""
    text = "; ".join(f"{s.name}: {s.summary}" for s in SAMPLERS.values())
    emb = [s.name for s in SAMPLERS.values() if s.needs_embeddings]
    if emb:
        text += f". {_names(emb)} need{'s' if len(emb) == 1 else ''} `prune record --embeddings`"
    return text


def quota_help() -> str:
    """``--quota``: every quota with its summary."""
    return "; ".join(f"{q.name}: {q.summary}" for q in QUOTAS.values())


def _shown(value: Any) -> str:
    return value.text if isinstance(value, ByRate) else str(value)


def option_help(option: str, what: str, *, defaults: bool = True) -> str:
    """Help of an option some entries read: "ccs, d2: <what> (default: ccs …; d2 0.0)."."""
    readers = [e for e in (*SAMPLERS.values(), *QUOTAS.values()) if option in e.defaults]
    shown = {e.name: _shown(e.defaults[option]) for e in readers}
    if not defaults:
        return f"{', '.join(shown)}: {what}."
    if len(set(shown.values())) == 1:
        default = f"default {next(iter(shown.values()))}"
    else:
        default = "default: " + "; ".join(f"{name} {v}" for name, v in shown.items())
    return f"{', '.join(shown)}: {what} ({default})."


def input_help(need: str, what: str) -> str:
    """Help of a flag that provides an input: "drop: <what>"."""
    readers = [e.name for e in (*SAMPLERS.values(), *QUOTAS.values()) if need in e.needs]
    return f"{', '.join(readers)}: {what}"
