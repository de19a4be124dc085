"""Composed dynamic rules: any score × any sampler, re-selected during training (``--dynamic tdds+ccs``).

DataCull's dynamic mode: the importance of every sample is recomputed from
the trajectory recorded so far, and the subset re-selected every k epochs.
``SCORE+SAMPLER`` names a rule made of a registered score that reads the
training logits (tdds, aum, forgetting, el2n, dynunc, variability,
correctness, entropy, margin, confidence, loss, or your own) and a
registered sampler (ccs, topk, random, moderate, or your own), run by the
engine's :class:`~pipeline.engine.plans.ScoredPlan`. It needs both the score
and the select stage, so it lives above them: importing this module adds the
``SCORE+SAMPLER`` family to the dynamic registry
(:data:`pipeline.train.dynamic.DYNAMIC`), and ``pipeline.api`` imports it, so
``prune train --dynamic``, :func:`pipeline.train` and
:class:`pipeline.DynamicSampler` all resolve such names. It imports neither
torch nor the score and select stages until a rule is built.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.engine.plans import ScoredPlan
from pipeline.io import PruneError
from pipeline.registry import Option
from pipeline.train.dynamic import DYNAMIC, DynamicRule, Family

#: Options of a composed rule (besides the score's and the sampler's own).
EVERY, WARMUP = 5, None  # WARMUP None: as many epochs as the score's window needs, at least 1
OPTIONS = (
    Option("every", EVERY, "recompute the scores and re-select every this many epochs", type=int, low=1),
    Option("warmup", WARMUP, "epochs on the full data before the first selection (default: the score's window, "
           "at least 1)", type=int, low=1, none_ok=True),
    Option("history", None, "score only the last this many epochs of the trajectory (default: every epoch so far)",
           type=int, low=1, none_ok=True),
)


def _borrowed(option: Option, owner: str) -> Option:
    """An option of the score or the sampler, taken by the composed rule with its owner's declaration (type,
    range, help); left unset (None), the owner's own default applies."""
    return dataclasses.replace(option, default=None, none_ok=True,
                               help=f"{option.help} ({owner}'s; default: {option.shown_default()})")


def _needs_more_than_logits(method) -> str | None:
    for need in method.needs:
        if "embeddings" in need or "checkpoints" in need:
            return need
    return None


def resolve(name: str) -> DynamicRule | None:
    """The rule ``SCORE+SAMPLER``, or None for a name of another shape."""
    if name.count("+") != 1:
        return None
    score_name, sampler_name = name.split("+")
    from pipeline.score.registry import get_method
    from pipeline.select.catalog import get_sampler

    method = get_method(score_name)
    sampler = get_sampler(sampler_name)
    need = _needs_more_than_logits(method)
    if need is not None:
        raise PruneError(f"--dynamic {name}: {score_name} needs {need}, but dynamic pruning scores the training "
                         "logits; pick a trajectory score (tdds, aum, forgetting, el2n, dynunc, ...)")
    if "embeddings" in sampler.needs:
        raise PruneError(f"--dynamic {name}: the {sampler_name} sampler needs embeddings, which dynamic pruning does "
                         "not record; pick ccs, topk, random or moderate")
    score_keys = tuple(k for k in method.defaults if k != "epochs")  # a dynamic score always reads every epoch kept
    sampler_keys = tuple(sampler.defaults)
    clash = set(score_keys) & set(sampler_keys)
    if clash:
        raise PruneError(f"--dynamic {name}: {score_name} and {sampler_name} both take {', '.join(sorted(clash))}")

    class Composed(ScoredPlan):
        def __init__(self, targets, rate, *, num_classes=None, epochs=None, every=EVERY, warmup=WARMUP,
                     history=None, **params: Any):
            # the sampler's own reading of the score where the user set none (CCS: AUM in probability space)
            self.score_params = sampler.score_params(
                score_name, {k: params[k] for k in score_keys if params.get(k) is not None})
            self.sampler_params = {k: params[k] for k in sampler_keys if params.get(k) is not None}
            if warmup is None:
                full = method.resolve(self.score_params, None) if method.defaults else {}
                window = int(full.get("window", 0) or 0)
                warmup = max(1, window + (1 if score_name == "dynunc" else 0))
            if history is not None and history < warmup:
                raise PruneError(f"--history {history} keeps fewer epochs than the {warmup} the score needs")
            super().__init__(targets, rate, num_classes=num_classes, epochs=epochs, every=every, warmup=warmup,
                             history=history)

        def score(self, logits):
            from pipeline.engine.memory import MemoryRun
            from pipeline.score.run import compute

            r, m, full, values, _ = compute(run=MemoryRun(logits, self.targets), method=score_name,
                                            params=dict(self.score_params))
            if "p_true_mean" in sampler.needs:  # DUAL's Beta sampler: p_y's mean over the epochs just scored
                from pipeline.select.run import p_true_mean_of

                self._p_true_mean = p_true_mean_of(r, {"parameters": full})[0]
            return values, (True if m.higher_is_harder is None else m.higher_is_harder)

        def choose(self, scores, higher_is_harder, n_keep, seed):
            from pipeline.select.core import choose

            return choose(targets=self.targets, values=scores, higher_is_harder=higher_is_harder,
                          num_classes=self.num_classes, n_keep=n_keep, method=sampler_name, seed=seed,
                          options=self.sampler_params or None,
                          p_true_mean=getattr(self, "_p_true_mean", None)).kept

        def params(self) -> dict:
            return {**super().params(), "score": score_name, "sampler": sampler_name, **self.score_params,
                    **self.sampler_params}

    Composed.__name__ = Composed.__qualname__ = f"Scored[{name}]"
    Composed.name = name
    declared = {o.name: o for o in method.options} | {o.name: o for o in sampler.options}
    options = (*OPTIONS, *(_borrowed(declared[k], score_name) for k in score_keys),
               *(_borrowed(declared[k], sampler_name) for k in sampler_keys))
    return DynamicRule(name, Composed, f"{method.name} scores of the training so far, {sampler.name} sampling",
                       f"DataCull's dynamic mode; {method.paper}; {sampler.paper}", options=options)


FAMILY = DYNAMIC.add_family(Family(
    "SCORE+SAMPLER", "tdds+ccs", "any trajectory score with any sampler, re-selected from the training so far",
    resolve, OPTIONS))
