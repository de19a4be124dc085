"""One registry shape for every kind of method: scores, samplers, quotas, dynamic rules, models, data sets.

The ground floor of the package (it imports only :mod:`pipeline.io.errors`,
never torch): every kind keeps its entries in a :class:`Registry`, and every
entry declares its options as :class:`Option` objects. What a user sees of a
method is generated from them, written once:

- the CLI's ``--help`` text (:meth:`Registry.help`, :meth:`Registry.option_help`),
  ``--list`` and the unknown-name errors (:meth:`Registry.get`);
- the generic ``--opt KEY=VALUE`` flag, which reaches any option an entry
  declares, a plugin's included (:meth:`Option.parse`);
- the API's keyword checks and the sweep's axes (:meth:`Option.check`).

Built-in entries register when the package that owns the kind is imported;
installed plugins come in through the entry-point group the registry names
(``prune.samplers``, ``prune.quotas``, ``prune.scores``, ``prune.dynamic``,
``prune.models``, ``prune.data``), loaded the first time a name is not found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Iterator, Mapping, TypeVar

from pipeline.io.errors import PruneError


@dataclass(frozen=True)
class ByRate:
    """A default that depends on the pruning rate (CCS's β): ``fn(rate)``; ``text`` says how, for help."""

    fn: Callable[[float], Any]
    text: str

    def __call__(self, rate: float) -> Any:
        return self.fn(rate)


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a word"}


@dataclass(frozen=True)
class Option:
    """One option of a method: its name, default, type and range, and a line of help in the user's words.

    ``type`` is one of bool, int, float, str; ``choices`` (for str) or
    ``low``/``high`` (for numbers; ``low_open``/``high_open`` exclude the
    bound) limit the values; ``none_ok`` lets None stand for "the method's own
    choice" (RCAP's clip). A value is checked the same way whether it came from
    a flag, ``--opt KEY=VALUE``, a sweep axis or a keyword of the API.
    """

    name: str
    default: Any = None
    help: str = ""
    type: type = float
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    none_ok: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def default_at(self, rate: float | None) -> Any:
        """The default, a rate-dependent one evaluated at ``rate``."""
        return self.default(rate) if isinstance(self.default, ByRate) else self.default

    def shown_default(self) -> str:
        d = self.default
        if isinstance(d, ByRate):
            return d.text
        return "none" if d is None else str(d).lower() if isinstance(d, bool) else str(d)

    def _range(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        word = _TYPE_WORDS[self.type]
        if self.low is not None and self.high is not None:
            return (f"{word} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{word} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{word} {'<' if self.high_open else '<='} {self.high:g}"
        return word

    def check(self, value: Any, owner: str = "") -> Any:
        """``value`` as this option's type, or one line saying what it must be (no silent conversion)."""
        where = f" of {owner}" if owner else ""
        if value is None:
            if self.none_ok:
                return None
            raise PruneError(f"{self.flag}{where} must be {self._range()}, got None")
        t = self.type
        ok = (isinstance(value, bool) if t is bool else
              isinstance(value, int) and not isinstance(value, bool) if t is int else
              isinstance(value, (int, float)) and not isinstance(value, bool) if t is float else
              isinstance(value, str))
        if not ok:
            if t is float and _is_np_number(value):
                value = float(value)
            elif t is int and _is_np_integer(value):
                value = int(value)
            else:
                raise PruneError(f"{self.flag}{where} must be {self._range()}, got {value!r}")
        if t is float:
            value = float(value)
            if not math.isfinite(value):
                raise PruneError(f"{self.flag}{where} must be {self._range()}, got {value}")
        if self.choices and value not in self.choices:
            raise PruneError(f"{self.flag}{where} must be {self._range()}, got {value!r}")
        if t in (int, float):
            if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
                raise PruneError(f"{self.flag}{where} must be {self._range()}, got {value}")
            if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
                raise PruneError(f"{self.flag}{where} must be {self._range()}, got {value}")
        return value

    def parse(self, text: str, owner: str = "") -> Any:
        """A value typed on the command line (``--opt KEY=VALUE``), as this option's type, checked."""
        text = text.strip()
        if self.none_ok and text.lower() in ("none", "default"):
            return None
        try:
            if self.type is bool:
                low = text.lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value: Any = low in ("true", "1", "yes")
            elif self.type is int:
                value = int(text)
            elif self.type is float:
                value = float(text)
            else:
                value = text
        except ValueError:
            where = f" of {owner}" if owner else ""
            raise PruneError(f"{self.flag}{where} must be {self._range()}, got {text!r}") from None
        return self.check(value, owner)


def _is_np_number(v: Any) -> bool:
    return type(v).__module__ == "numpy" and hasattr(v, "dtype") and v.dtype.kind in "iuf"


def _is_np_integer(v: Any) -> bool:
    return type(v).__module__ == "numpy" and hasattr(v, "dtype") and v.dtype.kind in "iu"


def options_from(defaults: Mapping[str, Any], helps: Mapping[str, str] | None = None) -> tuple[Option, ...]:
    """Options inferred from plain defaults (a plugin's ``defaults={"alpha": 0.5}``): the type is the default's."""
    out = []
    for name, d in defaults.items():
        t = type(d) if isinstance(d, (bool, int, float, str)) else float
        out.append(Option(name, d, (helps or {}).get(name, ""), type=t, none_ok=d is None))
    return tuple(out)


def parse_opts(items: Iterable[str] | None, flag: str = "--opt") -> dict[str, str]:
    """``["k=5", "alpha=0.1"]`` → {"k": "5", "alpha": "0.1"}: the raw text of each ``KEY=VALUE``."""
    out: dict[str, str] = {}
    for item in items or ():
        key, eq, value = str(item).partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key or not key.isidentifier():
            raise PruneError(f"{flag} takes KEY=VALUE (e.g. {flag} k=5), got {item!r}")
        if key in out:
            raise PruneError(f"{flag} gives {key} twice")
        out[key] = value
    return out


E = TypeVar("E")


class Registry(Generic[E]):
    """The entries of one kind by name, with installed plugins from an entry-point group.

    ``name_of(entry)`` and ``options_of(entry)`` read an entry's name and
    options, so any frozen dataclass can be an entry; ``check(entry)`` runs
    the kind's own checks before an entry is added.
    """

    def __init__(self, kind: str, group: str, *, flag: str, name_of: Callable[[E], str] = lambda e: e.name,
                 options_of: Callable[[E], Iterable[Option]] = lambda e: e.options,
                 summary_of: Callable[[E], str] = lambda e: getattr(e, "summary", ""),
                 check: Callable[[E], None] | None = None, adapt: Callable[[str, Any], E] | None = None,
                 unknown: str = "unknown {flag} {name!r}; choose one of: {names}"):
        self.kind, self.group, self.flag, self.unknown = kind, group, flag, unknown
        self._name_of, self._options_of, self._summary_of = name_of, options_of, summary_of
        self._check, self._adapt = check, adapt
        self._entries: dict[str, E] = {}
        self._builtin: set[str] = set()
        self._plugins_loaded = False

    # ------------------------------------------------------------------ adding and finding
    def register(self, entry: E, *, replace: bool = False, builtin: bool = False) -> E:
        name = self._name_of(entry)
        if not (isinstance(name, str) and name and name == name.strip() and " " not in name):
            raise ValueError(f"a {self.kind} name is one word, got {name!r}")
        if self._check is not None:
            self._check(entry)
        if name in self._entries and (not replace or name in self._builtin):
            what = "built-in" if name in self._builtin else "registered"
            raise ValueError(f"a {self.kind} named {name!r} is {what}; "
                             + ("register yours under another name" if what == "built-in" else "pass replace=True"))
        self._entries[name] = entry
        if builtin:
            self._builtin.add(name)
        return entry

    @property
    def builtin(self) -> frozenset[str]:
        return frozenset(self._builtin)

    def unregister(self, name: str) -> E:
        """Remove a registered entry (a test's, a session's); built-in entries stay."""
        if name in self._builtin:
            raise ValueError(f"the {self.kind} {name!r} is built-in and cannot be removed")
        if name not in self._entries:
            raise KeyError(f"no {self.kind} named {name!r} is registered")
        return self._entries.pop(name)

    pop = unregister

    def snapshot(self) -> dict[str, E]:
        """The entries now, for :meth:`restore` (a test that registers its own puts the registry back)."""
        return dict(self._entries)

    def restore(self, snapshot: Mapping[str, E]) -> None:
        self._entries = dict(snapshot)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or (isinstance(name, str) and self._plugin(name) is not None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> E:
        return self.get(name)

    def values(self):
        return self._entries.values()

    def items(self):
        return self._entries.items()

    def keys(self):
        return self._entries.keys()

    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> E:
        """An entry by name: built-in, registered, or an installed plugin; one line listing the valid names if none."""
        if name in self._entries:
            return self._entries[name]
        entry = self._plugin(name) if isinstance(name, str) else None
        if entry is not None:
            return entry
        raise PruneError(self.unknown.format(flag=self.flag, name=name, names=", ".join(self._entries)))

    def load_plugins(self, *, skip_broken: bool = False) -> list[str]:
        """Register every installed plugin of this kind (``--list`` and ``--help`` show them; a lookup by name
        loads one); returns their names. ``skip_broken``: a plugin that fails to load is left out (its own
        one line comes when it is asked for by name) instead of stopping the caller."""
        from importlib.metadata import entry_points

        loaded = []
        for ep in entry_points(group=self.group):
            if ep.name in self._entries:
                continue
            try:
                if self._plugin(ep.name) is not None:
                    loaded.append(ep.name)
            except PruneError:
                if not skip_broken:
                    raise
        return loaded

    def _plugin(self, name: str) -> E | None:
        """The entry point ``name`` of this kind's group, loaded and registered (None if there is none)."""
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            if ep.name != name:
                continue
            try:
                obj = ep.load()
            except Exception as err:  # a broken plugin is the plugin's error, said in one line
                raise PruneError(f"{self.kind} plugin {name!r} ({ep.value}) failed to load: {err}") from None
            if self._adapt is not None:
                obj = self._adapt(name, obj)
            try:
                return self.register(obj)
            except (TypeError, ValueError) as err:
                raise PruneError(f"{self.kind} plugin {name!r} ({ep.value}): {err}") from None
        return None

    # ------------------------------------------------------------------ options
    def options(self, name: str) -> dict[str, Option]:
        return {o.name: o for o in self._options_of(self.get(name))}

    def all_options(self) -> dict[str, Option]:
        """Every option any entry declares, by name (the first declaration where several share one)."""
        out: dict[str, Option] = {}
        for _, o in self.declarations():
            out.setdefault(o.name, o)
        return out

    def readers(self, option: str) -> list[str]:
        """The entries that declare ``option``."""
        return [n for n, o in self.declarations() if o.name == option]

    def parse_opts(self, name: str, raw: Mapping[str, str], flag: str = "--opt") -> dict[str, Any]:
        """``--opt KEY=VALUE`` texts for entry ``name``, each parsed by the option it names."""
        known = self.options(name)
        out = {}
        for key, text in raw.items():
            if key not in known:
                takes = ", ".join(known) or "no options"
                raise PruneError(f"{flag} {key}=…: {self.flag} {name} has no option {key!r} (it takes {takes})")
            out[key] = known[key].parse(text, f"{self.flag} {name}")
        return out

    # ------------------------------------------------------------------ help
    def help(self) -> str:
        """Every entry with its summary: "a: …; b: …"."""
        return "; ".join(f"{n}: {self._summary_of(e)}" for n, e in self._entries.items())

    def declarations(self) -> Iterator[tuple[str, Option]]:
        """(entry name, Option) for every option every entry declares."""
        for n, e in self._entries.items():
            for o in self._options_of(e):
                yield n, o

    def option_help(self, option: str, what: str | None = None, *, defaults: bool = True) -> str:
        """Help of an option some entries read (see :func:`option_help`)."""
        return option_help(self.declarations(), option, what, defaults=defaults)

    def listing(self) -> list[tuple[str, str, str]]:
        """(name, summary, options with defaults) per entry, for ``--list``."""
        rows = []
        for n, e in self._entries.items():
            opts = ", ".join(f"{o.name}={o.shown_default()}" for o in self._options_of(e))
            rows.append((n, self._summary_of(e), opts))
        return rows


def option_help(declared: Iterable[tuple[str, Option]], option: str, what: str | None = None, *,
                defaults: bool = True) -> str:
    """Help of an option some methods declare: "ccs, d2: <what> (default: ccs …; d2 0.0)."

    ``declared`` is (method name, Option) for every declaration there is;
    ``what`` is the option's own help, as its first declaration writes it,
    unless given. A default of None means the method's own choice, which the
    option's help says in words: only the other defaults are shown.
    """
    decl = [(n, o) for n, o in declared if o.name == option]
    if what is None:
        what = decl[0][1].help if decl else ""
    text = f"{', '.join(n for n, _ in decl) or 'no method'}: {what}"
    shown = {n: o.shown_default() for n, o in decl if o.default is not None}
    if defaults and shown:
        if len(set(shown.values())) == 1 and len(shown) == len(decl):
            text += f" (default {next(iter(shown.values()))})"
        else:
            text += " (default: " + "; ".join(f"{n} {v}" for n, v in shown.items()) + ")"
    return text + "."


def opt_help(kind: str, unflagged: Mapping[str, list[str]] | None = None) -> str:
    """The help of a stage's generic ``--opt`` flag; ``unflagged``: option -> the entries declaring it, for the
    options that have no flag of their own (a plugin's, or a rarely changed one)."""
    text = (f"An option of the {kind} as KEY=VALUE, repeatable (e.g. --opt k=5): reaches every option the "
            f"{kind} declares, a plugin's included; `--list` shows them with their defaults")
    if unflagged:
        text += ". With no flag of their own: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in unflagged.items())
    return text + "."


def unflagged(entries: Iterable[Any], flags: Iterable[str]) -> dict[str, list[str]]:
    """The options of ``entries`` that no flag in ``flags`` (option names) covers, with who declares them."""
    covered = set(flags)
    out: dict[str, list[str]] = {}
    for e in entries:
        for o in e.options:
            if o.name not in covered:
                out.setdefault(o.name, []).append(e.name)
    return out


@dataclass(frozen=True)
class Needs:
    """What the entries of one kind may read besides their options (a plugin declaring another need is refused)."""

    known: tuple[str, ...]
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # need -> the flags that provide it

    def check(self, kind: str, name: str, needs: Iterable[str]) -> None:
        unknown = [n for n in needs if n not in self.known]
        if unknown:
            raise ValueError(f"{kind} {name!r} needs {', '.join(unknown)}; it can read: {', '.join(self.known)}")
