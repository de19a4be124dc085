"""Your own scores without editing the package, and score tables written by your own code."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline import read_scores, register_score, score
from pipeline.cli import app
from pipeline.io import PruneError
from pipeline.record.synthetic import write_run
from pipeline.score import registry

runner = CliRunner()


@pytest.fixture
def run(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(12) % 3
    return write_run(tmp_path / "run", rng.normal(size=(1, 4, 12, 3)).astype(np.float32), y)


@pytest.fixture(autouse=True)
def clean_registry():
    before = registry.METHODS.snapshot()
    yield
    registry.METHODS.restore(before)


def last_margin(run, epoch=-1):
    """z_y − max_{c≠y} z_c at one epoch."""
    z = np.asarray(run.array("logits")[0, epoch], dtype=np.float64)
    y = run.targets
    true = z[np.arange(run.n), y]
    z[np.arange(run.n), y] = -np.inf
    return true - z.max(axis=1)


def test_register_a_score_and_use_it_from_python_and_the_cli(run):
    register_score("last-margin", last_margin, higher_is_harder=False, defaults={"epoch": -1})
    s = score(run, "last-margin", epoch=2)
    from pipeline.io import open_run

    np.testing.assert_allclose(s.score, last_margin(open_run(run), 2))
    assert s.meta["higher_is_harder"] is False and s.meta["parameters"] == {"epoch": 2}
    res = runner.invoke(app, ["score", "--method", "last-margin", "--run", str(run)])
    assert res.exit_code == 0, res.output
    assert read_scores(run / "scores" / "last-margin.parquet").higher_is_harder is False
    res = runner.invoke(app, ["select", "--method", "topk", "--rate", "0.25", "--run", str(run),
                              "--scores", "last-margin", "--out", str(run / "keep.parquet")])
    assert res.exit_code == 0, res.output


def test_a_builtin_cannot_be_replaced():
    with pytest.raises(PruneError, match="'tdds' is a built-in score"):
        register_score("tdds", last_margin, higher_is_harder=True)


def test_a_score_must_say_which_end_is_hard():
    with pytest.raises(PruneError, match="must say which end is hard"):
        register_score("nodir", lambda run: np.zeros(run.n))


def test_method_as_module_colon_function_on_the_command_line(run, tmp_path, monkeypatch):
    (tmp_path / "myscores.py").write_text(textwrap.dedent('''
        import numpy as np

        def by_id(run):
            """the sample id itself"""
            return np.arange(run.n, dtype=float)

        by_id.higher_is_harder = True
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    res = runner.invoke(app, ["score", "--method", "myscores:by_id", "--run", str(run)])
    assert res.exit_code == 0, res.output
    t = read_scores(run / "scores" / "myscores.by_id.parquet")
    np.testing.assert_array_equal(t.score, np.arange(12.0))
    res = runner.invoke(app, ["score", "--method", "myscores:nothing", "--run", str(run)])
    assert res.exit_code == 2 and "myscores has no nothing" in res.output
    sys.modules.pop("myscores", None)


def test_an_entry_point_plugin_is_found(run, monkeypatch):
    class EP:
        name, value = "plugged", "somepkg:fn"

        def load(self):
            def fn(run):
                return np.ones(run.n)

            fn.higher_is_harder = True
            return fn

    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group: [EP()] if group == registry.ENTRY_POINT_GROUP else [])
    np.testing.assert_array_equal(score(run, "plugged").score, np.ones(12))


def _table(path, columns: dict, meta: dict | None = None):
    t = pa.table(columns)
    if meta is not None:
        t = t.replace_schema_metadata(meta)
    pq.write_table(t, path)
    return path


def test_user_tables_read_with_only_sample_and_score(tmp_path):
    t = read_scores(_table(tmp_path / "s.parquet", {"sample": [2, 0, 1], "score": [0.2, 0.0, 0.1]}))
    np.testing.assert_array_equal(t.sample, [0, 1, 2])
    np.testing.assert_array_equal(t.score, [0.0, 0.1, 0.2])
    assert t.target is None and t.fingerprint is None and t.higher_is_harder is None


@pytest.mark.parametrize("stored,expected", [("false", False), ("true", True), ("False", False), ("TRUE", True)])
def test_higher_is_harder_as_a_string_means_what_it_says(tmp_path, stored, expected):
    t = read_scores(_table(tmp_path / "s.parquet", {"sample": [0, 1], "score": [0.0, 1.0]},
                           {"higher_is_harder": stored}))
    assert t.higher_is_harder is expected


@pytest.mark.parametrize("columns,meta,message", [
    ({"sample": [0.0, 1.5], "score": [0.0, 1.0]}, None, "column 'sample' must hold integers"),
    ({"sample": ["0", "1"], "score": [0.0, 1.0]}, None, "column 'sample' must hold integers"),
    ({"sample": [0, 1], "score": ["a", "b"]}, None, "column 'score' must hold numbers"),
    ({"sample": [0, 1], "score": [0.0, 1.0]}, {"higher_is_harder": '"maybe"'}, "must be true or false"),
    ({"sample": [0, 1]}, None, "missing column"),
])
def test_bad_user_tables_are_one_line(tmp_path, columns, meta, message):
    path = _table(tmp_path / "s.parquet", columns, meta)
    with pytest.raises(PruneError, match=message):
        t = read_scores(path)
        t.higher_is_harder  # noqa: B018 - the metadata is checked when read
