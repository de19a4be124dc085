"""Dynamic pruning rules (``prune train --dynamic NAME --rate R``): one file, one registry entry and one test each.

Every rule re-selects the training samples from the full training set every
epoch:

- ``rs2`` (:mod:`.rs2`): a fresh random subset each epoch (Okanovic et al.,
  ICLR 2024).
- ``rcap`` (:mod:`.rcap`): class budgets from class loss mass, high-loss
  samples sampled first (Hassan et al., UAI 2025).
- ``infobatch`` (:mod:`.infobatch`): drop part of the below-mean-loss samples
  and rescale the rest (Qin et al., ICLR 2024).

A rule's file holds its plan class (a :class:`pipeline.engine.plans.DynamicPlan`:
the engine owns the mechanism, the rule only chooses), the pure array
functions it is made of, and its one :class:`DynamicRule` entry in
:data:`DYNAMIC` (:mod:`.registry`). Importing this package registers the
built-in rules; installed plugins come in through the entry-point group
``prune.dynamic``. torch is imported only by the methods that use it.
"""

from pipeline.train.dynamic.registry import (
    DYNAMIC,
    DynamicRegistry,
    DynamicRule,
    Family,
    dynamic_help,
    get_dynamic,
    option_readers,
    register_dynamic,
)
from pipeline.train.dynamic.rs2 import RS2Plan  # noqa: E402 - each import registers its rule
from pipeline.train.dynamic.rcap import RCAP_BETA, RCAPPlan, rcap_budgets, rcap_probabilities, sample_by_class
from pipeline.train.dynamic.infobatch import INFOBATCH_DELTA, INFOBATCH_MAX_RATE, InfoBatchPlan, infobatch_selection

__all__ = [
    "DYNAMIC", "DynamicRegistry", "DynamicRule", "Family", "dynamic_help", "get_dynamic", "option_readers",
    "register_dynamic", "RS2Plan", "RCAP_BETA", "RCAPPlan", "rcap_budgets", "rcap_probabilities", "sample_by_class",
    "INFOBATCH_DELTA", "INFOBATCH_MAX_RATE", "InfoBatchPlan", "infobatch_selection",
]
