"""`prune sweep --preset NAME`: the papers' protocols, their grids, the run check, and the paper column of the report."""

from __future__ import annotations

import json
import pickle

import numpy as np
import polars as pl
import pytest

from pipeline.io import PruneError
from pipeline.score.registry import METHODS
from pipeline.sweep.grid import build_spec, parse_score
from pipeline.sweep.presets import PRESETS, get_preset
from pipeline.sweep.run import probe
from cli_helpers import error_line, prune


def spec_of(name, seeds=None, **given):
    return build_spec(given=given, config=None, name=None, epochs=None, seeds=seeds, full=None, probe=probe,
                      preset=get_preset(name))


# -------------------------------------------------------------------------- the registry


def test_every_preset_builds_a_valid_grid():
    counts = {"ccs-cifar10": 1 + 5 + 5,  # full; aum (prob) + ccs and random at 5 rates
              "tdds-cifar100": 1 + 2 * 5 + 5,  # full; tdds + topk, tdds + ccs and random at 5 rates
              # full with and without CDB-W; random: none + drop × 2 recalls; el2n, forgetting × topk: the same;
              # all × CDB-W off/on, at rate 0.3
              "drop-cifar10-vgg16": 2 + (1 + 2) * 2 + 2 * (1 + 2) * 2,
              # full; 7 scores + topk, 9 samplers and random at DeepCore's 13 fractions
              "deepcore-cifar10": 1 + (7 + 9 + 1) * 13}
    assert set(PRESETS) == set(counts)
    for name, p in PRESETS.items():
        s = spec_of(name)
        ids = [c.id for c in s.cells]
        assert len(ids) == counts[name] and len(set(ids)) == len(ids), ids
        assert s.name == name and s.seeds == list(p.seeds) and s.epochs == p.train_epochs  # None: as the run
        assert s.preset["name"] == name and s.preset["published"] == [x.record() for x in p.published]
        for spec in p.scores():  # every score table and option exists
            method, params = parse_score(spec)
            assert method in METHODS and set(params) <= set(METHODS[method].defaults), spec
        for pub in p.published:  # every published number compares with some cell of the grid
            assert any(c.method in pub.methods and c.score == pub.score and c.quota == pub.quota
                       and c.rate == pub.rate and pub.budget in (None, c.budget) for c in s.cells), pub
    ccs = [c.id for c in spec_of("ccs-cifar10").cells]
    assert "aum.space=prob+ccs-none-r0.9-iterations" in ccs and "random-none-r0.9-iterations" in ccs
    drop = [c.id for c in spec_of("drop-cifar10-vgg16").cells]
    assert {"full", "full-cdbw", "random-none-r0.3-drop", "random-drop-r0.3-recalls-final-drop-cdbw",
            "el2n+topk-drop-r0.3-recalls-mean-drop", "forgetting+topk-none-r0.3-drop-cdbw"} <= set(drop)
    # flags override the preset's top level, as they override a --config file's
    s = spec_of("ccs-cifar10", rates=["0.9"], seeds=["4"], budgets=["epochs"])
    assert [c.id for c in s.cells] == ["full", "aum.space=prob+ccs-none-r0.9", "random-none-r0.9"]
    assert s.seeds == [4]


def test_published_numbers_are_the_papers():
    pub = {(p.name, x.label, x.rate): x.accuracy for p in PRESETS.values() for x in p.published}
    assert pub == {("ccs-cifar10", "CCS (AUM)", 0.9): 85.7, ("ccs-cifar10", "Random", 0.9): 79.04,
                   ("tdds-cifar100", "TDDS", 0.9): 54.51, ("tdds-cifar100", "Random", 0.9): 46.68}
    assert not PRESETS["drop-cifar10-vgg16"].published and PRESETS["drop-cifar10-vgg16"].not_transcribed


def test_the_list_names_every_preset_with_its_published_numbers():
    out = prune("sweep", "--presets").output
    for name, p in PRESETS.items():
        assert f"{name}: {p.paper}" in out
        assert p.protocol.data in out and p.protocol.model in out
        for x in p.published:
            assert f"{x.label} at rate {x.rate:g}: {x.accuracy:g}%" in out
    assert "published: none transcribed" in out  # DRoP: its code release states no number


def test_the_docs_give_each_presets_commands_and_numbers():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sweep.md").read_text()
    section = doc[doc.index("## Paper presets"):]
    for name, p in PRESETS.items():
        assert f"### `{name}`" in section
        for cmd in p.commands():
            assert f"\n{cmd}\n" in section, cmd
        for x in p.published:
            assert f"{x.accuracy:g}%" in section
    assert "No figure from these presets has been measured here yet" in section


