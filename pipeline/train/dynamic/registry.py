"""The shape of a dynamic pruning rule and the registry of them (``prune train --dynamic NAME``).

A rule is one :class:`DynamicRule` entry: the plan class that does the work
(a :class:`pipeline.engine.plans.DynamicPlan`), a summary and a paper, its
options as :class:`pipeline.registry.Option` objects, and the rates and
budgets it accepts. Entries live in :data:`DYNAMIC`, a
:class:`pipeline.registry.Registry` whose installed plugins come in through
the entry-point group ``prune.dynamic``. Everything the command line shows of
a rule (``--dynamic``'s help, the help of the flags that set its options, the
generic ``--opt KEY=VALUE``) and every check of a value given to it comes
from the entry.

A *family* names rules by a pattern instead of one by one: ``SCORE+SAMPLER``
(``tdds+ccs``) builds a rule from a registered score and sampler when the name
is asked for (:meth:`DynamicRegistry.add_family`). The family is added by the
package that can build it (``pipeline.api.composite``, which needs both the
score and select stages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from pipeline.engine.plans import DynamicPlan
from pipeline.io.errors import PruneError
from pipeline.registry import Option, Registry, options_from


@dataclass(frozen=True)
class DynamicRule:
    """A dynamic pruning rule (``prune train --dynamic NAME``) and what it takes.

    ``plan`` is built as ``plan(targets, rate, num_classes=C, epochs=E,
    **values)``, with ``values`` every option's default overridden by what the
    user gave (checked by the option). ``options`` are :class:`Option`
    objects (a mapping of plain defaults, ``{"alpha": 0.5}``, is read as
    options of the defaults' types). ``max_rate``/``rate_note`` and
    ``budgets``/``budget_note`` limit the ``--rate`` and ``--budget`` it
    accepts (and say why); ``rate_of`` names what ``--rate`` is a fraction of
    when it is not every sample (then the samples per epoch vary).
    """

    name: str
    plan: type[DynamicPlan]
    summary: str  # one phrase, shown by `prune train --help`
    paper: str
    options: tuple[Option, ...] = ()
    max_rate: float | None = None
    rate_note: str = ""
    budgets: tuple[str, ...] | None = None  # None: every --budget
    budget_note: str = ""
    rate_of: str | None = None

    def __post_init__(self):
        if isinstance(self.options, Mapping):
            object.__setattr__(self, "options", options_from(self.options))
        else:
            object.__setattr__(self, "options", tuple(self.options))

    @property
    def defaults(self) -> dict[str, Any]:
        """Every option's name and default."""
        return {o.name: o.default for o in self.options}

    def option(self, name: str) -> Option:
        for o in self.options:
            if o.name == name:
                return o
        raise KeyError(name)

    def resolve(self, given: Mapping[str, Any], rate: float | None = None) -> dict[str, Any]:
        """Its option values: the defaults, then those ``given`` (None: not given), each checked by its option.

        A name it does not declare is skipped here (:meth:`build` and
        ``prune train`` refuse it, naming the rules that read it).
        """
        out = {o.name: o.default_at(rate) for o in self.options}
        for o in self.options:
            value = given.get(o.name)
            if value is not None:
                out[o.name] = o.check(value, f"--dynamic {self.name}")
        return out

    def check_rate(self, rate: float, budget: str | None = None) -> None:
        """The rates (and ``--budget``, if given) it accepts: one line each, saying why."""
        if not 0 < rate < 1:
            raise PruneError(f"--rate must be in (0, 1), got {rate}")
        if self.max_rate is not None and rate > self.max_rate:
            raise PruneError(f"--dynamic {self.name} {self.rate_note}; --rate must be at most {self.max_rate}, got {rate}")
        if budget is not None and self.budgets is not None and budget not in self.budgets:
            raise PruneError(f"--dynamic {self.name} {self.budget_note}; only --budget {' or '.join(self.budgets)} "
                             f"applies to it")

    def build(self, targets: np.ndarray, rate: float, *, num_classes: int | None = None, epochs: int | None = None,
              **given: Any) -> DynamicPlan:
        """The plan of this rule, its options filled in from the defaults."""
        unknown = sorted(set(given) - {o.name for o in self.options})
        if unknown:
            raise PruneError(f"--dynamic {self.name} takes no {', '.join(unknown)} "
                             f"(it takes {', '.join(o.name for o in self.options) or 'no options'})")
        self.check_rate(rate)
        return self.plan(targets, rate, num_classes=num_classes, epochs=epochs, **self.resolve(given, rate))


@dataclass(frozen=True)
class Family:
    """Rules named by a pattern (``SCORE+SAMPLER``), built when a name of that shape is asked for.

    ``resolve(name)`` returns the rule, or None for a name of another shape;
    ``options`` are those every rule of the family declares (a rule may
    declare more: a composed rule takes its score's and sampler's own too).
    """

    pattern: str  # "SCORE+SAMPLER"
    example: str  # "tdds+ccs"
    summary: str
    resolve: Callable[[str], DynamicRule | None]
    options: tuple[Option, ...] = ()

    @property
    def label(self) -> str:
        """How help and errors name the family: "SCORE+SAMPLER (e.g. tdds+ccs)"."""
        return f"{self.pattern} (e.g. {self.example})"


def _check(rule: Any) -> None:
    if not isinstance(rule, DynamicRule):
        raise TypeError(f"expected a DynamicRule, got {type(rule).__name__}")
    if not (isinstance(rule.plan, type) and issubclass(rule.plan, DynamicPlan)):
        raise TypeError(f"dynamic rule {rule.name!r}: plan must be a DynamicPlan subclass")
    names = [o.name for o in rule.options if isinstance(o, Option)]
    if len(names) != len(rule.options):
        raise TypeError(f"dynamic rule {rule.name!r}: options must be pipeline.registry.Option objects")
    bad = [n for n in names if not n.isidentifier()]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"dynamic rule {rule.name!r}: option names must be distinct identifiers, got {names}")


