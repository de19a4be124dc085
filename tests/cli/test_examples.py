"""examples/ run as a user runs them (a subprocess, small, in a tmp folder); README and docs/api.md code runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pipeline.io import open_run, read_manifest

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 3
N_TRAIN = 1078  # digits' 1797 samples, 60% train (plain_pytorch, lightning_record)
N_TRAIN_DYNAMIC = 1437  # 80% train (dynamic_pruning, lightning_dynamic)


def kept(n: int, rate: float) -> int:
    return n - int(np.floor(rate * n + 0.5))  # DESIGN §9: N − round(rate·N), halves up


def run_example(name: str, tmp_path: Path, *args: str) -> tuple[Path, dict, str]:
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "examples" / name), "--epochs", str(EPOCHS), "--out", str(out), *args]
    res = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, f"{name} failed:\n{res.stdout}\n{res.stderr}"
    return out, json.loads((out / "result.json").read_text()), res.stdout


def check_recorded_and_selected(out: Path, result: dict, stdout: str) -> None:
    run = open_run(out / "run")  # an ordinary run: what `prune score` reads
    assert (run.n, run.epochs, run.inits, run.num_classes) == (N_TRAIN, EPOCHS, 1, 10)
    assert np.all(np.isfinite(run.array("logits")[:]))
    ev = run.eval_table()
    assert sorted(ev.filter(ev["split"] == "val")["epoch"].unique().to_list()) == list(range(EPOCHS))
    m = read_manifest(out / "keep.parquet")
    assert len(m.sample) == kept(N_TRAIN, 0.5) == result["n_kept"]
    np.testing.assert_array_equal(m.target, run.targets[m.sample])
    assert m.meta["method"] == "ccs" and m.meta["scores"]["method"] == "tdds"
    assert m.meta["scores"]["parameters"]["window"] == EPOCHS
    assert m.fingerprint == run.fingerprint
    for key in ("full_test_acc", "subset_test_acc"):
        assert 0.1 < result[key] <= 1.0  # better than chance on 10 classes, even after 3 epochs
        assert f"{result[key]:.4f}" in stdout


def test_plain_pytorch(tmp_path):
    check_recorded_and_selected(*run_example("plain_pytorch.py", tmp_path))


def test_lightning_record(tmp_path):
    pytest.importorskip("lightning")
    check_recorded_and_selected(*run_example("lightning_record.py", tmp_path))


def test_transformers_record(tmp_path):
    pytest.importorskip("transformers")
    out, result, stdout = run_example("transformers_record.py", tmp_path)
    run = open_run(out / "run")  # 800 synthetic sequences, 4 classes, recorded through a Hugging Face Trainer
    assert (run.n, run.epochs, run.inits, run.num_classes) == (800, EPOCHS, 1, 4)
    assert np.all(np.isfinite(run.array("logits")[:]))
    ev = run.eval_table()
    assert sorted(ev.filter(ev["split"] == "val")["epoch"].unique().to_list()) == list(range(EPOCHS))
    m = read_manifest(out / "keep.parquet")
    assert len(m.sample) == kept(800, 0.5) == result["n_kept"]
    assert m.meta["method"] == "ccs" and m.meta["scores"]["method"] == "tdds" and m.fingerprint == run.fingerprint
    for key in ("full_test_acc", "subset_test_acc"):
        assert 0.0 <= result[key] <= 1.0 and f"{result[key]:.4f}" in stdout
    assert result["full_test_acc"] > 0.25  # better than chance on 4 classes after 3 epochs


@pytest.mark.parametrize("script,method", [("dynamic_pruning.py", "infobatch"), ("lightning_dynamic.py", "rcap")])
def test_dynamic_pruning(tmp_path, script, method):
    if script.startswith("lightning"):
        pytest.importorskip("lightning")
    _, result, stdout = run_example(script, tmp_path, "--method", method, "--rate", "0.5")
    assert result["full_passes"] == EPOCHS * N_TRAIN_DYNAMIC
    if method == "rcap":  # exactly N − round(rate·N) samples every epoch
        assert result["pruned_passes"] == EPOCHS * kept(N_TRAIN_DYNAMIC, 0.5)
    else:  # epoch 0 trains on all (no losses yet), the last 12.5% of epochs too; the middle one prunes
        assert 2 * N_TRAIN_DYNAMIC < result["pruned_passes"] < EPOCHS * N_TRAIN_DYNAMIC
    assert 0.1 < result["pruned_test_acc"] <= 1.0 and f"{result['pruned_test_acc']:.4f}" in stdout
    assert f"{result['pruned_passes']}" in stdout


# -- the README's "In your own training loop" snippets, run as written after a small prelude

PRELUDE = """
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

x, y = load_digits(return_X_y=True)
x, y = torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)
train_set, train_labels = TensorDataset(x[:1200], y[:1200]), y[:1200]
x_val, y_val = x[1200:], y[1200:]
E = 10
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def readme_snippets() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## In your own training loop", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_loop_snippets_run_as_written(tmp_path):
    plain, lightning, dynamic = readme_snippets()
    assert "RecordCallback" in lightning  # the Lightning snippet is examples/lightning_record.py's pattern
    check = textwrap.dedent("""
        from pipeline import open_run, read_manifest
        assert open_run("runs/mine").epochs == E
        assert len(small) == len(read_manifest("keep.parquet").sample) == 1200 - 600
        assert sampler.epoch == E - 1
        print("ok")
    """)
    script = tmp_path / "snippets.py"
    script.write_text(PRELUDE + plain + PRELUDE + dynamic + check)
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stdout + res.stderr


# -- docs/api.md's code blocks, run in order on a small synthetic run

@pytest.fixture
def registries():
    from pipeline.score import registry
    from pipeline.select import catalog

    live = (registry.METHODS, catalog.SAMPLERS, catalog.QUOTAS)
    saved = [r.snapshot() for r in live]
    yield
    for r, before in zip(live, saved):
        r.restore(before)


def test_api_doc_snippets_run_as_written(tmp_path, monkeypatch, registries):
    from typer.testing import CliRunner

    from pipeline import read_scores, score
    from pipeline.cli import app
    from pipeline.record.synthetic import write_run

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    n = 60
    write_run("runs/mine", rng.normal(size=(1, 8, n, 3)).astype(np.float32), np.arange(n) % 3)
    imports, user_score, user_sampler, user_table = re.findall(
        r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), flags=re.S)
    ns: dict = {}
    exec(imports, ns)
    exec(user_score, ns)
    assert ns["s"].meta["parameters"] == {"epoch": 5} and ns["s"].meta["higher_is_harder"] is False
    ns["scores"] = score("runs/mine", "tdds", window=4)
    exec(user_sampler, ns)
    assert len(ns["sel"]) == kept(n, 0.5) and ns["sel"].meta["parameters"] == {"skip": 20}
    ns.update(n=n, my_scores=rng.random(n))
    exec(user_table, ns)
    assert read_scores("mine.parquet").higher_is_harder is True
    res = CliRunner().invoke(app, ["select", "--method", "ccs", "--rate", "0.5", "--scores", "mine.parquet",
                                   "--run", "runs/mine", "--out", "keep.parquet"])
    assert res.exit_code == 0 and "provenance is unknown" in res.output, res.output
