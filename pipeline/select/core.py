"""Selection on arrays: scores (+ embeddings, recalls, …) and a rate → the kept sample ids (docs/design.md §6).

:func:`choose` is the whole of ``prune select`` without files: it validates
its arguments once, at the door (bad input is one-line
:class:`~pipeline.io.PruneError`), then hands clean arrays to :func:`run`,
which assumes them valid. The stage (:mod:`pipeline.select.run`) reads and
checks its files itself and calls :func:`resolve`, :func:`check` and
:func:`run` directly, so both go down the same path. Samplers and quotas are
looked up in :mod:`pipeline.select.catalog`, user-registered ones included.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from pipeline.counts import checked_keep_count, round_half_up
from pipeline.io import PruneError
from pipeline.registry import Option
from pipeline.select.base import Inputs, Quota, Sampler
from pipeline.select.catalog import QUOTAS, SAMPLERS, get_quota, get_sampler
from pipeline.select.quotas import select_with_quota
from pipeline.select.samplers import cutoff_size

#: Options ``prune select`` has always accepted and ignored where they do not
#: apply (the others are refused there, so a misplaced one is never silent).
LENIENT = ("keep", "beta", "strata")


def _declared(name: str, s: Sampler, q: Quota) -> Option | None:
    """The declaration of option ``name``: the chosen entries' own, else any entry's (a lenient option)."""
    for o in (*s.options, *q.options):
        if o.name == name:
            return o
    return SAMPLERS.all_options().get(name) or QUOTAS.all_options().get(name)


@dataclass(frozen=True)
class Choice:
    """A sampler and a quota with their full parameters (defaults, then what was given)."""

    sampler: Sampler
    quota: Quota
    params: dict[str, Any]  # the sampler's
    quota_params: dict[str, Any]

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.sampler.needs + self.quota.needs))


def resolve(method: str, quota: str, *, rate: float, given: Mapping[str, Any]) -> Choice:
    """Look up ``method`` and ``quota``, check ``rate`` and the options ``given`` (None: not given), fill defaults.

    An option neither entry reads is an error, except the :data:`LENIENT`
    ones; a given value is checked by :data:`OPTION_CHECKS`.
    """
    s, q = get_sampler(method), get_quota(quota)
    if not (isinstance(rate, (int, float, np.floating)) and 0.0 < rate < 1.0):
        raise PruneError(f"--rate is the fraction removed and must be in (0, 1), got {rate}")
    accepted = set(s.accepts) | set(q.accepts)
    extra = [name for name, v in given.items() if v is not None and name not in accepted and name not in LENIENT]
    if extra:
        raise PruneError(f"{', '.join('--' + e.replace('_', '-') for e in extra)} does not apply to "
                         f"--method {method} --quota {quota}")
    checked = {}
    for name, v in given.items():  # a given value is checked by its declaration, whether or not it applies
        if v is not None:
            opt = _declared(name, s, q)
            checked[name] = opt.check(v) if opt is not None else v

    def fill(options) -> dict[str, Any]:
        return {o.name: checked[o.name] if o.name in checked else o.default_at(rate) for o in options}

    return Choice(s, q, fill(s.options), fill(q.options))


def check(choice: Choice, n: int, n_keep: int) -> None:
    """What needs the data set's size: a global hard cutoff (``beta``) must leave ``n_keep`` samples."""
    if choice.quota.fn is None and "beta" in choice.params:
        try:
            cutoff_size(choice.params["beta"], n, n_keep, choice.sampler.name)
        except ValueError as err:
            raise PruneError(str(err)) from None  # the message names the method


def _class_cutoff(beta: float, size: int, budget: int) -> float:
    # Inside a class the hard cutoff may not eat into the class's budget: a
    # class that keeps more than 1 - beta of its samples (a small or a
    # DRoP-favoured class) drops only what its budget leaves. Globally a
    # too-large beta stays an error (``check``).
    if round_half_up(beta, size) <= size - budget:
        return beta
    return (size - budget) / size


