"""A method of any kind is added from outside the package, with an option of its own, and every door of prune
knows it: --help, --list, --opt on the command line, the API's keywords and a sweep axis; installed plugins come in
through entry points. No file of prune is edited for any of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import PruneError, read_manifest, read_scores
from pipeline.registry import Option

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

# A sampler and a score with options of their own, defined outside prune. `halfway` keeps the n_keep samples whose
# score is nearest the alpha-quantile of the scores; `shifted-margin` is the last epoch's logit of the true class
# plus an offset.
PLUGIN = textwrap.dedent('''
    import numpy as np
    from pipeline.registry import Option
    from pipeline.select.base import Sampler
    from pipeline.score.base import ScoreMethod

    def _halfway(pool, n_keep, rng, *, alpha):
        target = np.quantile(pool.scores, alpha)
        order = np.argsort(np.abs(pool.scores - target), kind="stable")
        return np.sort(order[:n_keep])

    SAMPLER = Sampler("halfway", _halfway, "the samples nearest the alpha-quantile of the scores", "a test",
                      options=(Option("alpha", 0.5, "which quantile to centre on", low=0.0, high=1.0),))

    def _shifted(run, params):
        z = np.asarray(run.array("logits")[0, -1], dtype=np.float64)
        return z[np.arange(run.n), run.targets] + params["offset"]

    SCORE = ScoreMethod(name="shifted-margin", compute=_shifted, higher_is_harder=False, formula="z_y + offset",
                        paper="a test", options=(Option("offset", 0.0, "added to every score"),))
''')


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugins")
    res = CliRunner().invoke(app, ["record", "--data", "digits", "--epochs", "2", "--checkpoints", "final",
                                   "--device", "cpu", "--run", str(folder / "run")])
    assert res.exit_code == 0, res.output
    (folder / "myplugin.py").write_text(PLUGIN)
    return folder / "run"


def _python(script: str, cwd: Path, extra_path: Path) -> subprocess.CompletedProcess:
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(extra_path), ENV.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_a_registered_sampler_and_score_reach_every_door(run):
    """Registered in Python before the command line is built, as a user's script or a conftest would."""
    folder = run.parent
    script = textwrap.dedent(f'''
        import json
        import myplugin
        from pipeline.select.catalog import register_sampler
        from pipeline.score.registry import METHODS
        register_sampler(myplugin.SAMPLER)
        METHODS.register(myplugin.SCORE)
        from typer.testing import CliRunner
        from pipeline.cli import app
        r = CliRunner()
        def go(*args):
            res = r.invoke(app, list(args), terminal_width=200)
            return {{"code": res.exit_code, "out": res.output}}
        run = {str(run)!r}
        out = {{
            "select_help": go("select", "--help"),
            "select_list": go("select", "--list"),
            "score_help": go("score", "--help"),
            "score_list": go("score", "--list"),
            "score": go("score", "--run", run, "--method", "shifted-margin", "--opt", "offset=2.5"),
            "score_bad": go("score", "--run", run, "--method", "shifted-margin", "--opt", "offset=lots"),
            "select": go("select", "--run", run, "--scores", "shifted-margin", "--method", "halfway", "--rate", "0.5",
                         "--opt", "alpha=0.25", "--out", run + "/keep-halfway.parquet"),
            "select_bad": go("select", "--run", run, "--scores", "shifted-margin", "--method", "halfway",
                             "--rate", "0.5", "--opt", "alpha=2", "--out", run + "/bad.parquet"),
            "sweep": go("sweep", "--run", run, "--scores", "shifted-margin", "--methods", "halfway:alpha=0.25",
                        "--rates", "0.5", "--seeds", "0", "--epochs", "1", "--no-full", "--threads", "1",
                        "--name", "plug", "--device", "cpu"),
        }}
        print(json.dumps(out))
    ''')
    res = _python(script, folder, folder)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("select_help", "select_list", "score_help", "score_list", "score", "select", "sweep"):
        assert out[key]["code"] == 0, (key, out[key]["out"])
    select_help = " ".join(out["select_help"]["out"].replace("│", " ").split())  # unwrapped, as the score help
    assert "halfway" in select_help and "alpha (halfway)" in select_help
    assert "option   alpha (default 0.5): which quantile to centre on" in out["select_list"]["out"]
    flat = " ".join(out["score_help"]["out"].replace("│", " ").split())  # the help, unwrapped
    assert "offset (shifted-margin)" in flat
    assert "shifted-margin" in out["score_list"]["out"] and "--offset 0.0" in out["score_list"]["out"]
    for key, words in (("score_bad", "--offset of --method shifted-margin must be a number, got 'lots'"),
                       ("select_bad", "--alpha of --method halfway must be a number in [0, 1], got 2.0")):
        assert out[key]["code"] == 2 and words in out[key]["out"], out[key]
    assert not (run / "bad.parquet").exists()

    # the values: the table is z_y + 2.5, the manifest the 50% nearest the 0.25-quantile, as computed here
    from pipeline.io import open_run

    r = open_run(run)
    z = np.asarray(r.array("logits")[0, -1], dtype=np.float64)
    want = z[np.arange(r.n), r.targets] + 2.5
    table = read_scores(run / "scores" / "shifted-margin.parquet")
    np.testing.assert_allclose(table.score, want, rtol=1e-12)
    assert table.meta["parameters"] == {"offset": 2.5}
    n_keep = r.n - int(np.floor(0.5 * r.n + 0.5))
    nearest = np.sort(np.argsort(np.abs(want - np.quantile(want, 0.25)), kind="stable")[:n_keep])
    m = read_manifest(run / "keep-halfway.parquet")
    assert np.array_equal(m.sample, nearest) and m.meta["parameters"] == {"alpha": 0.25}
    # the sweep axis: the cell is named after the option, and its manifest is the same selection
    cell = run / "sweeps" / "plug" / "cells" / "shifted-margin+halfway.alpha=0.25-none-r0.5" / "seed=0"
    assert np.array_equal(read_manifest(cell / "keep.parquet").sample, nearest)


