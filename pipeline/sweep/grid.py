"""A sweep's grid: which cells to run, from command-line lists or a small TOML file.

A **cell** is one selection protocol: a score table, a sampler, a class quota,
a pruning rate and the hyper-parameters that `prune report` chooses by
validation (the sampler's β and γ, where the DRoP quota reads its class
recalls), trained under one budget with or without CDB-W; the ``full`` cell is training on every sample. Each cell runs once per
seed, and the seed is both the selection's seed (random subsets, CCS's draws
inside a stratum) and the training seed, so the spread over seeds is the one
papers report.

TOML (``prune sweep --config sweep.toml``)::

    name = "closing"                 # optional, like --name
    epochs = 40                      # optional, like --epochs
    rates = [0.3, 0.5, 0.7, 0.9]
    seeds = [0, 1, 2]
    full = true                      # the full-data reference cells (default true)
    full_budgets = [0.1, 0.3]        # optional: full data trained for these fractions of the epochs

    [[grid]]                         # each [[grid]] is a grid of its own; the cells are their union
    methods = ["random"]
    quotas = ["none", "drop"]

    [[grid]]
    scores = ["tdds", "aum"]
    methods = ["ccs"]
    beta = [0.0, 0.1, 0.2, 0.3]      # a hyper-parameter `prune report` chooses by validation accuracy

A score or a sampler may carry its own options, ``aum:space=prob`` or
``mine:alpha=0.3``: each such spelling is one value of the axis.

Keys of a grid: ``scores``, ``methods``, ``quotas``, ``rates``, ``beta``,
``gamma``, ``recalls``, ``keep``, ``budgets``, ``cdbw``, ``dynamic``, ``rcap_beta``; a key at
the top level is the default of every grid (with no ``[[grid]]`` the top level
is the one grid). ``beta`` and ``gamma`` multiply only the cells of samplers
that read them (ccs and d2; d2), ``recalls`` only those of quotas that read
class recalls (drop), ``rcap_beta`` (RCAP's temperature) only the ``rcap`` dynamic cells.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from pipeline.cliutil import option_value
from pipeline.io import PruneError

GRID_KEYS = ("scores", "methods", "quotas", "rates", "beta", "gamma", "recalls", "keep", "budgets", "cdbw", "dynamic",
             "rcap_beta")
TOP_KEYS = ("name", "epochs", "seeds", "full", "full_budgets", "grid")
DEFAULTS: dict[str, list] = {"scores": ["tdds"], "methods": ["ccs", "random"], "quotas": ["none"],
                             "rates": [0.3, 0.5, 0.7, 0.9], "beta": [None], "gamma": [None], "recalls": [None],
                             "keep": ["hard"], "budgets": ["epochs"], "cdbw": [False], "dynamic": [],
                             "rcap_beta": [None]}
#: Where `--quota drop` reads each class's validation recall (``prune select --recalls``).
RECALLS = ("final", "best", "mean")
DYNAMIC_PREFIX = "dynamic:"  # a dynamic-pruning cell's method: "dynamic:<rule>" (prune train --dynamic RULE)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
#: a score table of the grid: a method, optionally with options, ``aum:space=prob``, ``tdds:window=5:decay=0.8``
SCORE_SPEC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*(:[A-Za-z_][A-Za-z0-9_-]*=[A-Za-z0-9._+-]+)*$")


def parse_score(spec: str) -> tuple[str, dict[str, Any]]:
    """``"aum:space=prob"`` → ("aum", {"space": "prob"}); numbers become numbers, true/false booleans."""
    name, *opts = spec.split(":")
    params: dict[str, Any] = {}
    for o in opts:
        k, _, v = o.partition("=")
        params[k.replace("-", "_")] = option_value(v)
    return name, params


def _option_text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)


def score_for(spec: str, score_options: Mapping[str, Mapping[str, Any]]) -> str:
    """The score spec a sampler reads: ``spec`` with the sampler's own options for that score where ``spec``
    sets none (CCS reads ``aum`` as ``aum:space=prob``; ``aum:space=logit`` stays as given)."""
    name, params = parse_score(spec)
    extra = [f":{k}={_option_text(v)}" for k, v in score_options.get(name, {}).items() if k not in params]
    return spec + "".join(extra)


def score_label(spec: str) -> str:
    """How tables name a score spec: ``aum``, ``aum (space=prob)``."""
    name, _, opts = spec.partition(":")
    return name if not opts else f"{name} ({opts.replace(':', ', ')})"


def score_file_stem(spec: str) -> str:
    """The table's name in RUN/scores/ for a score spec: ``aum`` or ``aum.space=prob``."""
    return spec.replace(":", ".")


