"""``prune demo``: record MNIST-1D, then a preset sweep (full data vs random vs AUM + CCS vs InfoBatch, three seeds)
and its report.

The preset is where pruning shows a difference beyond the spread over seeds on
MNIST-1D (README's closing sweep: AUM in CCS's probability space with CCS, at
rates 0.7 and 0.9), and the table says what each row cost end to end: a
static selection pays for its query run (the recording, one full-data
training with the same recipe) as well as for its own training; dynamic
pruning (InfoBatch) pays no query.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from pipeline.io import PruneError

SEEDS = 3  # enough for a mean ± std; each adds one training of every cell
#: CCS's β in the demo: the value validation accuracy chose at rate 0.9 in the closing sweep on MNIST-1D (README,
#: bench/closing_sweep.toml); CCS's own default (its CIFAR-10 table: 0.3 at rate 0.9) fell below random there.
BETA = 0.1


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


def demo_spec(rates: list[float], epochs: int | None, seed: int, seeds: int = SEEDS):
    """The demo's sweep: full data, random and AUM + CCS (CCS's own score space and default β) at each rate."""
    from pipeline.sweep.grid import build_spec
    from pipeline.sweep.run import probe

    return build_spec(given={"scores": ["aum"], "methods": ["random", "ccs"], "rates": rates, "beta": [BETA],
                             "dynamic": ["infobatch"]}, config=None,
                      name="demo", epochs=epochs, seeds=[seed + i for i in range(seeds)], full=None, probe=probe)


def demo(*, run: Path, rates: str, epochs: int | None, seed: int, device: str, jobs: int | None = None,
         threads: int | None = None, seeds: int = SEEDS, log: Callable[[str], None] = print) -> list[dict]:
    """Record, then a preset sweep (full data, random and AUM + CCS at each rate, ``seeds`` seeds) and its report."""
    from pipeline.api.functions import record
    from pipeline.report.run import report
    from pipeline.sweep.run import cores, sweep

    rate_list = _rates(rates)
    if not isinstance(seeds, int) or not 1 <= seeds <= 10:
        raise PruneError(f"--seeds is how many seeds each cell trains with, 1 to 10; got {seeds}")
    if epochs is not None and epochs < 1:
        raise PruneError(f"--epochs must be at least 1, got {epochs}")
    jobs = jobs or min(2, cores())
    spec = demo_spec(rate_list, epochs, seed, seeds)
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
    say_cmd("sweep", "--run", str(run), "--name", "demo", "--scores", "aum", "--methods", "random,ccs", "--rates",
            rate_words, "--beta", f"{BETA:g}", "--dynamic", "infobatch", "--seeds", ",".join(str(s) for s in spec.seeds),
            *ep, *extra)
    df = sweep(run=run, spec=spec, jobs=jobs, threads=threads, device=device, log=lambda m: log("  " + m))
    say_cmd("report", "--run", str(run), "--sweep", "demo")
    path = report(run=run, sweep="demo", log=lambda m: log("  " + m))
    rows = summary_rows(df)
    seeds = f"{len(spec.seeds)} seed{'s' if len(spec.seeds) != 1 else ''}"
    print_table(rows, f"MNIST-1D, test split, {seeds} ({time.perf_counter() - t0:.0f}s in all)")
    log("cost: sample passes end to end, in full-data trainings (a static selection counts its query run, 1.00; "
        "dynamic pruning has none); "
        "Δ: the gap to random seed by seed, mean ± std; (noise): smaller than its spread")
    log(f"report: {path / 'report.html'}")
    return rows


LABELS = {"full": "full data", "random": "random", "ccs": "aum + ccs", "dynamic:infobatch": "infobatch (dynamic)"}
#: The order of a rate's rows: random first (the reference of Δ), then the static selection, then the dynamic one.
ORDER = {"full": 0, "random": 1, "ccs": 2, "dynamic:infobatch": 3}


def summary_rows(df) -> list[dict]:
    """One row per (method, rate): mean and sample std over seeds; for a scored method, its gap to random at the
    same rate, seed by seed (the same seed draws both), as mean ± std; the end-to-end cost."""
    import numpy as np

    by_seed = {(r["method"], r["rate"], r["seed"]): r for r in df.iter_rows(named=True)}
    rows = []
    for (method, rate), cell in sorted(df.group_by(["method", "rate"]), key=lambda kv: (
            -1.0 if kv[0][1] is None else kv[0][1], ORDER.get(kv[0][0], len(ORDER)))):
        acc, worst = cell["accuracy"].to_numpy(), cell["worst_class_accuracy"].to_numpy()
        row = {"method": LABELS.get(method, method), "rate": rate, "n_train": int(cell["n_kept"][0]),
               "cost": float(cell["cost"].mean()), "seeds": len(acc),
               "accuracy": float(acc.mean()), "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
               "worst_class_accuracy": float(worst.mean()),
               "worst_std": float(worst.std(ddof=1)) if len(worst) > 1 else 0.0, "delta": None, "delta_std": None}
        if method not in ("full", "random"):
            gaps = np.array([r["accuracy"] - by_seed[("random", rate, r["seed"])]["accuracy"]
                             for r in cell.iter_rows(named=True) if ("random", rate, r["seed"]) in by_seed])
            if len(gaps):
                row["delta"] = float(gaps.mean())
                row["delta_std"] = float(gaps.std(ddof=1)) if len(gaps) > 1 else None
        rows.append(row)
    return rows


def _pm(mean: float, std: float, n: int) -> str:
    return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if n > 1 else "")


def print_table(rows: list[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("method", "rate", "kept", "cost", "test acc %", "worst class", "Δ vs random"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in rows:
        if r["delta"] is None:
            delta = ""
        elif r["delta_std"] is None:
            delta = f"{100 * r['delta']:+.2f} (1 seed)"
        else:
            beyond = abs(r["delta"]) > r["delta_std"]
            delta = f"{100 * r['delta']:+.2f} ± {100 * r['delta_std']:.2f}" + ("" if beyond else " (noise)")
        table.add_row(r["method"], "—" if r["rate"] is None else f"{r['rate']:g}", str(r["n_train"]),
                      f"{r['cost']:.2f}", _pm(r["accuracy"], r["accuracy_std"], r["seeds"]),
                      _pm(r["worst_class_accuracy"], r["worst_std"], r["seeds"]), delta)
    console = Console()
    Console(width=max(console.width, 100)).print(table)  # a log or a pipe gets the table whole (rich assumes 80)
