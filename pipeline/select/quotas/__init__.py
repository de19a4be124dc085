"""The class quotas of ``prune select --quota``: one file each, holding its budget rule and its registry entry.

A quota turns a global budget ``n_keep`` into one budget per class; the
sampler then runs inside each class with its class's budget
(:func:`select_with_quota`). The data-driven quotas are DRoP's (Vysogorets
et al., ICLR 2025): ``drop`` (paper, Algorithm 1), ``strategyq`` and
``normalize`` (quoters of their code release). All real-valued shares are
computed in exact fractions and rounded by largest remainder.

A new quota is one file here exposing ``QUOTA`` (a
:class:`~pipeline.select.base.Quota`), one name in :data:`BUILTIN`, and one
test; your own: :func:`pipeline.select.catalog.register_quota` or an entry
point in the group ``prune.quotas``.
"""

from __future__ import annotations

from pipeline.select.quotas import balanced, drop, none, normalize, proportional, strategyq
from pipeline.select.quotas._common import select_with_quota, water_fill
from pipeline.select.quotas.balanced import quota_balanced
from pipeline.select.quotas.drop import DROP_FLOOR, quota_drop
from pipeline.select.quotas.normalize import quota_normalize
from pipeline.select.quotas.proportional import quota_proportional
from pipeline.select.quotas.strategyq import quota_like

#: The built-in quotas, in the order `--help` and `--list` show them.
BUILTIN = tuple(m.QUOTA for m in (none, proportional, balanced, drop, strategyq, normalize))

__all__ = ["BUILTIN", "quota_proportional", "quota_balanced", "quota_drop", "quota_like", "quota_normalize",
           "water_fill", "select_with_quota", "DROP_FLOOR"]
