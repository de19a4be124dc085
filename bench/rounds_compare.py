"""Active learning and iterative pruning with `prune rounds` on MNIST-1D: the tables of docs/rounds.md.

    python bench/rounds_compare.py acquire --seeds 0,1,2     # entropy vs random acquisition, 2% → 10% labelled
    python bench/rounds_compare.py prune --seeds 0,1,2       # 3 rounds to rate 0.7 vs one shot, TDDS + CCS

Every configuration is one `prune rounds` command per seed (printed before it
runs) into ``--out`` (default runs/bench-rounds); a rerun reuses finished
rounds. The table is the test accuracy (and worst-class accuracy) of each
round's model, mean ± std over seeds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

CONFIGS = {
    "acquire": {
        "entropy": ["--strategy", "acquire", "--start-frac", "0.02", "--final-frac", "0.1", "--iterations", "4",
                    "--method", "entropy"],
        "random": ["--strategy", "acquire", "--start-frac", "0.02", "--final-frac", "0.1", "--iterations", "4",
                   "--method", "random"],
    },
    "prune": {
        "iterative (3 rounds)": ["--strategy", "prune", "--final-frac", "0.3", "--iterations", "3", "--method", "tdds",
                                 "--sampler", "ccs"],
        "one-shot": ["--strategy", "prune", "--final-frac", "0.3", "--iterations", "1", "--method", "tdds",
                     "--sampler", "ccs"],
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", choices=sorted(CONFIGS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default="runs/bench-rounds")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    frames = []
    for label, args in CONFIGS[a.which].items():
        for seed in seeds:
            name = f"{a.which}-{label.split()[0]}-s{seed}"
            cmd = ["prune", "rounds", "--run", a.out, "--name", name, *args, "--seed", str(seed)]
            print(" ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            df = pl.read_parquet(Path(a.out) / "rounds" / name / "results.parquet")
            frames.append(df.with_columns(pl.lit(label).alias("config"), pl.lit(seed).alias("seed")))
    df = pl.concat(frames)
    print(f"\n{a.which} on MNIST-1D, test split, mean ± std over seeds {a.seeds}")
    print(f"{'config':<22} {'round':>5} {'model':<6} {'fraction':>8} {'test accuracy':>17} {'worst-class acc':>17}")
    for (config, rnd, model), g in df.group_by(["config", "round", "model"], maintain_order=True):
        acc, worst = g["accuracy"].to_numpy(), g["worst_class_accuracy"].to_numpy()
        print(f"{config:<22} {rnd:>5} {model:<6} {g['fraction'][0]:>8.4f} {100 * acc.mean():>9.2f} ± {100 * acc.std():<5.2f}"
              f" {100 * worst.mean():>9.2f} ± {100 * worst.std():<5.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
