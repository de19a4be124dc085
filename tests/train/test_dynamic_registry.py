"""The registry of dynamic rules (pipeline/train/dynamic/registry.py): every entry, its options, its help."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.counts import keep_count
from pipeline.engine.plans import DynamicPlan
from pipeline.io import PruneError
from pipeline.registry import Registry
from pipeline.cli.train import DYNAMIC_FLAGS
from pipeline.train.dynamic import DYNAMIC, DynamicRule, get_dynamic, register_dynamic

runner = CliRunner()


def help_text() -> str:
    res = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    return " ".join(res.output.replace("│", " ").split())


def test_the_registry_is_the_shared_shape():
    assert isinstance(DYNAMIC, Registry) and DYNAMIC.group == "prune.dynamic"
    assert list(DYNAMIC)[:3] == ["rs2", "rcap", "infobatch"]


@pytest.mark.parametrize("entry", list(DYNAMIC.values()), ids=lambda e: e.name)
def test_every_rule_has_summary_and_paper(entry):
    assert entry.summary.strip() and entry.paper.strip()
    assert "\n" not in entry.summary


def test_an_unknown_rule_lists_the_registry():
    with pytest.raises(PruneError) as err:
        get_dynamic("nope")
    msg = str(err.value)
    # the dynamic registry also takes composed names once pipeline.api.composite is imported
    composed = "".join(f" or {f.label}" for f in DYNAMIC.families)
    assert "\n" not in msg and msg == "unknown --dynamic method 'nope'; choose one of: " + ", ".join(DYNAMIC) + composed


@pytest.mark.parametrize("name", list(DYNAMIC))
def test_every_dynamic_rule_builds_its_plan(name):
    targets = np.repeat(np.arange(3), [10, 20, 30])
    rule = DYNAMIC[name]
    plan = rule.build(targets, 0.5, num_classes=3, epochs=8)
    assert isinstance(plan, rule.plan) and plan.epochs == 8
    ids, _ = plan.ids_for_epoch(0, np.random.default_rng(0))
    assert (np.diff(ids) > 0).all()
    if rule.rate_of is None:  # a fixed count per epoch
        assert len(ids) == keep_count(60, 0.5)
    with pytest.raises(PruneError, match="takes no"):
        rule.build(targets, 0.5, num_classes=3, epochs=8, bogus=1)


def test_dynamic_options_from_the_registry():
    assert DYNAMIC["rcap"].resolve({"beta": None, "clip": 2.0}) == {"beta": 0.25, "clip": 2.0}
    with pytest.raises(PruneError, match="--beta of --dynamic rcap must be a number > 0, got 0.0"):
        DYNAMIC["rcap"].resolve({"beta": 0.0})
    with pytest.raises(PruneError, match="at most 0.9"):
        DYNAMIC["infobatch"].check_rate(0.95, "epochs")
    with pytest.raises(PruneError, match="only --budget epochs"):
        DYNAMIC["infobatch"].check_rate(0.5, "drop")


class _EveryOther(DynamicPlan):
    name = "every-other"

    def select(self, epoch, rng):
        return np.arange(epoch % 2, self.n, 2), None


def test_a_registered_dynamic_rule_goes_through_train():
    from pipeline.train.run import check_protocol

    register_dynamic(DynamicRule("every-other", _EveryOther, "alternate halves", "a test"))
    try:
        check_protocol(manifest=None, budget="drop", dynamic="every-other", rate=0.5, beta=None, clip=None,
                       with_replacement=False, stratify=False)
        with pytest.raises(PruneError, match="--beta applies to --dynamic rcap only"):
            check_protocol(manifest=None, budget="epochs", dynamic="every-other", rate=0.5, beta=1.0, clip=None,
                           with_replacement=False, stratify=False)
        plan = get_dynamic("every-other").build(np.zeros(6, dtype=int), 0.5)
        assert plan.ids_for_epoch(1, np.random.default_rng(0))[0].tolist() == [1, 3, 5]
        with pytest.raises(ValueError, match="is built-in"):
            register_dynamic(DYNAMIC["rs2"])
    finally:
        DYNAMIC.unregister("every-other")


def test_train_help_comes_from_the_registry():
    text = help_text()
    for rule in DYNAMIC.values():
        assert f"{rule.name} ({rule.summary})" in text


def test_the_option_flags_help_comes_from_the_entries():
    text = help_text()
    for name in DYNAMIC_FLAGS:
        option = DYNAMIC.all_options()[name]
        readers = ", ".join(DYNAMIC.readers(name))
        assert f"With --dynamic {readers}: {option.help}" in text, name
    assert "rcap: beta=0.25, clip=none" in text  # --opt lists every option a rule declares


def test_a_rule_is_checked_when_registered():
    with pytest.raises(TypeError, match="expected a DynamicRule"):
        register_dynamic("rs2")
    with pytest.raises(TypeError, match="DynamicPlan subclass"):
        register_dynamic(DynamicRule("bad-plan", object, "s", "p"))
    with pytest.raises(TypeError, match="Option objects"):
        register_dynamic(DynamicRule("bad-options", _EveryOther, "s", "p", options=("alpha",)))
    assert "bad-plan" not in DYNAMIC and "bad-options" not in DYNAMIC
    # plain defaults are read as options of their types
    rule = DynamicRule("plain", _EveryOther, "s", "p", options={"alpha": 0.5, "shuffle": True})
    assert [(o.name, o.type, o.default) for o in rule.options] == [("alpha", float, 0.5), ("shuffle", bool, True)]
