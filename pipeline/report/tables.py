"""The numbers of a report: a sweep's results summarised over seeds, hyper-parameters chosen by validation.

``choose_by_validation`` is the rule of DESIGN §11: where a sweep tried several
values of a method's hyper-parameter (CCS's β), the value kept for each
(score, sampler, quota, rate, budget, CDB-W) is the one with the highest mean
*validation* accuracy over seeds (the DRoP val split, final epoch); its *test*
accuracy is what the report shows. Test accuracy never takes part in the choice.
"""

from __future__ import annotations

import math
from typing import Any

GROUP = ["score", "method", "quota", "keep", "budget", "cdbw"]  # a "method" of the report: one line of a figure
METRICS = ("accuracy", "worst_class_accuracy", "val_accuracy", "balanced_accuracy")


def _score_name(spec: str) -> str:
    """A sweep's score spec as the report names it: ``aum``, ``aum (space=prob)`` (``aum:space=prob``)."""
    name, _, opts = spec.partition(":")
    return name if not opts else f"{name} ({opts.replace(':', ', ')})"


def label(row: dict[str, Any]) -> str:
    """How the report names a method: ``tdds + ccs``, ``random + drop``, ``full data``, ``el2n + topk (keep easy)``."""
    if row["method"] == "full":
        base = "full data"
    elif row["method"].startswith("dynamic:"):
        base = f"{row['method'][len('dynamic:'):]} (dynamic)"
    else:
        base = row["method"] if row["score"] is None else f"{_score_name(row['score'])} + {row['method']}"
        if row["keep"] != "hard":
            base += f" (keep {row['keep']})"
        if row["quota"] != "none":
            base += f" + {row['quota']}"
    return base + ("" if row["budget"] == "epochs" else f", {row['budget']}") + (", cdbw" if row["cdbw"] else "")


def per_cell(df):
    """Mean and sample std (ddof 1; 0 for one seed) over seeds of every metric, one row per cell."""
    import polars as pl

    keys = ["cell", *GROUP, "rate"]
    return (df.with_row_index("_order")
            .group_by(keys, maintain_order=True)
            .agg(pl.col("_order").min(), pl.col("beta").first(), pl.col("n_kept").first(), pl.len().alias("seeds"),
                 *[pl.col(m).mean().alias(f"{m}_mean") for m in METRICS],
                 *[pl.col(m).std(ddof=1).fill_null(0.0).alias(f"{m}_std") for m in METRICS])
            .sort("_order").drop("_order"))


def choose_by_validation(df):
    """One row per (method, rate): the cell whose β has the best mean validation accuracy, with its test metrics.

    Adds ``label``, ``tried`` (how many β values competed) and ``betas`` (them, in order). Ties go to the
    cell listed first in the sweep.
    """
    import polars as pl

    cells = per_cell(df).with_row_index("_order")
    chosen = (cells.sort(["val_accuracy_mean", "_order"], descending=[True, False])
              .group_by([*GROUP, "rate"], maintain_order=True)
              .agg(pl.all().first(), pl.len().alias("tried"), pl.col("beta").alias("betas"))
              .sort("_order").drop("_order"))
    return chosen.with_columns(pl.Series("label", [label(r) for r in chosen.iter_rows(named=True)]))


def against_random(chosen):
    """Test accuracy minus that of plain random pruning (quota none) at the same rate; None where none ran."""
    ref = {r["rate"]: r["accuracy_mean"] for r in chosen.iter_rows(named=True)
           if r["method"] == "random" and r["quota"] == "none" and r["budget"] == "epochs" and not r["cdbw"]}
    return [None if r["rate"] not in ref or r["method"] == "random" and r["quota"] == "none" and r["budget"] == "epochs"
            and not r["cdbw"] else r["accuracy_mean"] - ref[r["rate"]] for r in chosen.iter_rows(named=True)]


def fmt(mean: float, std: float, seeds: int, pct: bool = True) -> str:
    k = 100.0 if pct else 1.0
    return f"{k * mean:.2f}" if seeds < 2 else f"{k * mean:.2f} ± {k * std:.2f}"


def beta_text(row: dict[str, Any]) -> str:
    b = row["beta"]
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return "—"
    return f"{b:g}" + (f" (of {row['tried']})" if row["tried"] > 1 else "")


def results_rows(chosen) -> tuple[list[str], list[list[str]]]:
    """The report's table: test accuracy and worst-class accuracy (%) per method and rate, β chosen by val."""
    header = ["method", "rate", "kept", "β (by val)", "test accuracy %", "worst-class %", "val accuracy %",
              "Δ test vs random", "seeds"]
    rows = []
    for r, d in zip(chosen.iter_rows(named=True), against_random(chosen)):
        rows.append([r["label"], "—" if r["rate"] is None else f"{r['rate']:g}", str(r["n_kept"]), beta_text(r),
                     fmt(r["accuracy_mean"], r["accuracy_std"], r["seeds"]),
                     fmt(r["worst_class_accuracy_mean"], r["worst_class_accuracy_std"], r["seeds"]),
                     fmt(r["val_accuracy_mean"], r["val_accuracy_std"], r["seeds"]),
                     "" if d is None else f"{100 * d:+.2f}", str(r["seeds"])])
    return header, rows


def figure_labels(chosen):
    """Labels for figures: a method whose β was chosen by validation at some rate says so."""
    import polars as pl

    tuned = {r["label"] for r in chosen.iter_rows(named=True) if r["tried"] > 1}
    return chosen.with_columns(pl.Series("label", [f"{lab} (β by val)" if lab in tuned else lab
                                                   for lab in chosen["label"].to_list()]))
