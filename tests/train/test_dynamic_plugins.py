"""A dynamic rule from outside the package: registered by a user, or installed through the entry-point group
``prune.dynamic``. Its options reach `prune train --help` and `--opt KEY=VALUE` as a built-in rule's do."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.engine.plans import DynamicPlan
from pipeline.io import PruneError
from pipeline.registry import Option
from pipeline.train.dynamic import DYNAMIC, DynamicRule, get_dynamic, register_dynamic

from cli_helpers import error_line, prune  # noqa: E402

runner = CliRunner()


def help_text() -> str:
    res = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    return " ".join(res.output.replace("│", " ").split())


class Halves(DynamicPlan):
    """Alternate halves of the samples; ``phase`` says which half comes first."""

    name = "halves"

    def __init__(self, targets, rate, *, num_classes=None, epochs=None, phase=0):
        super().__init__(targets, rate, num_classes=num_classes, epochs=epochs)
        self.phase = phase

    def select(self, epoch, rng):
        return np.arange((epoch + self.phase) % 2, self.n, 2), None

    def params(self):
        return {"rate": self.rate, "phase": self.phase}


@pytest.fixture
def halves():
    rule = register_dynamic(DynamicRule("halves", Halves, "alternate halves of the samples", "a test", options=(
        Option("phase", 0, "which half trains first", type=int, low=0, high=1),)))
    yield rule
    DYNAMIC.unregister("halves")


def test_a_plugins_option_is_in_the_help_and_reached_by_opt(halves, tmp_path):
    text = help_text()
    assert "halves (alternate halves of the samples)" in text and "halves: phase=0" in text
    out = tmp_path / "halves"
    prune("train", "--data", "digits", "--dynamic", "halves", "--rate", "0.5", "--opt", "phase=1", "--epochs", "1",
          "--device", "cpu", "--out", out, "--quiet")
    m = json.loads((out / "metrics.json").read_text())
    assert m["dynamic"] == {"method": "halves", "rate": 0.5, "phase": 1}
    bad = error_line(prune("train", "--data", "digits", "--dynamic", "halves", "--rate", "0.5", "--opt", "phase=2",
                           "--out", tmp_path / "bad", ok=False))
    assert "--phase of --dynamic halves must be an integer in [0, 1], got 2" in bad
    bad = error_line(prune("train", "--data", "digits", "--dynamic", "rs2", "--rate", "0.5", "--opt", "phase=1",
                           "--out", tmp_path / "bad", ok=False))
    assert "--dynamic rs2 has no option 'phase'" in bad
    assert not (tmp_path / "bad").exists()


PLUGIN = '''
    import numpy as np
    from pipeline.engine.plans import DynamicPlan
    from pipeline.registry import Option
    from pipeline.train.dynamic import DynamicRule


    class Thirds(DynamicPlan):
        def __init__(self, targets, rate, *, num_classes=None, epochs=None, offset=0):
            super().__init__(targets, rate, num_classes=num_classes, epochs=epochs)
            self.offset = offset

        def select(self, epoch, rng):
            return np.arange((epoch + self.offset) % 3, self.n, 3), None


    RULE = DynamicRule("thirds", Thirds, "a third of the samples in turn", "a plugin test", options=(
        Option("offset", 0, "which third trains first", type=int, low=0, high=2),))
    '''


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A package ``prune_thirds_plugin`` installed in a folder on sys.path, with a ``prune.dynamic`` entry point."""
    (tmp_path / "prune_thirds_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / "prune_thirds_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: prune-thirds-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[prune.dynamic]\nthirds = prune_thirds_plugin:RULE\n"
                                           "broken = prune_thirds_plugin:NOTHING\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    if "thirds" in DYNAMIC.names():
        DYNAMIC.unregister("thirds")
    sys.modules.pop("prune_thirds_plugin", None)


def test_an_installed_rule_comes_in_through_its_entry_point(installed):
    assert "thirds" not in DYNAMIC.names()
    rule = get_dynamic("thirds")  # loaded the first time its name is asked for
    assert rule.name == "thirds" and "thirds" in DYNAMIC.names()
    plan = rule.build(np.zeros(9, dtype=int), 0.5, offset=1)
    assert plan.ids_for_epoch(0, np.random.default_rng(0))[0].tolist() == [1, 4, 7]
    with pytest.raises(PruneError, match="plugin 'broken' .* failed to load"):
        get_dynamic("broken")


def test_an_installed_rule_is_in_the_help_and_its_option_reached_by_opt(installed, tmp_path):
    text = help_text()  # the help loads the installed rules (a broken one is left out)
    assert "thirds (a third of the samples in turn)" in text and "thirds: offset=0" in text
    out = tmp_path / "thirds"
    prune("train", "--data", "digits", "--dynamic", "thirds", "--rate", "0.5", "--opt", "offset=2", "--epochs", "1",
          "--device", "cpu", "--out", out, "--quiet")
    assert json.loads((out / "metrics.json").read_text())["dynamic"]["method"] == "thirds"