def _positions(chosen, budget: int, n: int, name: str) -> np.ndarray:
    """A sampler call's result, checked: exactly ``budget`` unique positions in [0, n), sorted here if need be."""
    chosen = np.asarray(chosen)
    if chosen.ndim != 1 or (chosen.size and chosen.dtype.kind not in "iu"):
        raise PruneError(f"sampler {name} must return a one-dimensional integer array")
    chosen = chosen.astype(np.int64, copy=False)
    if chosen.size > 1 and not (chosen[1:] > chosen[:-1]).all():
        chosen = np.sort(chosen)
    if chosen.shape[0] != budget or (chosen.size > 1 and not (chosen[1:] > chosen[:-1]).all()) or (
            chosen.size and (chosen[0] < 0 or chosen[-1] >= n)):
        raise PruneError(f"sampler {name} returned {chosen.shape[0]} positions (duplicates or out-of-range ones "
                         f"included), expected {budget} distinct ones in [0, {n})")
    return chosen


class Selected(NamedTuple):
    """What a selection returns: kept sample ids (sorted), the sampler's recorded parameters, the quota's
    detail (or None), and one loss weight per kept sample from a weighted sampler (None: unweighted)."""

    kept: np.ndarray
    parameters: dict[str, Any]
    detail: dict[str, Any] | None
    weights: np.ndarray | None = None


def _weights(w, budget: int, name: str) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (budget,) or not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        raise PruneError(f"sampler {name} returned weights of shape {w.shape}, expected {budget} finite "
                         "non-negative ones")
    return w


def run(choice: Choice, inputs: Inputs, n_keep: int, seed: int) -> Selected:
    """Select on valid inputs: kept sample ids, the sampler's recorded parameters, the quota's detail or None,
    and the weights of a weighted sampler."""
    s, q = choice.sampler, choice.quota
    rng = np.random.default_rng(seed)
    weight_of: dict[str, np.ndarray] = {}  # "w": a weight per sample id, once a sampler returned weights

    def sampler(pos: np.ndarray | None, budget: int) -> np.ndarray:
        """Kept sample ids among ``pos`` (one class's ids, sorted), or among all samples when None."""
        pool = inputs.pool(pos, s.needs)
        params = choice.params
        if pos is not None and "beta" in params:
            params = {**params, "beta": _class_cutoff(params["beta"], pool.n, budget)}
        try:
            chosen = s.fn(pool, budget, rng, **params)
        except ValueError as err:
            raise PruneError(f"{s.name}: {err}") from None
        w = None
        if isinstance(chosen, tuple):  # a weighted sampler: (positions, weights)
            chosen, w = chosen
            w = _weights(w, budget, s.name)
            order = np.argsort(np.asarray(chosen), kind="stable")
            chosen, w = np.asarray(chosen)[order], w[order]
        chosen = _positions(chosen, budget, pool.n, s.name)
        ids = chosen if pos is None else pos[chosen]
        if w is not None:
            weight_of.setdefault("w", np.zeros(inputs.n))[ids] = w
        return ids

    if q.fn is None:
        kept = sampler(None, n_keep)
    else:
        try:
            budgets = q.fn(inputs, n_keep, **choice.quota_params)
        except ValueError as err:
            raise PruneError(f"quota {q.name}: {err}") from None
        try:
            kept = select_with_quota(budgets, inputs.targets, sampler)
        except ValueError as err:  # a sampler or quota that broke its contract
            raise PruneError(f"--method {s.name} --quota {q.name}: {err}") from None
    kept = np.asarray(kept, dtype=np.int64)
    if len(kept) != n_keep:  # pragma: no cover - the checks above hold every entry to its count
        raise PruneError(f"--method {s.name} --quota {q.name} kept {len(kept)} samples, expected {n_keep}")

    parameters = dict(choice.params)
    for need in s.needs:  # where its inputs came from (the embeddings' snapshot), when known
        if need != "scores" and need in inputs.sources:
            parameters[need] = inputs.sources[need]
    detail = q.detail(inputs, choice.quota_params) if q.detail is not None else dict(choice.quota_params)
    return Selected(kept, parameters, detail or None, weight_of["w"][kept] if weight_of else None)


