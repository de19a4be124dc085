"""The numbers of a report: a sweep's results summarised over seeds, hyper-parameters chosen by validation.

``choose_by_validation`` is the rule of docs/design.md §11: where a sweep tried several
values of a method's hyper-parameters (CCS's and D2's β, D2's γ, where the DRoP
quota reads its class recalls), the combination kept for each (score, sampler,
quota, rate, budget, CDB-W) is the one with the highest mean *validation*
accuracy over seeds (the DRoP val split, final epoch); its *test* accuracy is
what the report shows. Test accuracy never takes part in the choice.
"""

from __future__ import annotations

import math

import numpy as np
from typing import Any

from pipeline.io.tables import SWEEP_HYPER as HYPER, SWEEP_METHOD_KEYS as GROUP, summarise_sweep

#: How tables name the hyper-parameters chosen by validation (pipeline.io.tables.SWEEP_HYPER).
SYMBOL = {"beta": "β", "gamma": "γ", "recalls": "recalls"}


def _score_name(spec: str) -> str:
    """A sweep's score spec as the report names it: ``aum``, ``aum (space=prob)`` (``aum:space=prob``)."""
    name, _, opts = spec.partition(":")
    return name if not opts else f"{name} ({opts.replace(':', ', ')})"


def label(row: dict[str, Any]) -> str:
    """How the report names a method: ``tdds + ccs``, ``random + drop``, ``full data``, ``el2n + topk (keep easy)``."""
    if row["method"] == "full":
        f = row.get("epochs_fraction")
        base = "full data" + ("" if f is None else f", {f:g} of the epochs")
    elif row["method"].startswith("dynamic:"):
        base = f"{row['method'][len('dynamic:'):]} (dynamic)"
    else:
        base = row["method"] if row["score"] is None else f"{_score_name(row['score'])} + {row['method']}"
        if row["keep"] != "hard":
            base += f" (keep {row['keep']})"
        if row["quota"] != "none":
            base += f" + {row['quota']}"
    return base + ("" if row["budget"] == "epochs" else f", {row['budget']}") + (", cdbw" if row["cdbw"] else "")


def choose_by_validation(df):
    """One row per (method, rate): the cell whose hyper-parameters (β, γ, recalls, jointly) have the best mean
    validation accuracy, with its test metrics. Test accuracy takes no part in the choice.

    Adds ``label``, ``tried`` (how many cells competed), ``betas`` (their β, in order) and ``varied`` (the
    names of the hyper-parameters that differed among them). Ties go to the cell listed first in the sweep.
    """
    import polars as pl

    cells = summarise_sweep(df).with_row_index("_order")  # mean and std over seeds, one row per cell
    chosen = (cells.sort(["val_accuracy_mean", "_order"], descending=[True, False])
              .group_by([*GROUP, "rate"], maintain_order=True)
              .agg(pl.all().first(), pl.len().alias("tried"), pl.col("beta").alias("betas"),
                   *[pl.col(h).n_unique().alias(f"_n_{h}") for h in HYPER])
              .sort("_order").drop("_order"))
    varied = [[h for h in HYPER if r[f"_n_{h}"] > 1] for r in chosen.iter_rows(named=True)]
    return (chosen.drop([f"_n_{h}" for h in HYPER])
            .with_columns(pl.Series("label", [label(r) for r in chosen.iter_rows(named=True)]),
                          pl.Series("varied", varied, dtype=pl.List(pl.String))))


def against_random(chosen):
    """Test accuracy minus that of plain random pruning (quota none, no CDB-W) at the same rate, under the same
    budget where random ran under it, else under the epochs budget; None where none ran (and for the reference)."""
    def plain(r) -> bool:
        return r["method"] == "random" and r["quota"] == "none" and not r["cdbw"]

    ref = {(r["rate"], r["budget"]): r["accuracy_mean"] for r in chosen.iter_rows(named=True) if plain(r)}
    out = []
    for r in chosen.iter_rows(named=True):
        key = (r["rate"], r["budget"]) if (r["rate"], r["budget"]) in ref else (r["rate"], "epochs")
        out.append(None if key not in ref or plain(r) and key == (r["rate"], r["budget"])
                   else r["accuracy_mean"] - ref[key])
    return out


