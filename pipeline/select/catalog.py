"""The selection catalog: samplers (``--method``) and class quotas (``--quota``) by name.

``prune select`` composes three independent choices: a score table, a
sampler and a class quota (DESIGN.md section 6). Each entry says what it
reads, so the stage loads only that (a random selection needs no score
table, only k-center and D2 need embeddings) and names the flag that
provides a missing input. The functions themselves live in
:mod:`pipeline.select.samplers`, :mod:`pipeline.select.embedding` and
:mod:`pipeline.select.quotas`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sampler:
    name: str
    summary: str
    paper: str
    needs_scores: bool = True
    needs_embeddings: bool = False
    options: tuple[str, ...] = ()  # options of `prune select` it reads, beyond --rate/--seed


@dataclass(frozen=True)
class Quota:
    name: str
    summary: str
    paper: str
    needs_scores: bool = False
    options: tuple[str, ...] = ()


SAMPLERS: dict[str, Sampler] = {s.name: s for s in (
    Sampler("topk", "keep the hard end of the scores (--keep easy: the easy end)",
            "Toneva et al. 2019; Paul et al. 2021", options=("keep",)),
    Sampler("random", "uniformly random subset", "every pruning paper's baseline", needs_scores=False),
    Sampler("ccs", "drop the hardest --beta, then equal shares of --strata equal-width score bins, random inside",
            "Zheng et al., ICLR 2023", options=("beta", "strata")),
    Sampler("moderate", "the band of the score ranking around the median",
            "Xia et al., ICLR 2023"),
    Sampler("d2", "message passing on a k-NN graph of embeddings (difficulty + diversity), greedy reverse passing",
            "Maharana et al., ICLR 2024", needs_embeddings=True,
            options=("keep", "k", "gamma", "beta", "strata", "snapshot")),
    Sampler("kcenter", "greedy k-center on embeddings, from the sample nearest the mean",
            "Sener & Savarese 2018, as DRoP's CoreSet", needs_scores=False, needs_embeddings=True,
            options=("snapshot",)),
)}

QUOTAS: dict[str, Quota] = {q.name: q for q in (
    Quota("none", "one global selection", "—"),
    Quota("proportional", "class shares of the full set", "CCS --class-balanced"),
    Quota("balanced", "equal counts where possible", "—"),
    Quota("drop", "densities proportional to validation error 1 − recall (paper, Algorithm 1)",
          "Vysogorets et al., ICLR 2025", options=("recalls",)),
    Quota("strategyq", "class shares copied from another manifest (--like)",
          "Vysogorets et al., ICLR 2025 (code)", options=("like",)),
    Quota("normalize", "class shares of the global top after min-max normalising scores within each class",
          "Vysogorets et al., ICLR 2025 (code)", needs_scores=True),
)}
