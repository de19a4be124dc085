"""Where DRoP's class errors come from: random + `--quota drop` with recalls read `final`, `best` or `mean`.

    python bench/drop_recalls.py --run runs/mnist1d --rates 0.3,0.5,0.7,0.9 --seeds 0,1,2

Records the run first if it is missing (the default MNIST-1D recording).
For every source of the validation recalls (``prune select --recalls
final|best|mean``), rate and seed it selects a random subset under DRoP's
quota and trains on it (``prune train`` with the run's recipe), then prints the
recalls each source gives and test / worst-class / validation accuracy, mean ±
std over seeds. Results go to RUN/bench-drop/.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pipeline import open_run, record, select, train
from pipeline.io.run import RECALL_SOURCES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/mnist1d")
    ap.add_argument("--rates", default="0.3,0.5,0.7,0.9")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sources", default=",".join(RECALL_SOURCES))
    a = ap.parse_args()
    run = Path(a.run)
    if not (run / "run.json").exists():
        print(f"recording {run} (MNIST-1D, the default recipe)", flush=True)
        record(run)
    r = open_run(run)
    rates = [float(x) for x in a.rates.split(",")]
    seeds = [int(x) for x in a.seeds.split(",")]
    sources = a.sources.split(",")
    out = run / "bench-drop"
    for how in sources:
        rec = r.val_recalls(how)
        print(f"recalls ({how}): " + " ".join(f"{x:.3f}" for x in rec), flush=True)
    rows = []
    for how in sources:
        for rate in rates:
            res = []
            for seed in seeds:
                folder = out / f"{how}-{rate:g}-s{seed}"
                metrics = folder / "metrics.json"
                if not metrics.exists():
                    sel = select(None, rate, method="random", quota="drop", targets=r.targets, classes=r.classes,
                                 recalls=r.val_recalls(how), seed=seed)
                    sel.meta["fingerprint"] = r.fingerprint
                    manifest = out / f"{folder.name}.parquet"
                    out.mkdir(parents=True, exist_ok=True)
                    sel.write(manifest)
                    train(manifest, run=run, seed=seed, out=folder, force=True)

                m = json.loads(metrics.read_text())
                res.append((m["accuracy"], m["worst_class_accuracy"], m["best"]["val_accuracy"]))
            v = 100 * np.asarray(res)
            rows.append((how, rate, v.mean(0), v.std(0)))
            print(f"{how:<6} rate {rate:<4g} test {v[:, 0].mean():6.2f} ± {v[:, 0].std():4.2f}   worst class "
                  f"{v[:, 1].mean():6.2f} ± {v[:, 1].std():4.2f}   val (best epoch) {v[:, 2].mean():6.2f}", flush=True)


if __name__ == "__main__":
    main()
