"""Record overhead: `prune record` vs the same training with recording off.

Both run the same loop, seed, data and hyper-parameters, and both evaluate val
and test every epoch; the only difference is the recording hook (logits
scattered into sample order, one Zarr slice and one dynamics Parquet file per
epoch). Runs alternate so drift on the machine hits both alike.

    python bench/record_overhead.py [--data mnist1d] [--repeats 3] [--eval-pass]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="mnist1d")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--eval-pass", action="store_true", help="also time record --eval-pass")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()

    from pipeline.record.run import record
    from pipeline.train.run import train

    quiet = lambda _m: None  # noqa: E731
    times: dict[str, list[float]] = {"train (no recording)": [], "record": []}
    if a.eval_pass:
        times["record --eval-pass"] = []
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        # untimed warm-up: first-call costs (imports, allocator, data cache) would land on whichever runs first
        train(manifest=None, run=Path(tmp) / "none", data=a.data, data_dir=None, model=None, epochs=2, batch_size=None,
              lr=None, seed=0, device=a.device, name="warmup", out=Path(tmp) / "warmup", log=quiet)
        for _ in range(a.repeats):
            for label in times:
                t0 = time.perf_counter()
                if label.startswith("record"):
                    record(run=run, data=a.data, data_dir=None, download=False, model=None, epochs=a.epochs, inits=1, seed=0,
                           batch_size=None, lr=None, device=a.device, eval_pass="eval" in label, checkpoints="final",
                           logits_dtype="float16", force=True, log=quiet)
                else:
                    train(manifest=None, run=run if (run / "run.json").exists() else Path(tmp) / "none", data=a.data,
                          data_dir=None, model=None, epochs=a.epochs, batch_size=None, lr=None, seed=0, device=a.device,
                          name="full", out=Path(tmp) / "train", log=quiet, force=True)
                times[label].append(time.perf_counter() - t0)
    base = statistics.median(times["train (no recording)"])
    print(f"data={a.data} device={a.device} torch_threads={torch.get_num_threads()} repeats={a.repeats}")
    for label, ts in times.items():
        med = statistics.median(ts)
        print(f"{label:24s} median {med:7.2f}s  (runs: {', '.join(f'{t:.2f}' for t in ts)})  overhead {100 * (med / base - 1):+.1f}%")


if __name__ == "__main__":
    main()
