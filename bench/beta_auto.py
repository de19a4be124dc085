"""`prune select --beta auto` against CCS's default β and random pruning, with the trainings that follow.

    python bench/beta_auto.py --run runs/mnist1d --scores tdds,aum,aum:space=prob --rates 0.7,0.9 --seeds 0,1,2

Records the run first if it is missing (the default MNIST-1D recording) and
computes the score tables it lacks (``aum:space=prob`` → RUN/scores/aum.space=prob.parquet).
For each score table, rate and seed it runs

    prune select --method ccs --beta auto      (4 trial trainings + 1 on a random subset, chosen by val accuracy)
    prune select --method ccs                  (CCS's default β: by rate)
    prune select --method random

and trains a model on each manifest (``prune train``, the run's recipe, the
same seed). It prints test accuracy and worst-class accuracy, mean ± std over
seeds, the β each seed chose, and how often ``--beta auto`` warned that random
pruning had a higher validation accuracy. Results go to RUN/bench-beta-auto/
(rerunning skips finished trainings).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from pipeline import open_run, record, score, train
from pipeline.io import read_manifest
from pipeline.api.tune import select_words as select_stage


def table_of(run: Path, spec: str) -> Path:
    name, *opts = spec.split(":")
    path = run / "scores" / f"{spec.replace(':', '.')}.parquet"
    if not path.exists():
        params = {k: v for k, _, v in (o.partition("=") for o in opts)}
        score(run, name, out=path, **params)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/mnist1d")
    ap.add_argument("--scores", default="tdds,aum,aum:space=prob")
    ap.add_argument("--rates", default="0.7,0.9")
    ap.add_argument("--seeds", default="0,1,2")
    a = ap.parse_args()
    run = Path(a.run)
    if not (run / "run.json").exists():
        print(f"recording {run} (MNIST-1D, the default recipe)", flush=True)
        record(run)
    open_run(run)
    out = run / "bench-beta-auto"
    out.mkdir(exist_ok=True)
    rates = [float(x) for x in a.rates.split(",")]
    seeds = [int(x) for x in a.seeds.split(",")]
    t0 = time.perf_counter()

    def trained(key: str, seed: int, make) -> dict:
        """metrics.json of the training on the manifest ``make(path)`` writes (skipped when already there)."""
        folder = out / key
        if not (folder / "metrics.json").exists():
            manifest = out / f"{key}.parquet"
            make(manifest)
            train(manifest, run=run, seed=seed, out=folder, force=True)
        m = json.loads((folder / "metrics.json").read_text())
        m["manifest_meta"] = read_manifest(out / f"{key}.parquet").meta
        return m

    rows = []
    for rate in rates:
        for spec in ["random", *a.scores.split(",")]:
            for mode in (["-"] if spec == "random" else ["default", "auto"]):
                res = []
                for seed in seeds:
                    key = f"{spec.replace(':', '.')}-{mode}-r{rate:g}-s{seed}"

                    def make(path, spec=spec, mode=mode, seed=seed):
                        if spec == "random":
                            select_stage(run=run, method="random", rate=rate, scores=None, out=path, keep="hard",
                                         quota="none", beta=None, strata=None, seed=seed, log=lambda _m: None,
                                         beta_grid=None, tune_epochs=None, device="auto")
                        else:
                            select_stage(run=run, method="ccs", rate=rate, scores=str(table_of(run, spec)), out=path,
                                         keep="hard", quota="none", beta="auto" if mode == "auto" else None,
                                         strata=None, seed=seed, log=lambda m: print("   ", m, flush=True),
                                         beta_grid=None, tune_epochs=None, device="auto")
                    res.append(trained(key, seed, make))
                    print(f"{key}: test {res[-1]['accuracy']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
                acc = np.array([m["accuracy"] for m in res]) * 100
                worst = np.array([m["worst_class_accuracy"] for m in res]) * 100
                betas = [m["manifest_meta"]["parameters"].get("beta") for m in res]
                warned = sum(1 for m in res if "beta_auto" in m["manifest_meta"]
                             and m["manifest_meta"]["beta_auto"]["random_val_accuracy"]
                             > max(m["manifest_meta"]["beta_auto"]["val_accuracy"].values()))
                rows.append((rate, spec if spec == "random" else f"{spec} + ccs ({mode} β)", acc, worst, betas,
                             warned if mode == "auto" else None))
    print(f"\n{run}: test split, mean ± std over seeds {a.seeds} (% accuracy)\n")
    print("| rate | method | test accuracy | worst class | β per seed | warned (random better on val) |")
    print("|---|---|---|---|---|---|")
    for rate, name, acc, worst, betas, warned in rows:
        b = " / ".join("—" if x is None else f"{x:g}" for x in betas)
        print(f"| {rate:g} | {name} | {acc.mean():.2f} ± {acc.std(ddof=1):.2f} | {worst.mean():.2f} ± "
              f"{worst.std(ddof=1):.2f} | {b} | {'' if warned is None else f'{warned}/{len(seeds)}'} |")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