def test_the_api_checks_a_plugins_options_as_the_cli_does(run):
    import importlib

    sys.path.insert(0, str(run.parent))
    try:
        plugin = importlib.import_module("myplugin")
    finally:
        sys.path.remove(str(run.parent))
    from pipeline import score, select
    from pipeline.score.registry import METHODS
    from pipeline.select.catalog import SAMPLERS, register_sampler

    register_sampler(plugin.SAMPLER)
    METHODS.register(plugin.SCORE)
    try:
        s = score(run, "shifted-margin", offset=1.0)
        assert s.meta["parameters"] == {"offset": 1.0}
        sel = select(s, 0.5, method="halfway", alpha=0.75)
        assert sel.meta["parameters"] == {"alpha": 0.75}
        with pytest.raises(PruneError, match="--offset of --method shifted-margin must be a number, got 'x'"):
            score(run, "shifted-margin", offset="x")
        with pytest.raises(PruneError, match=r"--alpha must be a number in \[0, 1\], got -1"):
            select(s, 0.5, method="halfway", alpha=-1)
        with pytest.raises(PruneError, match="--window of --method tdds must be an integer >= 1, got 2.5"):
            score(run, "tdds", window=2.5)  # no silent truncation to 2
    finally:
        SAMPLERS.pop("halfway")
        METHODS.pop("shifted-margin")


def test_installed_plugins_come_in_through_entry_points(run, tmp_path):
    """A tiny installed distribution: a .dist-info with entry_points.txt on sys.path, as pip would leave it."""
    site = tmp_path / "site"
    (site / "myplug-0.1.dist-info").mkdir(parents=True)
    (site / "myplugin.py").write_text(PLUGIN)
    (site / "myplug-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 0.1\n")
    (site / "myplug-0.1.dist-info" / "entry_points.txt").write_text(
        "[prune.samplers]\nhalfway = myplugin:SAMPLER\n\n[prune.scores]\nshifted-margin = myplugin:SCORE\n")
    prune = [sys.executable, "-m", "pipeline.cli"]
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(site), ENV.get("PYTHONPATH", "")])}

    def go(*args):
        return subprocess.run([*prune, *args], capture_output=True, text=True, env=env, timeout=600)

    listed = go("select", "--list")
    assert listed.returncode == 0 and "halfway: the samples nearest the alpha-quantile" in listed.stdout
    assert "shifted-margin" in go("score", "--list").stdout
    res = go("score", "--run", str(run), "--method", "shifted-margin", "--opt", "offset=1", "--out",
             str(tmp_path / "s.parquet"))
    assert res.returncode == 0, res.stderr
    res = go("select", "--run", str(run), "--scores", str(tmp_path / "s.parquet"), "--method", "halfway",
             "--rate", "0.5", "--opt", "alpha=0.9", "--out", str(tmp_path / "keep.parquet"))
    assert res.returncode == 0, res.stderr
    assert read_manifest(tmp_path / "keep.parquet").meta["parameters"] == {"alpha": 0.9}