@dataclasses.dataclass(frozen=True, order=True)
class Cell:
    """One selection protocol of the grid (all seeds share it). ``method == "full"``: all samples."""

    method: str
    score: str | None = None  # None: the sampler reads no scores (random) or full data
    quota: str = "none"
    rate: float | None = None
    beta: float | None = None  # None: the sampler's default (CCS: by rate)
    gamma: float | None = None  # None: the sampler's default (D2: 0.1)
    recalls: str | None = None  # where the quota reads class recalls; None: select's default (mean)
    keep: str = "hard"
    budget: str = "epochs"
    cdbw: bool = False
    #: a full-data cell trained for this fraction of the epochs, its schedule shortened to match (``--full-budgets``):
    #: the budget-matched baseline a pruned training must beat (None: all epochs)
    epochs_fraction: float | None = None

    @property
    def full(self) -> bool:
        return self.method == "full"

    @property
    def dynamic(self) -> str | None:
        """The rule of a dynamic-pruning cell (``prune train --dynamic RULE --rate R``), else None."""
        return self.method[len(DYNAMIC_PREFIX):] if self.method.startswith(DYNAMIC_PREFIX) else None

    @property
    def id(self) -> str:
        """A folder name that says what the cell is: ``tdds+ccs-none-r0.5-beta0.1``, ``random-drop-r0.9``,
        ``aum+d2-none-r0.5-gamma0.5``, ``random-drop-r0.9-recalls-final``, ``full``: a hyper-parameter only when set."""
        if self.full:
            words = ["full"] + ([] if self.epochs_fraction is None else [f"e{self.epochs_fraction:g}"])
        elif self.dynamic is not None:
            words = [f"dyn-{self.dynamic}", f"r{self.rate:g}"] + ([] if self.beta is None else [f"beta{self.beta:g}"])
        else:
            method = score_file_stem(self.method)  # a sampler's own options: mine.alpha=0.3
            words = [method if self.score is None else f"{score_file_stem(self.score)}+{method}", self.quota,
                     f"r{self.rate:g}"]
            if self.beta is not None:
                words.append(f"beta{self.beta:g}")
            if self.gamma is not None:
                words.append(f"gamma{self.gamma:g}")
            if self.recalls is not None:
                words.append(f"recalls-{self.recalls}")
            if self.keep != "hard":
                words.append(f"keep-{self.keep}")
        if self.budget != "epochs":
            words.append(self.budget)
        if self.cdbw:
            words.append("cdbw")
        return "-".join(words)

    @property
    def label(self) -> str:
        """How the sweep's table names the cell's method (without rate, β and seed; γ and recalls when set)."""
        if self.full:
            base = "full data" + ("" if self.epochs_fraction is None else
                                  f", {self.epochs_fraction:g} of the epochs")
        elif self.dynamic is not None:
            base = f"{self.dynamic} (dynamic)"
        else:
            method = score_label(self.method)
            base = method if self.score is None else f"{score_label(self.score)} + {method}"
            if self.keep != "hard":
                base += f" (keep {self.keep})"
            if self.quota != "none":
                base += f" + {self.quota}"
            given = []
            if self.gamma is not None:
                given.append(f"γ={self.gamma:g}")
            if self.recalls is not None:
                given.append(f"recalls {self.recalls}")
            if given:
                base += f" ({', '.join(given)})"
        return base + ("" if self.budget == "epochs" else f", {self.budget}") + (", cdbw" if self.cdbw else "")

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Spec:
    """What `prune sweep` runs: cells × seeds, trained for ``epochs`` (None: the run's)."""

    name: str
    cells: list[Cell]
    seeds: list[int]
    epochs: int | None
    preset: dict[str, Any] | None = None  # a paper preset's record (sweep.json keeps it for `prune report`)

    def units(self) -> list[tuple[Cell, int]]:
        return [(c, s) for c in self.cells for s in self.seeds]


# -------------------------------------------------------------------------- parsing

def split_list(spec: str | None, what: str) -> list[str] | None:
    """``"a,b"`` → ["a", "b"]; None stays None (not given)."""
    if spec is None:
        return None
    items = [x.strip() for x in str(spec).split(",") if x.strip()]
    if not items:
        raise PruneError(f"--{what} names nothing: {spec!r}")
    return items


def _floats(items: Iterable, what: str, *, allow_default: bool = False) -> list[float | None]:
    out: list[float | None] = []
    for x in items:
        if allow_default and (x is None or (isinstance(x, str) and x.lower() in ("default", "auto"))):
            out.append(None)
            continue
        try:
            v = float(x)
        except (TypeError, ValueError):
            raise PruneError(f"--{what} must be numbers, got {x!r}") from None
        if not math.isfinite(v):
            raise PruneError(f"--{what} must be finite numbers, got {x!r}")
        out.append(v)
    return out


