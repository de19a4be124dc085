"""The stages stand side by side on shared modules (engine, io, data, models) and never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"
STAGES = sorted(p.name for p in PACKAGE.iterdir()
                if p.is_dir() and p.name in {"record", "score", "select", "train", "export", "rounds", "sweep", "report"})
SHARED = ("engine", "io", "data", "models")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function, resolved to absolute names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: -node.level]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def test_the_stages_are_found():
    assert {"record", "score", "select", "train"} <= set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_other_stage(stage):
    offenders = []
    for f in sorted((PACKAGE / stage).rglob("*.py")):
        for mod in imported_modules(f):
            parts = mod.split(".")
            if len(parts) >= 2 and parts[0] == "pipeline" and parts[1] in STAGES and parts[1] != stage:
                offenders.append(f"{f.relative_to(PACKAGE.parent)} imports {mod}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("shared", SHARED)
def test_shared_modules_import_no_stage(shared):
    root = PACKAGE / shared
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]
    offenders = [f"{f.relative_to(PACKAGE.parent)} imports {mod}" for f in files for mod in imported_modules(f)
                 if mod.split(".")[:2][-1] in STAGES and mod.startswith("pipeline.")]
    assert not offenders, "\n".join(offenders)


def test_the_checker_sees_an_import_inside_a_function(tmp_path):
    f = PACKAGE / "record" / "_probe_for_test.py"
    f.write_text("def f():\n    from pipeline.train.run import train\n    from ..score import run\n")
    try:
        mods = imported_modules(f)
    finally:
        f.unlink()
    assert "pipeline.train.run" in mods and "pipeline.score.run" in mods


# ------------------------------------------------------------------ the whole layer order

#: Each top-level module or package of `pipeline` and its floor: a module imports only floors at or below its own,
#: and the stages (floor 4) import no other stage. `registry` and `counts` are the ground floor with `io`; the
#: command line's shared pieces (`cliutil`) sit on the engine (they draw its progress bars).
FLOORS = {
    "io": 0, "registry": 0, "counts": 0, "_callable": 0,
    "data": 1,
    "models": 2,
    "engine": 3, "cliutil": 3,
    "record": 4, "score": 4, "select": 4, "train": 4, "export": 4,
    "api": 5, "rounds": 5, "sweep": 5, "report": 5, "integrations": 5,
    "cli": 6, "demo": 6, "__init__": 6, "__main__": 6,
}


def _floor_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def test_every_module_has_a_floor():
    tops = {_floor_of(p) for p in PACKAGE.rglob("*.py")}
    assert tops <= set(FLOORS), f"give {sorted(tops - set(FLOORS))} a floor in FLOORS"


def test_no_module_imports_a_floor_above_its_own():
    offenders = []
    for f in sorted(PACKAGE.rglob("*.py")):
        me = _floor_of(f)
        for mod in imported_modules(f):
            parts = mod.split(".")
            if len(parts) < 2 or parts[0] != "pipeline" or parts[1] not in FLOORS or parts[1] == me:
                continue
            other = parts[1]
            if FLOORS[other] > FLOORS[me] or (FLOORS[other] == FLOORS[me] == 4):
                offenders.append(f"{f.relative_to(PACKAGE.parent)} (floor {FLOORS[me]}) imports {mod} "
                                 f"(floor {FLOORS[other]})")
    assert not offenders, "\n".join(offenders)


def test_the_registry_and_the_help_import_no_torch():
    """`prune --help` builds every stage's help from the registries: none of it may import torch."""
    import subprocess
    import sys

    code = ("import sys; import pipeline.cli; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(pipeline.cli.app, ['select', '--help']); assert r.exit_code == 0, r.output; "
            "print('torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