def random_gaps(chosen, df) -> list[list[float] | None]:
    """Seed by seed, each row's test accuracy minus random's at the same rate (the reference of
    :func:`against_random`), over the seeds both ran: the same seed draws both subsets, so the spread of these
    gaps is the one to judge a difference by. None where :func:`against_random` is None."""
    import polars as pl

    def plain(r) -> bool:
        return r["method"] == "random" and r["quota"] == "none" and not r["cdbw"]

    ref = {(r["rate"], r["budget"]): r["cell"] for r in chosen.iter_rows(named=True) if plain(r)}
    acc = {(c, sd): a for c, sd, a in df.select("cell", "seed", "accuracy").iter_rows()}
    out: list[list[float] | None] = []
    for r, d in zip(chosen.iter_rows(named=True), against_random(chosen)):
        if d is None:
            out.append(None)
            continue
        key = (r["rate"], r["budget"]) if (r["rate"], r["budget"]) in ref else (r["rate"], "epochs")
        seeds = df.filter(pl.col("cell") == r["cell"])["seed"].to_list()
        out.append([acc[(r["cell"], sd)] - acc[(ref[key], sd)] for sd in seeds if (ref[key], sd) in acc])
    return out


def gap_text(gaps: list[float] | None) -> str:
    """``+0.53 ± 0.20`` (mean ± sample std of the seed-by-seed gaps, in points), ``+0.53 (1 seed)``, or ""."""
    if not gaps:
        return ""
    g = 100 * np.asarray(gaps)
    if len(g) < 2:
        return f"{g[0]:+.2f} (1 seed)"
    m, sd = g.mean(), g.std(ddof=1)
    return f"{m:+.2f} ± {sd:.2f}" + (" (noise)" if abs(m) <= sd else "")


def against_budget_matched(chosen) -> list[float | None]:
    """Test accuracy minus that of full data trained for the same end-to-end cost (``--full-budgets``: full data
    with fewer epochs), interpolated linearly between the budget-matched cells and full data at 1.0; None
    where no such cells ran, outside their range, and for the full-data cells themselves."""
    full = sorted((r["cost_mean"], r["accuracy_mean"]) for r in chosen.iter_rows(named=True)
                  if r["method"] == "full" and r["cost_mean"] is not None)
    out: list[float | None] = []
    for r in chosen.iter_rows(named=True):
        c = r["cost_mean"]
        if len(full) < 2 or r["method"] == "full" or c is None or not full[0][0] <= c <= full[-1][0]:
            out.append(None)
            continue
        k = next(i for i in range(1, len(full)) if c <= full[i][0])
        (c0, a0), (c1, a1) = full[k - 1], full[k]
        out.append(r["accuracy_mean"] - (a0 + (a1 - a0) * (c - c0) / (c1 - c0) if c1 > c0 else a1))
    return out


def fmt(mean: float, std: float, seeds: int, pct: bool = True) -> str:
    k = 100.0 if pct else 1.0
    return f"{k * mean:.2f}" if seeds < 2 else f"{k * mean:.2f} ± {k * std:.2f}"