# -------------------------------------------------------------------------- the door

def _array(a, name: str, kinds: str, ndim: int) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != ndim or (a.size and a.dtype.kind not in kinds):
        what = "integers" if kinds == "iu" else "numbers"
        raise PruneError(f"{name} must be a {ndim}-dimensional array of {what}, got shape {a.shape} dtype {a.dtype}")
    return a


def choose(
    *,
    targets,
    values=None,
    higher_is_harder: bool = True,
    num_classes: int | None = None,
    classes: Sequence[str] | None = None,
    n_keep: int | None = None,
    rate: float | None = None,
    method: str = "topk",
    quota: str = "none",
    keep: str | None = None,
    beta: float | None = None,
    strata: int | None = None,
    k: int | None = None,
    gamma: float | None = None,
    emb=None,
    grads=None,
    val_grads=None,
    val_targets=None,
    recalls=None,
    like_counts=None,
    p_true_mean=None,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> Selected:
    """Choose which samples to keep: ``prune select`` on arrays, no run folder.

    Keeps exactly ``N − round(rate·N)`` samples (or ``n_keep``; give one of the
    two), ties broken by sample id, deterministic for a ``seed``. Positions
    are sample ids ``0..N-1``.

    Parameters
    ----------
    targets : array of int, shape (N,)
        Class of every sample, in ``[0, num_classes)``.
    values : array of float, shape (N,), optional
        Scores (a score table's ``score`` column); needed by the samplers and
        quotas that read scores. ``higher_is_harder`` says which end is hard.
    num_classes, classes
        Number of classes (default ``targets.max() + 1``) and their names as
        the quota detail writes them (default ``"0"``, ``"1"``, …).
    n_keep, rate
        Samples to keep, or the fraction removed (``0 < rate < 1``).
    method, quota
        Names in :data:`pipeline.select.catalog.SAMPLERS` / ``QUOTAS``,
        registered ones included.
    keep, beta, strata, k, gamma
        The options of ``prune select`` (None: the entry's default). ``keep``,
        ``beta`` and ``strata`` are ignored where they do not apply; the
        others are an error there.
    emb : array, shape (N, dim), optional
        Embeddings, for the samplers that need them (d2, kcenter).
    grads, val_grads : LastLayer, optional
        Last-layer gradients of the N samples and of validation samples
        (:meth:`pipeline.select.lastlayer.LastLayer.from_head`), for the
        gradient-based samplers (craig, gradmatch, glister, …);
        ``val_targets`` are the validation samples' classes.
    recalls : array, shape (num_classes,), optional
        Validation recall per class, for ``quota="drop"``.
    like_counts : array of int, shape (num_classes,), optional
        Kept samples per class of a reference selection, for ``quota="strategyq"``.
    p_true_mean : array, shape (N,), optional
        Each sample's mean label probability over the scored epochs, in [0, 1], for
        ``method="dualbeta"`` (:func:`pipeline.score.methods.dual.p_true_mean` on a run).
    options : mapping, optional
        Further parameters of a registered sampler or quota, by name.

    Returns
    -------
    Selected
        ``(kept, parameters, detail, weights)``: sorted unique ``int64`` sample
        ids; the sampler's full parameters and the quota's detail (or None),
        as a manifest records them; the loss weight of each kept sample from a
        weighted sampler (None for the others).
    """
    get_sampler(method), get_quota(quota)  # unknown names before anything else
    targets, num_classes, classes = _labels(targets, num_classes, classes)
    n = int(targets.shape[0])
    n_keep, rate = _budget(n, n_keep, rate)
    given = {"keep": keep, "beta": beta, "strata": strata, "k": k, "gamma": gamma, **(options or {})}
    choice = resolve(method, quota, rate=rate, given=given)
    inputs = _inputs(choice, method, quota, targets, num_classes, classes, values=values,
                     higher_is_harder=higher_is_harder, emb=emb, grads=grads, val_grads=val_grads,
                     val_targets=val_targets, recalls=recalls, like_counts=like_counts, p_true_mean=p_true_mean)
    try:
        seed = operator.index(seed)
    except TypeError:
        raise PruneError(f"seed must be an integer, got {seed!r}") from None
    check(choice, n, n_keep)
    return run(choice, inputs, n_keep, seed)


def _inputs(choice: Choice, method: str, quota: str, targets, num_classes: int, classes, *, values,
            higher_is_harder, emb, grads, val_grads, val_targets, recalls, like_counts, p_true_mean) -> Inputs:
    """Every array the chosen sampler and quota read, checked against the labels (the others dropped)."""
    needs, n = choice.needs, int(targets.shape[0])
    values = _scores_input(values, needs, n, method, quota)
    if not isinstance(higher_is_harder, (bool, np.bool_)):
        raise PruneError(f"higher_is_harder must be True or False, got {higher_is_harder!r}")
    grads, val_grads, val_targets = _gradients_input(grads, val_grads, val_targets, needs, n, method)
    return Inputs(targets=targets.astype(np.int64, copy=False), num_classes=num_classes, classes=classes,
                  scores=values, higher_is_harder=bool(higher_is_harder),
                  emb=_embeddings_input(emb, needs, n, method), grads=grads, val_grads=val_grads,
                  val_targets=val_targets, recalls=_recalls_input(recalls, needs, num_classes, quota),
                  like_counts=_like_input(like_counts, needs, num_classes, quota),
                  p_true_mean=_p_true_mean_input(p_true_mean, needs, n, method))


def _labels(targets, num_classes, classes) -> tuple[np.ndarray, int, tuple[str, ...]]:
    targets = _array(targets, "targets", "iu", 1)
    if targets.shape[0] == 0:
        raise PruneError("targets is empty: there is nothing to select from")
    if targets.min() < 0:
        raise PruneError(f"targets must be >= 0, got {int(targets.min())}")
    top = int(targets.max()) + 1
    if num_classes is None:
        num_classes = top
    elif not (isinstance(num_classes, (int, np.integer)) and num_classes >= top):
        raise PruneError(f"num_classes must be an integer >= targets.max() + 1 = {top}, got {num_classes}")
    num_classes = int(num_classes)
    classes = tuple(str(c) for c in range(num_classes)) if classes is None else tuple(str(c) for c in classes)
    if len(classes) != num_classes:
        raise PruneError(f"classes names {len(classes)} classes, expected {num_classes}")
    return targets, num_classes, classes


def _budget(n: int, n_keep, rate) -> tuple[int, float]:
    """(samples to keep, the rate removed): from a rate by the one rate rule, or from a count."""
    if (n_keep is None) == (rate is None):
        raise PruneError("give exactly one of n_keep and rate")
    if rate is not None:
        return checked_keep_count(n, rate), float(rate)  # refuses a rate outside (0, 1)
    try:
        n_keep = operator.index(n_keep)
    except TypeError:
        raise PruneError(f"n_keep must be an integer, got {n_keep!r}") from None
    if not 1 <= n_keep < n:  # as for a rate: keeping nothing, or everything, is no selection
        raise PruneError(f"n_keep must be in [1, {n - 1}], got {n_keep}")
    return n_keep, (n - n_keep) / n  # the rate is what rate-dependent defaults (CCS's beta) read


def _scores_input(values, needs, n: int, method: str, quota: str):
    if "scores" not in needs:
        return None
    if values is None:
        raise PruneError(f"--method {method} --quota {quota} reads scores: pass values")
    values = _array(values, "values", "biuf", 1)
    if values.shape[0] != n:
        raise PruneError(f"values has {values.shape[0]} scores but targets {n} samples")
    if not np.all(np.isfinite(values)):
        raise PruneError("values holds NaN or infinite scores")
    return values


def _embeddings_input(emb, needs, n: int, method: str):
    if "embeddings" not in needs:
        return None
    if emb is None:
        raise PruneError(f"--method {method} reads embeddings: pass emb, shape (N, dim)")
    emb = _array(emb, "emb", "biuf", 2)
    if emb.shape[0] != n:
        raise PruneError(f"emb has {emb.shape[0]} rows but targets {n} samples")
    if not np.all(np.isfinite(emb)):
        raise PruneError("emb holds NaN or infinite values")
    return emb


def _gradients_input(grads, val_grads, val_targets, needs, n: int, method: str):
    from pipeline.select.lastlayer import LastLayer

    if "gradients" in needs:
        if not isinstance(grads, LastLayer):
            raise PruneError(f"--method {method} reads last-layer gradients: pass grads=LastLayer.from_head(emb, "
                             "weight, bias, targets)")
        if grads.n != n:
            raise PruneError(f"grads holds {grads.n} samples but targets {n}")
    else:
        grads = None
    if "val_gradients" in needs:
        if not isinstance(val_grads, LastLayer) or val_targets is None:
            raise PruneError(f"--method {method} reads validation gradients: pass val_grads (a LastLayer) and "
                             "val_targets")
        val_targets = _array(val_targets, "val_targets", "iu", 1).astype(np.int64)
        if len(val_targets) != val_grads.n:
            raise PruneError(f"val_targets has {len(val_targets)} entries but val_grads {val_grads.n} samples")
    else:
        val_grads = val_targets = None
    return grads, val_grads, val_targets


def _p_true_mean_input(p_true_mean, needs, n: int, method: str):
    if "p_true_mean" not in needs:
        return None
    if p_true_mean is None:
        raise PruneError(f"--method {method} reads each sample's mean label probability over the scored epochs: "
                         "pass p_true_mean (pipeline.score.methods.dual.p_true_mean of the run)")
    p_true_mean = _array(p_true_mean, "p_true_mean", "biuf", 1).astype(np.float64)
    if p_true_mean.shape[0] != n:
        raise PruneError(f"p_true_mean has {p_true_mean.shape[0]} entries but targets {n} samples")
    if not (np.all(np.isfinite(p_true_mean)) and np.all((p_true_mean >= 0) & (p_true_mean <= 1))):
        raise PruneError("p_true_mean must hold probabilities in [0, 1]")
    return p_true_mean


def _recalls_input(recalls, needs, num_classes: int, quota: str):
    if "recalls" not in needs:
        return None
    if recalls is None:
        raise PruneError(f"--quota {quota} reads validation recalls: pass recalls, one per class")
    recalls = _array(recalls, "recalls", "biuf", 1).astype(np.float64)
    if recalls.shape != (num_classes,):
        raise PruneError(f"recalls must hold one recall per class ({num_classes}), got {recalls.shape[0]}")
    if not np.all(np.isfinite(recalls)) or (recalls < 0).any() or (recalls > 1).any():
        raise PruneError("recalls must be in [0, 1]")
    return recalls


def _like_input(like_counts, needs, num_classes: int, quota: str):
    if "like" not in needs:
        return None
    if like_counts is None:
        raise PruneError(f"--quota {quota} copies class shares: pass like_counts, kept samples per class")
    like_counts = _array(like_counts, "like_counts", "iu", 1).astype(np.int64)
    if like_counts.shape != (num_classes,):
        raise PruneError(f"like_counts must hold one count per class ({num_classes}), got {like_counts.shape[0]}")
    if (like_counts < 0).any() or like_counts.sum() == 0:
        raise PruneError("like_counts must be >= 0 and keep at least one sample")
    return like_counts
