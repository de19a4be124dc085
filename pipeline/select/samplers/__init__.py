"""The samplers of ``prune select --method``: one file each, holding its array function and its registry entry.

A new sampler is one file here exposing ``SAMPLER`` (a
:class:`~pipeline.select.base.Sampler` whose ``fn(pool, n_keep, rng, **params)``
returns exactly ``n_keep`` sorted unique positions), one name in
:data:`BUILTIN` below, and one test. Your own, without editing the package:
:func:`pipeline.select.catalog.register_sampler`, or an entry point in the
group ``prune.samplers``.

The array functions are re-exported here: ``from pipeline.select.samplers
import select_ccs``.
"""

from __future__ import annotations

from pipeline.select.samplers import (ccs, contextual, craig, d2, dualbeta, glister, gradmatch, herding, kcenter,
                                      moderate, random, submodular, topk)
from pipeline.select.samplers._common import n_keep_for
from pipeline.select.samplers.ccs import (CCS_BETA_TABLE, _ccs_allocate, _ccs_bins, ccs_default_beta, cutoff_size,
                                          drop_hardest, select_ccs)
from pipeline.select.samplers.d2 import D2_EPSILON, d2_forward, d2_reverse, knn_graph, select_d2
from pipeline.select.samplers.dualbeta import beta_shape, dualbeta_probabilities, select_dualbeta
from pipeline.select.samplers.glister import glister_greedy
from pipeline.select.samplers.gradmatch import gradmatch_omp, select_gradmatch
from pipeline.select.samplers.kcenter import select_kcenter
from pipeline.select.samplers.moderate import select_moderate
from pipeline.select.samplers.random import select_random
from pipeline.select.samplers.topk import hardness_order, select_topk

#: The built-in samplers, in the order `--help` and `--list` show them.
BUILTIN = (*(m.SAMPLER for m in (topk, random, ccs, moderate, d2, kcenter, herding, contextual)),
           submodular.GRAPHCUT, submodular.FACILITY, submodular.LOGDET,
           *(m.SAMPLER for m in (craig, gradmatch, glister, dualbeta)))

__all__ = ["BUILTIN", "n_keep_for", "hardness_order", "select_topk", "select_random", "ccs_default_beta", "select_ccs",
           "select_moderate", "CCS_BETA_TABLE", "cutoff_size", "drop_hardest", "select_kcenter", "knn_graph",
           "d2_forward", "d2_reverse", "select_d2", "D2_EPSILON", "_ccs_allocate", "_ccs_bins", "gradmatch_omp",
           "select_gradmatch", "glister_greedy", "select_dualbeta", "dualbeta_probabilities", "beta_shape"]