def _ints(items: Iterable, what: str) -> list[int]:
    out = []
    for x in items:
        try:
            v = int(x)
        except (TypeError, ValueError):
            raise PruneError(f"--{what} must be integers, got {x!r}") from None
        if isinstance(x, float) and x != v:
            raise PruneError(f"--{what} must be integers, got {x!r}")
        out.append(v)
    return out


def _bools(items: Iterable, what: str) -> list[bool]:
    out = []
    for x in items:
        if isinstance(x, bool):
            out.append(x)
        elif str(x).lower() in ("on", "true", "yes", "1"):
            out.append(True)
        elif str(x).lower() in ("off", "false", "no", "0"):
            out.append(False)
        else:
            raise PruneError(f"--{what} takes on/off, got {x!r}")
    return out


def _unique(items: list, what: str) -> list:
    if len(set(items)) != len(items):
        raise PruneError(f"--{what} repeats a value: {items}")
    return items


def normalise(axes: dict[str, Any]) -> dict[str, list]:
    """Check and type one grid's axes (lists of strings or TOML values)."""
    out: dict[str, list] = {}
    for key in GRID_KEYS:
        v = axes.get(key, DEFAULTS[key])
        if not isinstance(v, list):
            v = [v]
        if not v and key != "dynamic":
            raise PruneError(f"{key} is empty")
        if key == "rates":
            v = _floats(v, key)
            bad = [r for r in v if not 0 < r < 1]
            if bad:
                raise PruneError(f"--rates are fractions removed, in (0, 1); got {bad[0]:g}")
        elif key == "beta":
            v = _floats(v, key, allow_default=True)
            bad = [b for b in v if b is not None and not 0 <= b < 1]
            if bad:
                raise PruneError(f"--beta must be in [0, 1), got {bad[0]:g}")
        elif key == "gamma":
            v = _floats(v, key, allow_default=True)
            bad = [g for g in v if g is not None and g < 0]
            if bad:
                raise PruneError(f"--gamma must be >= 0, got {bad[0]:g}")
        elif key == "rcap_beta":
            v = _floats(v, key, allow_default=True)
            bad = [b for b in v if b is not None and not b > 0]
            if bad:
                raise PruneError(f"--rcap-beta is RCAP's softmax temperature and must be > 0, got {bad[0]:g}")
        elif key == "recalls":
            v = [None if x is None or str(x).lower() == "default" else str(x) for x in v]
            bad = [x for x in v if x is not None and x not in RECALLS]
            if bad:
                raise PruneError(f"--recalls takes {', '.join(RECALLS)} or default, got {bad[0]!r}")
        elif key == "cdbw":
            v = _bools(v, key)
        else:
            v = [str(x) for x in v]
            bad = [x for x in v if not (SCORE_SPEC if key in ("scores", "methods") else NAME).match(x)]
            if bad:
                raise PruneError(f"--{key}: {bad[0]!r} is not a name")
            if key == "keep" and any(x not in ("hard", "easy") for x in v):
                raise PruneError(f"--keep takes hard and/or easy, got {v}")
            if key == "dynamic":
                from pipeline.api.functions import dynamic_entry  # the API knows the SCORE+SAMPLER rules

                for rule in v:
                    dynamic_entry(rule)  # one line naming the rules for an unknown one
        out[key] = _unique(v, key)
    return out


def expand(axes: dict[str, list], probe) -> list[Cell]:
    """Every cell of one grid.

    ``probe(method)`` says what a sampler reads (``.scores``, ``.beta``, ``.gamma``, ``.score_options``) and
    ``probe.quota(name)`` whether a quota reads class recalls: a sampler that reads no scores (random)
    gets one cell per (quota, rate, ...) instead of one per score table, β and γ only vary for the
    samplers that read them (ccs, d2; d2) and recalls only for the quotas that read them (drop), so a
    value that changes nothing never multiplies the cells.
    """
    quota_reads = getattr(probe, "quota", None)
    cells = []
    for method in axes["methods"]:
        reads = probe(method)
        scored = reads.scores
        # a sampler reads some scores its own way (CCS: AUM in probability space): the cell names the table it reads
        for score in ([score_for(sc, reads.score_options) for sc in axes["scores"]] if scored else [None]):
            for quota in axes["quotas"]:
                recalls_axis = axes["recalls"] if quota_reads is not None and quota_reads(quota) else [None]
                for rate in axes["rates"]:
                    for beta, gamma, recalls in itertools.product(axes["beta"] if reads.beta else [None],
                                                                  axes["gamma"] if reads.gamma else [None],
                                                                  recalls_axis):
                        for keep in axes["keep"] if scored else ["hard"]:
                            for budget in axes["budgets"]:
                                for cdbw in axes["cdbw"]:
                                    cells.append(Cell(method=method, score=score, quota=quota, rate=rate, beta=beta,
                                                      gamma=gamma, recalls=recalls, keep=keep, budget=budget,
                                                      cdbw=cdbw))
    for rule in axes["dynamic"]:  # dynamic pruning: a new subset every epoch, at each rate
        for rate in axes["rates"]:
            for beta in axes["rcap_beta"] if rule == "rcap" else [None]:  # RCAP's temperature, chosen by val
                for cdbw in axes["cdbw"]:
                    cells.append(Cell(method=DYNAMIC_PREFIX + rule, rate=rate, beta=beta, cdbw=cdbw))
    return cells