def _adapt(name: str, obj: Any) -> Any:
    """An entry point of ``prune.dynamic`` names a DynamicRule of the same name."""
    if isinstance(obj, DynamicRule) and obj.name != name:
        raise PruneError(f"dynamic rule plugin {name!r} names a rule called {obj.name!r}; "
                         "the entry point and the rule must have the same name")
    return obj


class DynamicRegistry(Registry[DynamicRule]):
    """:class:`pipeline.registry.Registry` of dynamic rules, plus the families that build rules by pattern."""

    def __init__(self):
        super().__init__("dynamic rule", "prune.dynamic", flag="--dynamic", check=_check, adapt=_adapt)
        self.families: list[Family] = []

    def register(self, entry: DynamicRule, *, replace: bool = False, builtin: bool = False) -> DynamicRule:
        _check(entry)  # before the name is read: anything but a DynamicRule is a TypeError that says so
        return super().register(entry, replace=replace, builtin=builtin)

    def add_family(self, family: Family) -> Family:
        """Add (or replace, by pattern) a family of rules named by a pattern."""
        self.families = [f for f in self.families if f.pattern != family.pattern] + [family]
        return family

    def get(self, name: str) -> DynamicRule:
        """A rule by name (built-in, registered or installed), else one a family builds from the name."""
        if isinstance(name, str) and (name in self._entries or self._plugin(name) is not None):
            return self._entries[name]  # (a plugin that fails to load says so in its own line)
        for family in self.families:
            rule = family.resolve(name) if isinstance(name, str) else None
            if rule is not None:
                return rule
        composed = "".join(f" or {f.label}" for f in self.families)
        raise PruneError(f"unknown --dynamic method {name!r}; choose one of: {', '.join(self._entries)}{composed}")

    # -- options: the rules' and the families' -------------------------------------------
    def declarations(self) -> Iterable[tuple[str, Option]]:
        """The rules' option declarations, then the families' (named by their label)."""
        yield from super().declarations()
        for f in self.families:
            for o in f.options:
                yield f.label, o

    def help(self) -> str:
        """Every rule and family with its summary: "rs2 (…), rcap (…), infobatch (…), SCORE+SAMPLER (…)"."""
        rules = [f"{n} ({e.summary})" for n, e in self._entries.items()]
        return ", ".join(rules + [f"{f.pattern} ({f.summary}, e.g. {f.example})" for f in self.families])


#: Dynamic pruning rules by name (``prune train --dynamic``, :class:`pipeline.DynamicSampler`).
DYNAMIC = DynamicRegistry()


def register_dynamic(rule: DynamicRule, *, replace: bool = False) -> DynamicRule:
    """Add a dynamic pruning rule (``prune train --dynamic``, ``DynamicSampler``)."""
    return DYNAMIC.register(rule, replace=replace)


def get_dynamic(name: str) -> DynamicRule:
    """A rule by name (built-in, registered, installed plugin, or of a family); one line naming them if none."""
    return DYNAMIC.get(name)


def dynamic_help() -> str:
    """Every rule with its summary, for ``--dynamic``'s help."""
    return DYNAMIC.help()


def option_readers(option: str) -> list[str]:
    """The rules (and families) that read ``option``."""
    return DYNAMIC.readers(option)
