"""`prune sweep`: the grid, the cells on disk, resuming, parallel jobs, results.parquet's values."""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import polars as pl
import pytest

from pipeline.counts import keep_count
from pipeline.io import PruneError, read_manifest
from pipeline.sweep.grid import Cell, build_spec
from pipeline.sweep.run import probe
from cli_helpers import error_line, prune, runner



@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    mp = pytest.MonkeyPatch()
    mp.chdir(d)
    mp.setenv("OMP_NUM_THREADS", "1")
    prune("record", "--data", "digits", "--epochs", "6", "--batch-size", "256", "--checkpoints", "final")
    yield d
    mp.undo()


def spec(**given):
    return build_spec(given=given, config=None, name=None, epochs=None, seeds=None, full=None, probe=probe)


def test_cells_of_a_grid():
    s = spec(scores=["tdds", "aum"], methods=["ccs", "random"], quotas=["none", "drop"], rates=["0.5", "0.9"],
             beta=["default", "0.1"])
    ids = [c.id for c in s.cells]
    # full data + random (no score axis, no beta) 2 quotas x 2 rates + ccs 2 scores x 2 quotas x 2 rates x 2 betas
    assert len(ids) == 1 + 4 + 16 and len(set(ids)) == len(ids)
    assert ids[0] == "full"
    assert "random-drop-r0.9" in ids and "aum.space=prob+ccs-none-r0.5-beta0.1" in ids and "tdds+ccs-drop-r0.9" in ids
    assert Cell(method="topk", score="el2n", rate=0.3, keep="easy", budget="iterations", cdbw=True).id == \
        "el2n+topk-none-r0.3-keep-easy-iterations-cdbw"
    assert s.seeds == [0] and s.name == "sweep"