def full_cells(grids: list[dict[str, list]]) -> list[Cell]:
    """Full-data reference cells: one per (budget=epochs, cdbw) setting the grids use."""
    settings = sorted({c for g in grids for c in g["cdbw"]})
    return [Cell(method="full", cdbw=c) for c in settings]


def _fractions(values) -> list[float]:
    """``--full-budgets``: fractions of the epochs in (0, 1)."""
    if not isinstance(values, (list, tuple)):
        raise PruneError(f"--full-budgets must be a list of fractions in (0, 1), got {values!r}")
    out = []
    for v in values:
        if isinstance(v, str):  # from the command line
            try:
                v = float(v)
            except ValueError:
                pass
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < float(v) < 1.0:
            raise PruneError(f"--full-budgets: each value is a fraction of the epochs in (0, 1), got {v!r}")
        out.append(float(v))
    return out


def read_config(path: Path) -> dict[str, Any]:
    """A sweep TOML file, checked for unknown keys."""
    import tomllib

    try:
        doc = tomllib.loads(Path(path).read_text())
    except OSError as err:
        raise PruneError(f"--config {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise PruneError(f"--config {path} is not UTF-8 text (a TOML file is)") from None
    except tomllib.TOMLDecodeError as err:
        raise PruneError(f"--config {path} is not valid TOML: {err}") from None
    return check_config(doc, f"--config {path}")


def check_config(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """A sweep's configuration (a TOML file's or a preset's), checked for unknown keys; ``where`` names it."""
    unknown = [k for k in doc if k not in (*GRID_KEYS, *TOP_KEYS)]
    if unknown:
        raise PruneError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                         f"known: {', '.join((*TOP_KEYS, *GRID_KEYS))}")
    grids = doc.get("grid", [])
    if not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
        raise PruneError(f"{where}: grid must be a list of tables ([[grid]])")
    for g in grids:
        bad = [k for k in g if k not in GRID_KEYS]
        if bad:
            raise PruneError(f"{where}: unknown key(s) in a [[grid]]: {', '.join(bad)}; "
                             f"known: {', '.join(GRID_KEYS)}")
    return doc


def build_spec(*, given: dict[str, Any], config: Path | None, name: str | None, epochs: int | None,
               seeds: list | None, full: bool | None, probe, preset=None, full_budgets: list | None = None) -> Spec:
    """The sweep from the command line (``given``: axes from flags, None = not given) and/or a TOML file
    or a paper preset (:class:`pipeline.sweep.presets.Preset`), which are the same keys.

    Flags override the file's (or preset's) top level. Cells are deduplicated (two grids may share some).
    """
    if config is not None and preset is not None:
        raise PruneError("give --config or --preset, not both (flags override either)")
    if preset is not None:
        doc = check_config(preset.config(), f"preset {preset.name}")
    else:
        doc = read_config(config) if config is not None else {}
    top = {k: v for k, v in doc.items() if k in GRID_KEYS}
    top.update({k: v for k, v in given.items() if v is not None})
    grids = [normalise({**top, **g}) for g in doc.get("grid", [])] or [normalise(top)]
    name = name or doc.get("name") or "sweep"
    if not isinstance(name, str) or not NAME.match(name):
        raise PruneError(f"--name {name!r} must be a plain folder name (letters, digits, . _ + -)")
    epochs = epochs if epochs is not None else doc.get("epochs")
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise PruneError(f"--epochs must be a positive integer, got {epochs!r}")
    seed_list = _unique(_ints(seeds if seeds is not None else doc.get("seeds", [0]), "seeds"), "seeds")
    if not seed_list:
        raise PruneError("--seeds names no seed")
    cells: dict[str, Cell] = {}
    if full if full is not None else doc.get("full", True):
        for c in full_cells(grids):
            cells[c.id] = c
    fractions = full_budgets if full_budgets is not None else doc.get("full_budgets", [])
    for f in _unique(_fractions(fractions), "full-budgets"):
        c = Cell(method="full", epochs_fraction=f)
        cells[c.id] = c
    for g in grids:
        for c in expand(g, probe):
            cells.setdefault(c.id, c)
    return Spec(name=name, cells=list(cells.values()), seeds=seed_list, epochs=epochs,
                preset=None if preset is None else preset.record_of())
