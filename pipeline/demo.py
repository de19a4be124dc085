"""``prune demo``: record MNIST-1D, then a preset sweep (full data vs random vs TDDS + CCS) and its report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from pipeline.io import PruneError

TDDS_WINDOW = 10  # TDDS's default window J (the authors'); the demo uses the defaults


#: A demo compares a few rates; more would take hours (each rate trains every method) and print unreadable lines.
MAX_RATES = 10


def _shown(spec: str, width: int = 60) -> str:
    return repr(spec) if len(spec) <= width else repr(spec[:width]) + f"… ({len(spec)} characters)"


def _rates(spec: str) -> list[float]:
    try:
        rates = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise PruneError(f"--rates must be comma-separated numbers, got {_shown(spec)}") from None
    if not rates or any(not 0 < r < 1 for r in rates):
        raise PruneError(f"--rates must be fractions in (0, 1), got {_shown(spec)}")
    if len(rates) > MAX_RATES:
        raise PruneError(f"--rates names {len(rates)} rates; the demo compares at most {MAX_RATES} (every rate "
                         "trains every method): `prune sweep` takes a grid of any size")
    return rates


def _every_tenth_epoch(log: Callable[[str], None]) -> Callable[[str], None]:
    """Record's progress lines, one in ten epochs (and the last), so minutes of recording are not silent."""
    import re

    def say(msg: str) -> None:
        m = re.search(r"epoch\s+(\d+)/(\d+)", msg)
        if m is None or int(m.group(1)) % 10 == 0 or m.group(1) == m.group(2):
            log("  " + msg)

    return say


def demo_spec(rates: list[float], epochs: int | None, seed: int):
    """The demo's sweep: full data, random and TDDS + CCS (CCS's default β) at each rate, one seed."""
    from pipeline.sweep.grid import build_spec
    from pipeline.sweep.run import probe

    return build_spec(given={"scores": ["tdds"], "methods": ["random", "ccs"], "rates": rates}, config=None,
                      name="demo", epochs=epochs, seeds=[seed], full=None, probe=probe)


def demo(*, run: Path, rates: str, epochs: int | None, seed: int, device: str, jobs: int | None = None,
         threads: int | None = None, log: Callable[[str], None] = print) -> list[dict]:
    """Record, then a preset sweep (full data, random and TDDS + CCS at each rate, one seed) and its report."""
    import polars as pl
    from rich.console import Console
    from rich.table import Table

    from pipeline.api.functions import record
    from pipeline.report.run import report
    from pipeline.sweep.run import cores, sweep

    rate_list = _rates(rates)
    if epochs is not None and epochs < TDDS_WINDOW:  # checked before the recording, not at the TDDS step after it
        raise PruneError(f"--epochs must be at least {TDDS_WINDOW}: the demo scores TDDS over windows of "
                         f"{TDDS_WINDOW} epochs")
    jobs = jobs or min(2, cores())
    spec = demo_spec(rate_list, epochs, seed)
    run = Path(run)
    ep = [] if epochs is None else ["--epochs", str(epochs)]

    def say_cmd(*words: str) -> None:
        log("$ prune " + " ".join(words))

    t0 = time.perf_counter()
    say_cmd("record", "--run", str(run), "--seed", str(seed), *ep, "--force")
    t = time.perf_counter()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    record(run, data="mnist1d", epochs=epochs, seed=seed, device=device, checkpoints="final", force=True,
           log=_every_tenth_epoch(log))
    log(f"  recorded {run} in {time.perf_counter() - t:.1f}s")

    rate_words = ",".join(f"{r:g}" for r in rate_list)
    extra = ([] if jobs == 1 else ["--jobs", str(jobs)]) + ([] if threads is None else ["--threads", str(threads)])
    say_cmd("sweep", "--run", str(run), "--name", "demo", "--scores", "tdds", "--methods", "random,ccs", "--rates",
            rate_words, "--seeds", str(seed), *ep, *extra)
    df = sweep(run=run, spec=spec, jobs=jobs, threads=threads, device=device, log=lambda m: log("  " + m))
    say_cmd("report", "--run", str(run), "--sweep", "demo")
    path = report(run=run, sweep="demo", log=lambda m: log("  " + m))

    labels = {"full": "full data", "random": "random", "ccs": "tdds + ccs"}
    rows = [{"method": labels[r["method"]], "rate": r["rate"], "n_train": r["n_kept"], "accuracy": r["accuracy"],
             "worst_class_accuracy": r["worst_class_accuracy"], "seconds": r["seconds"]}
            for r in df.sort(pl.col("rate").fill_null(-1.0), pl.col("method").replace({"random": "a"}))
            .iter_rows(named=True)]
    table = Table(title=f"MNIST-1D, test split, seed {seed} ({time.perf_counter() - t0:.0f}s in all)")
    for col, just in (("method", "left"), ("rate", "right"), ("kept", "right"), ("accuracy", "right"),
                      ("worst-class acc", "right"), ("train s", "right")):
        table.add_column(col, justify=just)
    for r in rows:
        table.add_row(r["method"], "—" if r["rate"] is None else f"{r['rate']:g}", str(r["n_train"]),
                      f"{r['accuracy']:.4f}", f"{r['worst_class_accuracy']:.4f}", f"{r['seconds']:.1f}")
    Console().print(table)
    log(f"report: {path / 'report.html'}")
    return rows