def test_a_toml_grid_is_the_union_of_its_grids(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('name = "t"\nrates = [0.3, 0.9]\nseeds = [0, 1]\nepochs = 3\n'
                   '[[grid]]\nmethods = ["random"]\nquotas = ["none", "drop"]\n'
                   '[[grid]]\nscores = ["aum"]\nmethods = ["ccs"]\nbeta = [0.0, 0.2]\n'
                   '[[grid]]\nscores = ["el2n"]\nmethods = ["topk"]\nrates = [0.5]\n')
    s = build_spec(given={}, config=cfg, name=None, epochs=None, seeds=None, full=None, probe=probe)
    assert (s.name, s.seeds, s.epochs) == ("t", [0, 1], 3)
    assert [c.id for c in s.cells] == ["full", "random-none-r0.3", "random-none-r0.9", "random-drop-r0.3",
                                       "random-drop-r0.9", "aum.space=prob+ccs-none-r0.3-beta0", "aum.space=prob+ccs-none-r0.3-beta0.2",
                                       "aum.space=prob+ccs-none-r0.9-beta0", "aum.space=prob+ccs-none-r0.9-beta0.2", "el2n+topk-none-r0.5"]
    # a flag overrides the file's top level
    s = build_spec(given={"rates": ["0.7"]}, config=cfg, name="u", epochs=None, seeds=[5], full=False, probe=probe)
    assert s.name == "u" and s.seeds == [5] and all(c.rate in (0.7, 0.5) for c in s.cells)


@pytest.mark.parametrize("given, message", [
    ({"rates": ["1.5"]}, "in (0, 1)"),
    ({"methods": ["nope"]}, "unknown selection method"),
    ({"beta": ["0.1", "0.1"]}, "repeats"),
    ({"cdbw": ["maybe"]}, "on/off"),
    ({"methods": ["full"]}, "not a sampler"),
])
def test_bad_grids_are_one_line_errors(given, message):
    with pytest.raises(PruneError, match=message.replace("(", r"\(").replace(")", r"\)")):
        spec(**given)


def test_unknown_toml_key(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('ratez = [0.5]\n')
    with pytest.raises(PruneError, match="unknown key"):
        build_spec(given={}, config=cfg, name=None, epochs=None, seeds=None, full=None, probe=probe)


def test_sweep_end_to_end(workdir):
    run = workdir / "runs" / "default"
    assert not (run / "scores" / "aum.space=prob.parquet").exists()
    res = prune("sweep", "--scores", "aum", "--methods", "ccs,random", "--rates", "0.5", "--seeds", "0,1",
                "--epochs", "2", "--threads", "1", "--name", "a")
    assert "computing it once" in res.output and (run / "scores" / "aum.space=prob.parquet").exists()
    assert "test accuracy" in res.output and "random" in res.output
    folder = run / "sweeps" / "a"
    df = pl.read_parquet(folder / "results.parquet")
    assert df.height == 3 * 2
    assert df["cell"].to_list() == ["full", "full", "aum.space=prob+ccs-none-r0.5", "aum.space=prob+ccs-none-r0.5",
                                    "random-none-r0.5", "random-none-r0.5"]
    assert df["seed"].to_list() == [0, 1] * 3
    n = df["n_total"][0]
    assert df.filter(pl.col("method") == "full")["n_kept"].to_list() == [n, n]
    assert df.filter(pl.col("method") != "full")["n_kept"].to_list() == [keep_count(n, 0.5)] * 4
    for row in df.iter_rows(named=True):  # every metric is the training's own
        d = folder / "cells" / row["cell"] / f"seed={row['seed']}"
        m = json.loads((d / "train" / "metrics.json").read_text())
        assert (d / "done.json").exists()
        assert row["accuracy"] == m["accuracy"] and row["worst_class_accuracy"] == m["worst_class_accuracy"]
        assert row["val_accuracy"] == m["final"]["val_accuracy"] and row["sample_passes"] == m["sample_passes"]
        assert row["seed"] == m["seed"] and row["epochs"] == 2
        assert row["class_recall"] == [v["recall"] for v in m["per_class"].values()]
        if row["method"] != "full":
            man = read_manifest(d / "keep.parquet")
            assert man.meta["seed"] == row["seed"] and len(man.sample) == row["n_kept"]
    # the seed re-draws the selection: CCS's and random's subsets differ between seeds
    for cell in ("aum.space=prob+ccs-none-r0.5", "random-none-r0.5"):
        a, b = (read_manifest(folder / "cells" / cell / f"seed={s}" / "keep.parquet").sample for s in (0, 1))
        assert not np.array_equal(a, b)
    # CCS's default beta at rate 0.5 is recorded
    assert df.filter(pl.col("method") == "ccs")["beta"].to_list() == [0.0, 0.0]


def test_a_killed_sweep_resumes_without_redoing_anything(workdir):
    folder = workdir / "runs" / "default" / "sweeps" / "a"
    before = pl.read_parquet(folder / "results.parquet")
    unit = folder / "cells" / "random-none-r0.5" / "seed=1"
    (unit / "done.json").unlink()  # as if killed after training, before the marker
    shutil.rmtree(unit / "train")
    (unit / ".train.partial-deadbeef").mkdir()  # a killed training's hidden folder
    kept = {p: p.stat().st_mtime_ns for p in folder.glob("cells/*/seed=*/train/metrics.json")}
    res = prune("sweep", "--scores", "aum", "--methods", "ccs,random", "--rates", "0.5", "--seeds", "0,1",
                "--epochs", "2", "--threads", "1", "--name", "a")
    assert "5 already done" in res.output and "[1/1]" in res.output
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # nothing else retrained
    assert not (unit / ".train.partial-deadbeef").exists() and (unit / "done.json").exists()
    after = pl.read_parquet(folder / "results.parquet")
    assert after.drop("seconds").equals(before.drop("seconds"))
    # a rerun with everything done trains nothing
    res = prune("sweep", "--scores", "aum", "--methods", "ccs,random", "--rates", "0.5", "--seeds", "0,1",
                "--epochs", "2", "--threads", "1", "--name", "a")
    assert "6 already done" in res.output and "[1/" not in res.output
    # other epochs under the same name would mix protocols
    res = prune("sweep", "--scores", "aum", "--rates", "0.5", "--epochs", "3", "--name", "a", ok=False)
    assert res.exit_code == 2 and "--epochs" in res.output


def test_a_sweep_name_reused_with_another_grid_is_refused(workdir):
    folder = workdir / "runs" / "default" / "sweeps" / "a"
    kept = {p: p.read_bytes() for p in (folder / "results.parquet", folder / "sweep.json")}
    base = ["sweep", "--scores", "aum", "--epochs", "2", "--threads", "1", "--name", "a"]
    for extra, axes in ((["--methods", "ccs,random", "--rates", "0.3", "--seeds", "0,1"], "rate"),
                        (["--methods", "ccs,random", "--rates", "0.5", "--seeds", "0"], "seeds"),
                        (["--methods", "ccs", "--rates", "0.3", "--seeds", "0,1"], "method, rate")):
        res = prune(*base, *extra, ok=False)
        line = error_line(res)
        assert "another grid" in line and f"differs in: {axes})" in line, line
        assert {p: p.read_bytes() for p in kept} == kept  # nothing of the old sweep replaced


def test_parallel_jobs_give_the_same_results(workdir):
    prune("sweep", "--scores", "aum", "--methods", "ccs,random", "--rates", "0.5", "--seeds", "0,1",
          "--epochs", "2", "--threads", "1", "--jobs", "2", "--name", "b")
    run = workdir / "runs" / "default"
    a = pl.read_parquet(run / "sweeps" / "a" / "results.parquet").drop("seconds", "sweep")
    b = pl.read_parquet(run / "sweeps" / "b" / "results.parquet").drop("seconds", "sweep")
    assert a.equals(b)


def test_sweep_refuses_a_folder_that_is_not_a_sweep(workdir):
    d = workdir / "runs" / "default" / "sweeps" / "mine"
    d.mkdir(parents=True)
    (d / "notes.txt").write_text("mine")
    res = prune("sweep", "--scores", "aum", "--rates", "0.5", "--name", "mine", ok=False)
    assert res.exit_code == 2 and "not a sweep" in res.output and (d / "notes.txt").exists()


def test_a_sweep_killed_for_real_resumes(workdir):
    """SIGKILL the command once the first training is done; the rerun trains only what was not finished."""
    import signal
    import subprocess
    import sys
    import time

    args = [sys.executable, "-m", "pipeline.cli", "sweep", "--scores", "aum", "--methods", "random", "--rates",
            "0.3,0.5", "--seeds", "0,1", "--epochs", "3", "--threads", "1", "--name", "k", "--no-full"]
    folder = workdir / "runs" / "default" / "sweeps" / "k"
    p = subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not list(folder.glob("cells/*/seed=*/done.json")) and time.time() < deadline and p.poll() is None:
            time.sleep(0.05)
        os.killpg(p.pid, signal.SIGKILL)
    finally:
        p.wait()
    done = {d.parent: d.stat().st_mtime_ns for d in folder.glob("cells/*/seed=*/done.json")}
    assert 1 <= len(done) < 4 and not (folder / "results.parquet").exists()
    res = prune(*args[3:])
    assert f"{len(done)} already done" in res.output
    assert {d: (d / "done.json").stat().st_mtime_ns for d in done} == done  # finished cells untouched
    assert pl.read_parquet(folder / "results.parquet").height == 4
    assert not list(folder.glob("cells/*/seed=*/.train.partial-*"))


def test_dynamic_pruning_cells(workdir):
    s = spec(methods=["random"], rates=["0.5", "0.9"], dynamic=["infobatch", "tdds+ccs"])
    ids = [c.id for c in s.cells]
    assert ids == ["full", "random-none-r0.5", "random-none-r0.9", "dyn-infobatch-r0.5", "dyn-infobatch-r0.9",
                   "dyn-tdds+ccs-r0.5", "dyn-tdds+ccs-r0.9"]
    assert Cell(method="dynamic:rs2", rate=0.3).label == "rs2 (dynamic)"
    with pytest.raises(PruneError, match="nope"):
        spec(dynamic=["nope"])
    run = workdir / "runs" / "default"
    prune("sweep", "--methods", "random", "--rates", "0.5", "--dynamic", "rs2", "--epochs", "2", "--threads", "1",
          "--name", "dyn", "--no-full")
    df = pl.read_parquet(run / "sweeps" / "dyn" / "results.parquet")
    row = df.filter(pl.col("method") == "dynamic:rs2").row(0, named=True)
    d = run / "sweeps" / "dyn" / "cells" / "dyn-rs2-r0.5" / "seed=0"
    m = json.loads((d / "train" / "metrics.json").read_text())
    assert m["dynamic"]["method"] == "rs2" and not (d / "keep.parquet").exists()
    n = df["n_total"][0]
    assert row["sample_passes"] == m["sample_passes"] == 2 * keep_count(n, 0.5)  # RS2: the kept count every epoch


def test_rcap_temperature_is_an_axis_of_rcap_cells_only(workdir):
    s = spec(methods=["random"], rates=["0.5"], dynamic=["rcap", "infobatch"], rcap_beta=["0.1", "default"])
    assert [c.id for c in s.cells] == ["full", "random-none-r0.5", "dyn-rcap-r0.5-beta0.1", "dyn-rcap-r0.5",
                                       "dyn-infobatch-r0.5"]
    with pytest.raises(PruneError, match="temperature and must be > 0"):
        spec(dynamic=["rcap"], rcap_beta=["0"])
    run = workdir / "runs" / "default"
    prune("sweep", "--methods", "random", "--rates", "0.5", "--dynamic", "rcap", "--rcap-beta", "0.1,default",
          "--epochs", "2", "--threads", "1", "--name", "rcap", "--no-full")
    df = pl.read_parquet(run / "sweeps" / "rcap" / "results.parquet").filter(pl.col("method") == "dynamic:rcap")
    assert sorted(df["beta"].to_list(), key=lambda b: b is None) == [0.1, None]
    cells = run / "sweeps" / "rcap" / "cells"
    for cell, beta in (("dyn-rcap-r0.5-beta0.1", 0.1), ("dyn-rcap-r0.5", 0.25)):  # 0.25: RCAP's own default
        m = json.loads((cells / cell / "seed=0" / "train" / "metrics.json").read_text())
        assert m["dynamic"]["method"] == "rcap" and m["dynamic"]["beta"] == beta


def test_score_tables_with_options(workdir):
    s = spec(scores=["aum:space=prob", "tdds:window=3:decay=0.5"], methods=["ccs"], rates=["0.5"])
    ids = [c.id for c in s.cells]
    assert ids == ["full", "aum.space=prob+ccs-none-r0.5", "tdds.window=3.decay=0.5+ccs-none-r0.5"]
    assert s.cells[1].label == "aum (space=prob) + ccs"
    with pytest.raises(PruneError, match="not a name"):
        spec(scores=["aum:space"])
    # CCS reads AUM as its paper does, in probability space, unless the spec sets the space; other samplers read
    # the score's own default (the logit margin); the same table twice is one cell
    s = spec(scores=["aum", "aum:space=prob", "aum:space=logit"], methods=["ccs", "topk"], rates=["0.5"])
    assert [c.id for c in s.cells] == ["full", "aum.space=prob+ccs-none-r0.5", "aum.space=logit+ccs-none-r0.5",
                                       "aum+topk-none-r0.5", "aum.space=prob+topk-none-r0.5",
                                       "aum.space=logit+topk-none-r0.5"]
    assert [c.label for c in s.cells[1:3]] == ["aum (space=prob) + ccs", "aum (space=logit) + ccs"]
    run = workdir / "runs" / "default"
    prune("sweep", "--scores", "aum:space=prob", "--methods", "ccs", "--rates", "0.5", "--epochs", "2", "--threads",
          "1", "--name", "opts", "--no-full")
    from pipeline.io import read_scores

    t = read_scores(run / "scores" / "aum.space=prob.parquet")
    assert t.meta["parameters"]["space"] == "prob"
    df = pl.read_parquet(run / "sweeps" / "opts" / "results.parquet")
    assert df["score"].to_list() == ["aum:space=prob"]
    man = read_manifest(run / "sweeps" / "opts" / "cells" / "aum.space=prob+ccs-none-r0.5" / "seed=0" / "keep.parquet")
    assert man.meta["scores"]["parameters"]["space"] == "prob"


def test_gamma_and_recalls_multiply_only_the_cells_that_read_them():
    s = spec(scores=["aum"], methods=["ccs", "d2", "random"], quotas=["none", "drop"], rates=["0.5"],
             beta=["default", "0.2"], gamma=["0.1", "0.5"], recalls=["final", "mean"])
    ids = [c.id for c in s.cells]
    # full; ccs (β): none 2 + drop 2 × 2 recalls; d2 (β, γ): none 2 × 2 + drop 2 × 2 × 2; random: none 1 + drop 2
    assert len(ids) == 1 + (2 + 4) + (4 + 8) + (1 + 2) == 22 and len(set(ids)) == 22
    ccs = "aum.space=prob+ccs"  # CCS reads AUM in probability space
    assert ids[:7] == ["full", f"{ccs}-none-r0.5", f"{ccs}-none-r0.5-beta0.2", f"{ccs}-drop-r0.5-recalls-final",
                       f"{ccs}-drop-r0.5-recalls-mean", f"{ccs}-drop-r0.5-beta0.2-recalls-final",
                       f"{ccs}-drop-r0.5-beta0.2-recalls-mean"]
    assert "aum+d2-drop-r0.5-beta0.2-gamma0.5-recalls-final" in ids and "aum+d2-none-r0.5-gamma0.1" in ids
    assert ids[-3:] == ["random-none-r0.5", "random-drop-r0.5-recalls-final", "random-drop-r0.5-recalls-mean"]
    # a value is in the id and the label only when set
    assert [c.id for c in spec(methods=["random"], quotas=["drop"], rates=["0.5"]).cells] == ["full", "random-drop-r0.5"]
    assert Cell(method="d2", score="aum", rate=0.5, gamma=0.5, quota="drop", recalls="best").label == \
        "aum + d2 + drop (γ=0.5, recalls best)"
    assert Cell(method="d2", score="aum", rate=0.5).label == "aum + d2"
    with pytest.raises(PruneError, match="--recalls takes final, best, mean"):
        spec(methods=["random"], quotas=["drop"], recalls=["last"])
    with pytest.raises(PruneError, match="--gamma must be >= 0"):
        spec(methods=["d2"], gamma=["-1"])
    with pytest.raises(PruneError, match="unknown quota"):
        spec(methods=["random"], quotas=["nope"])


def test_a_sweep_over_gamma_and_recalls(tmp_path, monkeypatch):
    """d2's γ and the drop quota's recalls reach select: the manifests and results.parquet say which was used."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    prune("record", "--data", "digits", "--epochs", "3", "--batch-size", "256", "--checkpoints", "final",
          "--embeddings", "final", "--quiet")
    cfg = tmp_path / "g.toml"
    cfg.write_text('name = "g"\nrates = [0.5]\nfull = false\n'
                   '[[grid]]\nscores = ["aum"]\nmethods = ["d2"]\ngamma = [0.1, 2.0]\n'
                   '[[grid]]\nmethods = ["random"]\nquotas = ["drop"]\nrecalls = ["final", "mean"]\n')
    prune("sweep", "--config", str(cfg), "--epochs", "1", "--threads", "1", "--quiet")
    folder = tmp_path / "runs" / "default" / "sweeps" / "g"
    df = pl.read_parquet(folder / "results.parquet")
    assert df["cell"].to_list() == ["aum+d2-none-r0.5-gamma0.1", "aum+d2-none-r0.5-gamma2",
                                    "random-drop-r0.5-recalls-final", "random-drop-r0.5-recalls-mean"]
    assert df["gamma"].to_list() == [0.1, 2.0, None, None]
    assert df["recalls"].to_list() == [None, None, "final", "mean"]
    man = {c: read_manifest(folder / "cells" / c / "seed=0" / "keep.parquet") for c in df["cell"].to_list()}
    assert man["aum+d2-none-r0.5-gamma2"].meta["parameters"]["gamma"] == 2.0
    assert not np.array_equal(man["aum+d2-none-r0.5-gamma0.1"].sample, man["aum+d2-none-r0.5-gamma2"].sample)
    from pipeline.io import open_run

    r = open_run(tmp_path / "runs" / "default")
    assert r.val_recalls("final").tolist() != r.val_recalls("mean").tolist()
    for how in ("final", "mean"):
        recalls = man[f"random-drop-r0.5-recalls-{how}"].meta["quota_detail"]["recalls"]
        assert list(recalls.values()) == pytest.approx(r.val_recalls(how).tolist())


@pytest.mark.parametrize("content,words", [
    (b"name = \"caf\xe9\"\n", "is not UTF-8 text (a TOML file is)"),
    (b"rates = [0.5\n", "is not valid TOML"),
])
def test_a_config_that_is_not_toml_is_one_line(tmp_path, content, words):
    from pipeline.sweep.grid import read_config

    (tmp_path / "c.toml").write_bytes(content)
    with pytest.raises(PruneError, match=re.escape(words)) as err:
        read_config(tmp_path / "c.toml")
    assert "\n" not in str(err.value)
