"""``prune demo``: the four stages on MNIST-1D, then full data vs random vs TDDS+CCS."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from pipeline.io import PruneError

TDDS_WINDOW = 10  # TDDS's default window J (the authors'); the demo uses the defaults


def _rates(spec: str) -> list[float]:
    try:
        rates = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise PruneError(f"--rates must be comma-separated numbers, got {spec!r}") from None
    if not rates or any(not 0 < r < 1 for r in rates):
        raise PruneError(f"--rates must be fractions in (0, 1), got {spec!r}")
    return rates


def demo(*, run: Path, rates: str, epochs: int | None, seed: int, device: str, log: Callable[[str], None] = print) -> list[dict]:
    from rich.console import Console
    from rich.table import Table

    from pipeline.record.run import record
    from pipeline.score.run import score
    from pipeline.select.run import select
    from pipeline.train.run import train

    rate_list = _rates(rates)
    if epochs is not None and epochs < TDDS_WINDOW:  # checked before the recording, not at the TDDS step after it
        raise PruneError(f"--epochs must be at least {TDDS_WINDOW}: the demo scores TDDS over windows of "
                         f"{TDDS_WINDOW} epochs")
    run = Path(run)
    ep = [] if epochs is None else ["--epochs", str(epochs)]
    quiet = lambda _msg: None  # noqa: E731 - the demo prints one line per stage instead of per epoch

    def say_cmd(*words: str) -> None:
        log("$ prune " + " ".join(words))

    t0 = time.perf_counter()
    say_cmd("record", "--run", str(run), "--seed", str(seed), *ep, "--force")
    t = time.perf_counter()
    record(run=run, data="mnist1d", data_dir=None, download=False, model=None, epochs=epochs, inits=1, seed=seed,
           batch_size=None, lr=None, device=device, eval_pass=False, checkpoints="final", logits_dtype="float16",
           force=True, log=quiet)
    log(f"  recorded {run} in {time.perf_counter() - t:.1f}s")

    say_cmd("score", "--method", "tdds", "--run", str(run))
    path, _, _ = score(run=run, method="tdds", params={}, out=None)
    log(f"  wrote {path}")

    rows = []

    def train_row(label: str, rate: float | None, manifest: Path | None, name: str) -> None:
        words = ["train", "--run", str(run), "--seed", str(seed), "--name", name, *ep]
        if manifest is not None:
            words[1:1] = ["--manifest", str(manifest)]
        say_cmd(*words)
        m = train(manifest=manifest, run=run, data=None, data_dir=None, model=None, epochs=epochs, batch_size=None, lr=None,
                  seed=seed, device=device, name=name, out=None, log=quiet, force=True)
        log(f"  test accuracy {m['accuracy']:.4f}, worst class {m['worst_class_accuracy']:.4f} ({m['seconds']:.1f}s)")
        rows.append({"method": label, "rate": rate, "n_train": m["n_train"], "accuracy": m["accuracy"],
                     "worst_class_accuracy": m["worst_class_accuracy"], "seconds": m["seconds"]})

    train_row("full data", None, None, "full")
    for rate in rate_list:
        for method, label in (("random", "random"), ("ccs", "tdds + ccs")):
            out = run / f"keep-{method}-{rate:g}.parquet"
            words = ["select", "--method", method, "--rate", f"{rate:g}", "--run", str(run), "--out", str(out), "--seed", str(seed)]
            if method == "ccs":
                words[5:5] = ["--scores", "tdds"]
            say_cmd(*words)
            select(run=run, method=method, rate=rate, scores="tdds" if method == "ccs" else None, out=out, keep="hard",
                   quota="none", beta=None, strata=50, seed=seed, log=quiet)
            train_row(label, rate, out, f"{method}-{rate:g}")

    table = Table(title=f"MNIST-1D, test split ({time.perf_counter() - t0:.0f}s in all)")
    for col, just in (("method", "left"), ("rate", "right"), ("kept", "right"), ("accuracy", "right"),
                      ("worst-class acc", "right"), ("train s", "right")):
        table.add_column(col, justify=just)
    for r in rows:
        table.add_row(r["method"], "—" if r["rate"] is None else f"{r['rate']:g}", str(r["n_train"]),
                      f"{r['accuracy']:.4f}", f"{r['worst_class_accuracy']:.4f}", f"{r['seconds']:.1f}")
    Console().print(table)
    return rows
