"""Every `prune ...` command line in README.md and docs/*.md parses: its subcommand exists and every option it
names is one that subcommand takes, with a value it accepts. Python blocks compile. (README's and docs/api.md's
Python blocks also run: tests/cli/test_examples.py; the whole pipeline runs end to end in tests/cli/test_cli.py.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from pipeline.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path):
    """(language, text, first line number) of each fenced block."""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if m:
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            yield m.group(1), "\n".join(lines[i + 1:j]), i + 2
            i = j
        i += 1


def command_lines():
    """Every prune command line of the docs (continuations joined, comments cut), with where it stands."""
    for path in DOCS:
        for lang, text, start in blocks(path):
            if lang not in ("", "bash", "sh"):
                continue
            for k, line in enumerate(text.replace("\\\n", " ").splitlines()):
                if not line.lstrip().startswith(("prune ", "torchrun ")):
                    continue  # prose, diagrams, other tools
                words = shlex.split(line, comments=True)
                if "--" in words and words[:1] == ["torchrun"]:  # torchrun ... -m pipeline.cli -- SUBCOMMAND ...
                    words = ["prune", *words[words.index("--") + 1:]]
                if len(words) < 2 or words[0] != "prune" or "..." in words:
                    continue
                yield pytest.param(words[1:], id=f"{path.name}:{start + k}:{' '.join(words[1:3])}")


@pytest.mark.parametrize("args", list(command_lines()))
def test_a_documented_command_parses(args):
    root = typer.main.get_command(app)
    name, rest = args[0], args[1:]
    assert name in root.commands, f"prune has no command {name!r}"
    try:
        root.commands[name].make_context(name, list(rest))
    except Exception as err:  # click's errors (Typer may carry its own copy of click: matched by name)
        if type(err).__name__ == "MissingParameter":
            return  # a command shown with some of its options (the rest said in the prose around it)
        pytest.fail(f"prune {' '.join(args)}: {type(err).__name__}: {err}")


def test_there_are_documented_commands():
    assert len(list(command_lines())) > 60


@pytest.mark.parametrize("path,text,start", [pytest.param(p, t, s, id=f"{p.name}:{s}") for p in DOCS
                                             for lang, t, s in blocks(p) if lang == "python"])
def test_a_documented_python_block_compiles(path, text, start):
    compile(text, f"{path.name}:{start}", "exec")