def test_an_unknown_preset_is_one_line():
    line = error_line(prune("sweep", "--preset", "ccs-cifar11", ok=False))
    assert "unknown preset 'ccs-cifar11'" in line and all(name in line for name in PRESETS)
    with pytest.raises(PruneError, match="not both"):
        build_spec(given={}, config="x.toml", name=None, epochs=None, seeds=None, full=None, probe=probe,
                   preset=get_preset("ccs-cifar10"))


# -------------------------------------------------------------------------- on a tiny CIFAR-10 in the real format

NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def write_cifar10(root, n_train=40, n_test=20):
    """CIFAR-10's python pickles (cifar-10-batches-py), with n_train and n_test random images."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)

    def dump(name, obj):
        with open(folder / name, "wb") as f:
            pickle.dump(obj, f, protocol=2)

    x = rng.randint(0, 256, size=(n_train, 3072)).astype(np.uint8)
    y = np.arange(n_train) % 10
    per = n_train // 5
    for i in range(5):
        sl = slice(per * i, per * (i + 1))
        dump(f"data_batch_{i + 1}", {b"batch_label": b"training batch", b"labels": y[sl].tolist(), b"data": x[sl]})
    dump("test_batch", {b"labels": (np.arange(n_test) % 10).tolist(),
                        b"data": rng.randint(0, 256, size=(n_test, 3072)).astype(np.uint8)})
    dump("batches.meta", {b"label_names": NAMES, b"num_vis": 3072, b"num_cases_per_batch": per})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A one-epoch ResNet-18 run on 40 CIFAR-10 images: the preset's data set and model, not its epochs."""
    d = tmp_path_factory.mktemp("presets")
    mp = pytest.MonkeyPatch()
    mp.chdir(d)
    mp.setenv("OMP_NUM_THREADS", "1")
    write_cifar10(d / "data")
    prune("record", "--data", "cifar10", "--data-dir", str(d / "data"), "--model", "resnet18", "--epochs", "1",
          "--batch-size", "256", "--lr", "0.1", "--checkpoints", "final", "--threads", "1", "--quiet")
    yield d
    mp.undo()


def test_another_data_set_or_model_stops_before_training(tiny):
    run = tiny / "runs" / "default"
    line = error_line(prune("sweep", "--preset", "tdds-cifar100", ok=False))
    assert "holds cifar10 / resnet18; preset tdds-cifar100 is cifar100 / resnet18" in line
    assert "`prune record --run runs/tdds-cifar100 --data cifar100 --model resnet18 --epochs 200 --batch-size 100 " \
           "--lr 0.1`" in line and "prune sweep --run runs/tdds-cifar100 --preset tdds-cifar100" in line
    line = error_line(prune("sweep", "--preset", "drop-cifar10-vgg16", ok=False))
    assert "preset drop-cifar10-vgg16 is cifar10 / vgg16" in line and "--model vgg16 --inits 5`" in line
    line = error_line(prune("sweep", "--preset", "ccs-cifar10", "--run", "runs/none", ok=False))
    assert "no run in runs/none" in line and "prune record --run runs/none --data cifar10" in line
    assert not (run / "sweeps").exists()  # nothing selected, scored or trained


def test_a_preset_sweep_and_its_report_show_the_paper_beside_ours(tiny):
    run = tiny / "runs" / "default"
    res = prune("sweep", "--preset", "ccs-cifar10", "--rates", "0.9", "--seeds", "0", "--epochs", "1",
                "--threads", "1")
    warnings = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert warnings == ["warning: run runs/default differs from preset ccs-cifar10's protocol in epochs 1 "
                        "(paper 200), training epochs 1 (paper 200): the numbers will not be comparable to the "
                        "paper's"]
    folder = run / "sweeps" / "ccs-cifar10"
    assert json.loads((folder / "sweep.json").read_text())["preset"]["name"] == "ccs-cifar10"
    df = pl.read_parquet(folder / "results.parquet")
    assert df["cell"].to_list() == ["full", "aum.space=prob+ccs-none-r0.9-iterations", "random-none-r0.9-iterations"]
    assert df.filter(pl.col("method") == "ccs")["beta"].to_list() == [0.3]  # CCS's β at 90%

    res = prune("report")
    md = (run / "report" / "report.md").read_text()
    header = next(ln for ln in md.splitlines() if ln.startswith("| method |"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols[4:7] == ["cost", "test accuracy %", "paper %"]
    rows = {tuple(c.strip() for c in ln.strip("|").split("|"))[:2]: [c.strip() for c in ln.strip("|").split("|")]
            for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| method")}
    assert rows[("aum (space=prob) + ccs, iterations", "0.9")][6] == "85.7"
    assert rows[("random, iterations", "0.9")][6] == "79.04"
    assert rows[("full data", "—")][6] == ""
    assert rows[("aum (space=prob) + ccs, iterations", "0.9")][9][0] in "+−-"  # Δ against random, iterations
    assert "Paper preset ccs-cifar10" in md and "85.7%" in md
    assert "paper %" in res.output and "85.7" in res.output and "79.04" in res.output  # the printed table