def _is_set(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def hyper_names(chosen) -> list[str]:
    """The hyper-parameters that any row of the table has a value of (β alone in most sweeps)."""
    return [h for h in HYPER if any(_is_set(v) for v in chosen[h].to_list())]


def hyper_header(names: list[str], tuned: bool = True) -> str:
    """The table's column of the values used: ``β (by val)`` when β is all there is and several were tried
    (validation chose), plain ``β`` when each row had one."""
    text = "β" if names in ([], ["beta"]) else ", ".join(SYMBOL[h] for h in names)
    return text + (" (by val)" if tuned else "")


def beta_text(row: dict[str, Any], names: tuple[str, ...] | list[str] = ("beta",)) -> str:
    """The values a row's selection used, ``0.1 (of 3)`` (β only) or ``β 0.1, recalls mean (of 6)``;
    "(of N)": N cells competed on validation accuracy."""
    set_ = [h for h in names if _is_set(row.get(h))]
    if not set_:
        return "—"
    if list(names) == ["beta"]:
        text = f"{row['beta']:g}"
    else:
        text = ", ".join(f"{SYMBOL[h]} {row[h]:g}" if isinstance(row[h], float) else f"{SYMBOL[h]} {row[h]}"
                         for h in set_)
    return text + (f" (of {row['tried']})" if row["tried"] > 1 else "")


def paper_value(row: dict[str, Any], published: list[dict[str, Any]]) -> str:
    """The published test accuracy (%) that a row of a preset sweep compares with, or "" (see
    :mod:`pipeline.sweep.presets`: each entry names the cells it compares with)."""
    hits = []
    for p in published:
        if (row["method"] in p["methods"] and row["score"] == p.get("score") and row["quota"] == p.get("quota", "none")
                and row["rate"] is not None and math.isclose(row["rate"], p["rate"])
                and row["keep"] == "hard" and p.get("budget") in (None, row["budget"])
                and p.get("cdbw") in (None, row["cdbw"])):
            hits.append(f"{p['accuracy']:g}")
    return " / ".join(hits)


def cost_text(cost) -> str:
    """End-to-end cost in full-data trainings (docs/cost.md); "?" where the query is unknown."""
    return "?" if not _is_set(cost) else f"{cost:.2f}"


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: none as cheap or cheaper with higher accuracy (ties in
    both: the first listed), in increasing cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1], i))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def results_rows(chosen, published: list[dict[str, Any]] | None = None, df=None) -> tuple[list[str], list[list[str]]]:
    """The report's table: test accuracy and worst-class accuracy (%) per method and rate, hyper-parameters
    chosen by val; with ``published`` (a paper preset's numbers) a ``paper %`` column beside the measured one."""
    names = hyper_names(chosen)
    matched = any(f is not None for f in chosen["epochs_fraction"].to_list())
    tuned = any(t > 1 for t in chosen["tried"].to_list())
    hyper = [hyper_header(names, tuned)] if names else []  # no column where no row has a value
    header = ["method", "rate", "kept", *hyper, "cost", "test accuracy %",
              *(["paper %"] if published is not None else []), "worst-class %", "val accuracy %",
              "Δ test vs random", *(["Δ vs full, same cost"] if matched else []), "seeds"]
    rows = []
    gaps = random_gaps(chosen, df) if df is not None else [None] * chosen.height
    for r, d, dm, g in zip(chosen.iter_rows(named=True), against_random(chosen), against_budget_matched(chosen), gaps):
        rows.append([r["label"], "—" if r["rate"] is None else f"{r['rate']:g}", str(r["n_kept"]),
                     *([beta_text(r, names)] if names else []), cost_text(r.get("cost_mean")),
                     fmt(r["accuracy_mean"], r["accuracy_std"], r["seeds"]),
                     *([paper_value(r, published)] if published is not None else []),
                     fmt(r["worst_class_accuracy_mean"], r["worst_class_accuracy_std"], r["seeds"]),
                     fmt(r["val_accuracy_mean"], r["val_accuracy_std"], r["seeds"]),
                     (gap_text(g) if g else "") if df is not None else ("" if d is None else f"{100 * d:+.2f}"),
                     *([("" if dm is None else f"{100 * dm:+.2f}")] if matched else []), str(r["seeds"])])
    return header, rows


def figure_labels(chosen):
    """Labels for figures: a method whose hyper-parameters were chosen by validation at some rate says which,
    ``tdds + ccs (β by val)``."""
    import polars as pl

    tuned: dict[str, list[str]] = {}
    for r in chosen.iter_rows(named=True):
        if r["tried"] > 1:
            names = tuned.setdefault(r["label"], [])
            names += [h for h in (r["varied"] or []) if h not in names]
    def name(lab: str) -> str:
        if lab not in tuned:
            return lab
        what = ", ".join(SYMBOL[h] for h in HYPER if h in tuned[lab]) or "β"
        return f"{lab} ({what} by val)"

    return chosen.with_columns(pl.Series("label", [name(lab) for lab in chosen["label"].to_list()]))
