"""``prune report``: a folder (report.md, report.html, PNGs) that shows a run and its sweep (docs/design.md §11).

Reads only artifacts: RUN/run.json, RUN/dynamics, RUN/scores/*.parquet, a
sweep's results.parquet and manifests, and the data set itself (for the
pictures of samples). The report is written into a hidden folder and swapped
into place, so a failed report never leaves half a folder; an earlier report
in the same place is replaced (it is derived, nothing is lost), any other
non-empty folder is refused.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.io import PruneError, layout, open_run, read_json, read_manifest, read_scores, write_json
from pipeline.io.tables import read_sweep_results
from pipeline.io.folders import staged
from pipeline.report import figures as F
from pipeline.report import tables as T

REPORT_JSON = "report.json"
N_EXAMPLES = 8


def is_report(path: Path) -> bool:
    try:
        doc = read_json(path / REPORT_JSON)
    except (PruneError, OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("artifact") == "report"


def find_sweep(run: Path, name: str | None) -> Path | None:
    """RUN/sweeps/NAME, or (no name) the sweep whose results.parquet is newest; None when the run has none."""
    root = Path(run) / layout.SWEEPS
    if name is not None:
        p = Path(name) if layout.sweep_results(name).exists() else layout.sweep_dir(run, name)
        if not layout.sweep_results(p).exists():
            have = sorted(q.parent.name for q in root.glob(f"*/{layout.SWEEP_RESULTS}")) if root.is_dir() else []
            hint = f" (this run has: {', '.join(have)})" if have else " (this run has none: run `prune sweep` first)"
            raise PruneError(f"--sweep {name}: no {layout.SWEEP_RESULTS} in {p}{hint}")
        return p
    found = sorted(root.glob(f"*/{layout.SWEEP_RESULTS}"), key=lambda q: q.stat().st_mtime_ns) if root.is_dir() else []
    return found[-1].parent if found else None


class Doc:
    """The report's content as blocks, rendered both as Markdown and as HTML."""

    def __init__(self):
        self.blocks: list[tuple] = []

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def img(self, file: str, caption: str):
        self.blocks.append(("img", file, caption))

    def table(self, header: list[str], rows: list[list[str]]):
        self.blocks.append(("table", header, rows))

    def markdown(self) -> str:
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append("#" * b[1] + " " + b[2])
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "img":
                out.append(f"![{b[2]}]({b[1]})\n\n*{b[2]}*")
            else:
                header, rows = b[1], b[2]
                out.append("\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                                      *["| " + " | ".join(r) + " |" for r in rows]]))
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        e = html.escape
        body = []
        for b in self.blocks:
            if b[0] == "h":
                body.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                body.append(f"<p>{e(b[1])}</p>")
            elif b[0] == "img":
                body.append(f'<figure><img src="{e(b[1])}" alt="{e(b[2])}"><figcaption>{e(b[2])}</figcaption></figure>')
            else:
                head = "".join(f"<th>{e(c)}</th>" for c in b[1])
                rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in b[2])
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        style = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}"
                 "img{max-width:100%}figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}"
                 "table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em;"
                 "text-align:right}td:first-child,th:first-child{text-align:left}thead{background:#f3f3f3}")
        return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
                f"<style>{style}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def report(*, run: Path, sweep: str | None = None, out: Path | None = None, rate: float | None = None,
           manifest: Path | None = None, score: str | None = None, log: Callable[[str], None] = print) -> Path:
    """Write the report folder (default RUN/report) and return its path."""
    r = open_run(run)
    folder = find_sweep(run, sweep)
    if manifest is not None:  # checked at the door: a report never shows another data set's selection
        m = read_manifest(manifest)
        if m.fingerprint is not None and m.fingerprint != r.fingerprint:
            raise PruneError(f"--manifest {manifest} was made for other data than run {run} (fingerprint "
                             f"{str(m.fingerprint)[:12]}…, run {r.fingerprint[:12]}…)")
        if len(m.sample) and int(m.sample[-1]) >= r.n_total:
            raise PruneError(f"--manifest {manifest} names sample {int(m.sample[-1])}; run {run} has {r.n_total}")
    if score is not None:
        tables = layout.scores_dir(run)
        have = sorted(q.stem for q in tables.glob("*.parquet")) if tables.is_dir() else []
        if score not in have:
            raise PruneError(f"--score {score}: run {run} has no such score table (it has: "
                             f"{', '.join(have) or 'none'}; `prune score --method {score}` makes it)")
    out = Path(out) if out is not None else Path(run) / "report"
    # an old report is replaced (it is made from the run); anything else in --out is refused
    with staged(out, what="report", recognise=is_report, force=True, flag="--out") as partial:
        doc, summary = build(r, folder, partial, rate=rate, manifest=manifest, score=score, log=log)
        title = f"prune report: {r.path}"
        (partial / "report.md").write_text(doc.markdown())
        (partial / "report.html").write_text(doc.html(title))
        write_json(partial / REPORT_JSON, {"artifact": "report", "run": str(r.path), "fingerprint": r.fingerprint,
                                           "sweep": None if folder is None else str(folder),
                                           "figures": [b[1] for b in doc.blocks if b[0] == "img"], **summary})
    return out


def likely_mislabelled(targets: np.ndarray, pred: np.ndarray, aum: np.ndarray, shown: int = N_EXAMPLES) -> np.ndarray:
    """The "likely mislabelled" row: samples whose label differs from the query model's prediction at its last
    epoch, lowest area under the margin first (Pleiss et al.; ties by sample id); at most ``shown``, none when the
    model got every training sample right."""
    wrong = np.flatnonzero(pred != targets)
    return wrong[np.argsort(aum[wrong], kind="stable")][:shown]


def mislabelled_rule(n_wrong: int, shown: int = N_EXAMPLES) -> str:
    """What the "likely mislabelled" row shows (``n_wrong`` training samples the query model got wrong at its last
    epoch; the row has room for ``shown``)."""
    if n_wrong == 0:
        return "none: the query model predicted every training sample's label at its last epoch"
    rule = "label ≠ the query model's prediction at its last epoch, lowest AUM first"
    return rule if n_wrong >= shown else f"{rule}; only {n_wrong} such sample{'s' if n_wrong > 1 else ''}"


def _preset_of(folder: Path) -> dict[str, Any] | None:
    """The paper preset a sweep ran (``prune sweep --preset``), as its sweep.json records it; None otherwise."""
    try:
        doc = read_json(folder / layout.SWEEP_JSON)
    except (PruneError, OSError, ValueError):
        return None
    preset = doc.get("preset") if isinstance(doc, dict) else None
    return preset if isinstance(preset, dict) and preset.get("name") else None


def _preset_text(preset: dict[str, Any]) -> str:
    """The report's paragraph on a preset sweep: the paper, its protocol, where the paper column comes from."""
    pub = preset.get("published") or []
    figures = "; ".join(f"{p['label']} at rate {p['rate']:g}: {p['accuracy']:g}% ({p['where']})" for p in pub)
    text = (f"Paper preset {preset['name']}: {preset.get('paper', '')}. Protocol: {preset.get('protocol', '')}. ")
    if figures:
        text += (f"The paper % column is the published test accuracy of the matching method and rate ({figures}); "
                 "an empty cell: the paper's figure is not transcribed here"
                 + (f" ({preset['not_transcribed']})." if preset.get("not_transcribed") else "."))
    else:
        text += f"No published figure is transcribed here: {preset.get('not_transcribed') or 'none was given'}."
    if preset.get("notes"):
        text += f" Departures from the paper: {preset['notes']}"
    return text


@dataclass
class _Page:
    """What every section of the report reads and writes: the query run, the document, the figures' folder."""

    r: Any  # the query run (pipeline.io.Run)
    doc: Doc
    out: Path  # figures are written here
    what: str  # the query run in words (figures.describe_run)
    classes: list[str]
    log: Callable[[str], None]


def build(r, folder: Path | None, out: Path, *, rate: float | None, manifest: Path | None, score: str | None,
          log) -> tuple[Doc, dict[str, Any]]:
    """The report of run ``r`` (figures written into ``out``) and the summary report.json keeps, section by section:
    the run in one line; its sweep ``folder``; its score tables; the data map; the samples per class kept by
    ``manifest`` (default: a pruned cell of the sweep at ``rate``); pictures of samples ranked by ``score``
    (default: the sweep's score)."""
    page = _Page(r=r, doc=Doc(), out=out, what=F.describe_run(r.info), classes=list(r.classes), log=log)
    page.doc.h(1, f"prune report: {r.path}")
    page.doc.p(f"Query run: {page.what}, {r.epochs} epochs, {r.inits} init{'s' if r.inits != 1 else ''}, "
               f"{r.n} training samples in "
               f"{len(page.classes)} classes (fingerprint {str(r.fingerprint)[:12]}…).")
    summary: dict[str, Any] = {}
    chosen_manifest = None
    if folder is not None:
        chosen_manifest, score = _sweep_section(page, folder, summary, rate=rate, score=score)
    tables = _score_tables(r, log)
    targets = r.targets
    if tables:
        _scores_section(page, tables, targets)
    last_pred, aum = _data_map_section(page)
    mpath = Path(manifest) if manifest is not None else chosen_manifest
    if mpath is not None and mpath.exists():
        _kept_section(page, mpath, targets)
    pick = next((t for t in tables if t[0] == score), tables[0] if tables else None)
    if pick is not None:
        _samples_section(page, pick, targets, last_pred, aum)
    return page.doc, summary


def _sweep_section(page: _Page, folder: Path, summary: dict[str, Any], *, rate: float | None,
                   score: str | None) -> tuple[Path | None, str | None]:
    """The sweep's results table (hyper-parameters chosen by validation) and its figures, into ``summary`` too.

    Returns the manifest of the first pruned method at the figures' rate (None without rated cells) and
    ``score``, or when None the first score the sweep pruned with."""
    import polars as pl

    doc = page.doc
    df = read_sweep_results(layout.sweep_results(folder))
    seeds = sorted(df["seed"].unique().to_list())
    epochs = sorted(df.filter((pl.col("method") == "full") & pl.col("epochs_fraction").is_null())["epochs"]
                    .unique().to_list()) or \
        sorted(df["epochs"].unique().to_list())
    chosen = T.choose_by_validation(df)
    n_cells = df["cell"].n_unique()
    preset = _preset_of(folder)
    doc.h(2, f"Sweep {folder.name}")
    doc.p(f"{n_cells} cells × {len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))}), "
          f"each trained for "
          f"{', '.join(map(str, epochs))} epochs (full-data budget); test split, "
          + ("mean ± std over seeds. " if len(seeds) > 1 else "one seed: no spread is known, so no difference "
             "below can be told from seed noise. ") +
          "The seed draws both the selection and the training. Where several values of a hyper-parameter "
          "(β, γ, where DRoP's quota reads class recalls) were tried, the combination shown has the best mean "
          "validation accuracy (final epoch, DRoP's val split); its test accuracy is reported, and test "
          "accuracy never takes part in the choice. Δ: test accuracy minus random pruning's at the same rate "
          "(under the same budget where random ran under it), in points, seed by seed (the same seed draws both), "
          "as mean ± std; (noise): the gap is not larger than its spread.")
    if preset is not None:
        doc.p(_preset_text(preset))
    header, rows = T.results_rows(chosen, None if preset is None else preset.get("published", []), df)
    doc.table(header, rows)
    doc.p("cost: end to end, in full-data trainings of the sweep's recipe; a static selection counts the recording "
          "that chose its subset (docs/cost.md), dynamic pruning only its own training."
          + (" Δ vs full, same cost: test accuracy minus that of full data trained for fewer epochs at the same "
             "cost (--full-budgets, interpolated between them); positive means pruning beat simply training "
             "less." if "Δ vs full, same cost" in header else ""))
    summary["table"] = {"header": header, "rows": rows}
    summary["hyper"] = T.hyper_names(chosen)
    if preset is not None:
        summary["preset"] = preset
    chosen_manifest = None
    if chosen.filter(pl.col("rate").is_not_null()).height:
        run_words = (f"{page.what}, {'/'.join(map(str, epochs))} epochs, "
                     f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}")
        chosen_manifest = _sweep_figures(page, folder, df, chosen, run_words, rate=rate, seed=seeds[0])
    summary["chosen"] = [{k: v for k, v in row.items() if k not in ("betas",)}
                         for row in chosen.drop("betas").iter_rows(named=True)]
    return chosen_manifest, score or next((s for s in df["score"].to_list() if s is not None), None)


def _sweep_figures(page: _Page, folder: Path, df, chosen, run_words: str, *, rate: float | None,
                   seed: int) -> Path | None:
    """Test and worst-class accuracy against the pruning rate, and per-class recall at ``rate`` (default: the
    highest); returns the keep.parquet of ``seed`` of the first pruned method there, else of random, else None."""
    import polars as pl

    doc, out = page.doc, page.out
    chosen_fig = T.figure_labels(chosen)
    several = df["seed"].n_unique() > 1
    stat, band = ("mean ± std", "band: ± one std over seeds") if several else ("1 seed", "one seed, so no band")
    name = F.metric_vs_rate(chosen_fig, "accuracy", "test accuracy (%)",
                            f"Test accuracy vs pruning rate — {run_words} ({stat})", out, "accuracy_vs_rate.png")
    doc.img(name, "Test accuracy against the fraction of training samples removed; one line per method "
                  f"(hyper-parameters chosen by validation), {band}; dashed: full data.")
    name = F.metric_vs_rate(chosen_fig, "worst_class_accuracy", "worst-class test accuracy (%)",
                            f"Worst-class accuracy vs pruning rate — {run_words} ({stat})", out,
                            "worst_class_vs_rate.png")
    doc.img(name, "The lowest per-class test recall against the pruning rate (DRoP's robustness metric).")
    _cost_figure(page, chosen_fig, run_words)
    rates = sorted(chosen.filter(pl.col("rate").is_not_null())["rate"].unique().to_list())
    at = rates[-1] if rate is None else rate
    if at not in rates:
        raise PruneError(f"--rate {at:g} is not a rate of sweep {folder.name} ({', '.join(f'{x:g}' for x in rates)})")
    sel = chosen_fig.filter((pl.col("rate") == at) | (pl.col("method") == "full"))
    names, recalls = [], []
    for row in sel.iter_rows(named=True):
        vals = df.filter(pl.col("cell") == row["cell"])["class_recall"].to_list()
        names.append(row["label"])
        recalls.append(np.mean(np.asarray(vals, dtype=np.float64), axis=0))
    name = F.per_class_heatmap(names, page.classes, np.stack(recalls),
                               f"Per-class test recall at pruning rate {at:g} — {run_words} "
                               + ("(mean over seeds)" if several else "(1 seed)"),
                               out, "per_class_at_rate.png")
    doc.img(name, f"Per-class test recall (%) of each method at rate {at:g}, and of full data.")
    pruned = [row for row in sel.iter_rows(named=True) if row["method"] not in ("full", "random")]
    pick = pruned[0] if pruned else next((row for row in sel.iter_rows(named=True) if row["method"] != "full"), None)
    return None if pick is None else folder / "cells" / pick["cell"] / f"seed={seed}" / "keep.parquet"


def df_seeds(chosen) -> int:
    """The most seeds any row of the chosen table averaged."""
    return int(max(chosen["seeds"].to_list() or [1]))


def _cost_figure(page: _Page, chosen, run_words: str) -> None:
    """Test accuracy against end-to-end cost, the Pareto front marked, and which recipe to use for a budget."""
    import polars as pl

    known = chosen.filter(pl.col("cost_mean").is_not_null())
    if known.height < 2:
        return
    points = [(r["cost_mean"], r["val_accuracy_mean"]) for r in known.iter_rows(named=True)]
    front = T.pareto([(r["cost_mean"], r["accuracy_mean"]) for r in known.iter_rows(named=True)])
    name = F.accuracy_vs_cost(known, front, f"Test accuracy vs end-to-end cost — {run_words}", page.out,
                              "accuracy_vs_cost.png")
    page.doc.img(name, "Test accuracy against what each recipe cost end to end, in full-data trainings: a static "
                       "selection (circles) pays its query run as well as its training; dynamic pruning "
                       "(triangles) pays its own training only; full data (star) is 1.0. Numbers: pruning rates. "
                       "Dotted: the Pareto front (no recipe cheaper and more accurate). "
                       + ("Error bars: ± one std over seeds." if df_seeds(chosen) > 1 else "One seed: no error bars."))
    _amortised_figure(page, known, run_words)
    _gap_table(page, known)
    by_val = [known.row(i, named=True) for i in T.pareto(points)]  # chosen on validation, reported on test
    lines = [f"from {r['cost_mean']:.2f}: {r['label']}" + ("" if r["rate"] is None else f" at rate {r['rate']:g}")
             + f" (test {100 * r['accuracy_mean']:.2f}%)" for r in by_val]
    page.doc.p("For a budget of end-to-end cost, the recipe with the best validation accuracy that fits it, "
               "from the cost where it becomes the best "
               "(its test accuracy in brackets): " + "; ".join(lines) + ".")


#: Trainings one selected subset is reused for in the amortised cost plot (the query paid once for all).
REUSE = 5


def amortised(known, reuse: int = REUSE):
    """The rows with ``cost_mean`` per training when one subset is trained ``reuse`` times: the query's part is
    paid once, cost − query_cost · (1 − 1/reuse); full data and dynamic pruning pay no query and stay."""
    import polars as pl

    q = pl.col("query_cost_mean").fill_null(0.0)
    return known.with_columns((pl.col("cost_mean") - q * (1 - 1 / reuse)).alias("cost_mean"))


def _amortised_figure(page: _Page, known, run_words: str) -> None:
    """The cost plot again with the query amortised over :data:`REUSE` trainings of the same subset."""
    import polars as pl

    if not (known["query_cost_mean"].fill_null(0.0) > 0).any():  # no static cell: the plot would not move
        return
    again = amortised(known)
    front = T.pareto([(r["cost_mean"], r["accuracy_mean"]) for r in again.iter_rows(named=True)])
    name = F.accuracy_vs_cost(again, front, f"Test accuracy vs cost per training, one subset trained {REUSE} times "
                              f"— {run_words}", page.out, "accuracy_vs_cost_reused.png",
                              xlabel=f"cost per training (full-data trainings; the query run shared by {REUSE})")
    static = again.filter(pl.col("query_cost_mean").fill_null(0.0) > 0)
    page.doc.img(name, f"The same recipes when one selected subset is trained {REUSE} times (a sweep over "
                       f"hyper-parameters, several architectures): the query run is paid once, so each static "
                       f"training costs its own share plus 1/{REUSE} of the query. Dynamic pruning and full data "
                       f"pay no query and do not move. Static cells here cost from "
                       f"{static['cost_mean'].min():.2f} to {static['cost_mean'].max():.2f} per training.")


#: Accuracy gaps to full data (points) the report finds the cheapest recipe for.
GAPS = (0.1, 0.3, 1.0)


def _gap_table(page: _Page, known) -> None:
    """For each gap to full data, the cheapest recipe whose *validation* accuracy is within it of full data's;
    its test accuracy and cost are what the table shows (test accuracy takes no part in the choice)."""
    full = [r for r in known.iter_rows(named=True) if r["method"] == "full" and r.get("epochs_fraction") is None]
    if not full:
        return
    ref = full[0]
    rows = []
    for gap in GAPS:
        ok = [r for r in known.iter_rows(named=True)  # every recipe but the reference (shorter full data too)
              if not (r["method"] == "full" and r.get("epochs_fraction") is None)
              and 100 * (ref["val_accuracy_mean"] - r["val_accuracy_mean"]) <= gap]
        if not ok:
            rows.append([f"−{gap:g}", "none reaches it", "", "", ""])
            continue
        r = min(ok, key=lambda x: (x["cost_mean"], -x["val_accuracy_mean"]))
        rows.append([f"−{gap:g}", r["label"] + ("" if r["rate"] is None else f" at rate {r['rate']:g}"),
                     f"{r['cost_mean']:.2f}", T.fmt(r["accuracy_mean"], r["accuracy_std"], r["seeds"]),
                     f"{100 * (r['accuracy_mean'] - ref['accuracy_mean']):+.2f}"])
    page.doc.p("The cheapest recipe within each gap of full data's accuracy, chosen by validation accuracy "
               f"(full data: {100 * ref['val_accuracy_mean']:.2f}% on validation) and reported on test:")
    page.doc.table(["gap to full data (points, val)", "cheapest recipe", "cost", "test accuracy %",
                    "test Δ vs full"], rows)


def _score_tables(r, log) -> list[tuple[str, np.ndarray, bool | None]]:
    """(name, scores, higher is harder) of every score table of the run with one score per training sample,
    random's left out; a table that cannot be read is skipped with a note."""
    sdir = layout.scores_dir(r.path)
    paths = sorted(sdir.glob("*.parquet")) if sdir.is_dir() else []
    tables = []
    for p in paths:
        try:
            s = read_scores(p)
        except PruneError as err:
            log(f"note: skipping {p}: {err}")
            continue
        if len(s.score) == r.n and s.meta.get("method") != "random":
            tables.append((p.stem, s.score, s.higher_is_harder))
    return tables


def _scores_section(page: _Page, tables: list, targets: np.ndarray) -> None:
    page.doc.h(2, "Scores")
    name = F.score_distributions(tables, targets, page.classes, f"Score distributions per class — {page.what}, "
                                 f"{page.r.epochs}-epoch query run", page.out, "scores_by_class.png")
    page.doc.img(name, "Each score table of the run: the distribution of scores within each class (violin, "
                       "line at the median).")


def _data_map_section(page: _Page) -> tuple[np.ndarray, np.ndarray]:
    """Dataset cartography of the query run; returns init 0's prediction at the last epoch of each sample and its
    area under the margin (mean logit margin over epochs and inits,
    as ``prune score --method aum``)."""
    import polars as pl

    r = page.r
    dyn = (r.dynamics().group_by("sample")
           .agg(pl.col("p_true").mean().alias("confidence"), pl.col("p_true").std(ddof=0).alias("variability"),
                pl.col("correct").cast(pl.Float64).mean().alias("correctness"), pl.col("margin").mean().alias("aum"))
           .sort("sample").collect())
    last = (r.dynamics().filter(pl.col("epoch") == pl.col("epoch").max()).filter(pl.col("init") == 0)
            .select("sample", "pred").sort("sample").collect())
    conf, var, corr = (dyn[c].to_numpy() for c in ("confidence", "variability", "correctness"))
    page.doc.h(2, "Data map")
    name = F.data_map(conf, var, corr, f"Data map (dataset cartography) — {page.what}, {r.epochs}-epoch query run, "
                      f"{r.n} training samples", page.out, "data_map.png")
    page.doc.img(name, "Each training sample's mean and std over epochs (and inits) of the query model's probability "
                       "of its label (Swayamdipta et al. 2020), coloured by the fraction of epochs it was predicted "
                       "right.")
    return last["pred"].to_numpy(), dyn["aum"].to_numpy()


def _kept_section(page: _Page, mpath: Path, targets: np.ndarray) -> None:
    """Training samples per class in the full set and kept by the manifest at ``mpath``."""
    m = read_manifest(mpath)
    full_counts = np.bincount(targets, minlength=len(page.classes))
    kept_counts = np.bincount(targets[m.sample], minlength=len(page.classes))
    meth = m.meta.get("method", "?")
    sc = (m.meta.get("scores") or {}).get("method")
    desc = f"{sc + ' + ' if sc else ''}{meth}, quota {m.meta.get('quota', 'none')}, rate {m.meta.get('rate')}"
    page.doc.h(2, "Kept samples per class")
    name = F.kept_vs_full(page.classes, full_counts, kept_counts,
                          f"Kept vs full training samples per class — {desc} ({len(m.sample)} of {page.r.n} kept)",
                          page.out, "kept_vs_full.png")
    page.doc.img(name, f"Training samples per class in the full set and kept by {mpath} ({desc}); the label "
                       "over each bar is the share kept.")


def _samples_section(page: _Page, pick: tuple, targets: np.ndarray, pred: np.ndarray, aum: np.ndarray) -> None:
    """Pictures of the hardest and easiest samples by the score table ``pick`` and of the likely mislabelled ones
    (:func:`likely_mislabelled`), when the run's data set loads here."""
    r, c = page.r, page.classes
    try:
        from pipeline.data import load_dataset

        x = load_dataset(r.dataset, data_dir=r.info.get("data_dir")).train.x
        x = x.numpy() if hasattr(x, "numpy") else None
    except Exception as err:  # the run's data may be the user's own, not loadable here
        page.log(f"note: no sample pictures: cannot load {r.dataset} ({err})")
        return
    if x is None or len(x) != r.n:
        return
    method, values, hard_high = pick
    hard_high = True if hard_high is None else hard_high
    order = np.argsort(-values if hard_high else values, kind="stable")
    hardest, easiest = order[:N_EXAMPLES], order[::-1][:N_EXAMPLES]
    likely = likely_mislabelled(targets, pred, aum)

    def cap(ids, with_pred=False):
        return [f"#{i} label {c[targets[i]]}" + (f"\nsays {c[pred[i]]}, AUM {aum[i]:.2f}"
                                                  if with_pred else f"\n{method} {values[i]:.3g}") for i in ids]

    rule = mislabelled_rule(int((pred != targets).sum()))
    groups = [(f"hardest by {method}", hardest, cap(hardest)), (f"easiest by {method}", easiest, cap(easiest))]
    if len(likely):
        groups.append(("likely mislabelled", likely, cap(likely, True)))
    page.doc.h(2, "Samples")
    name = F.examples(x, groups, f"Training samples of {page.what}: the {N_EXAMPLES} hardest and easiest by "
                      f"{method}" + (f", and {len(likely)} likely mislabelled ({rule})" if len(likely) else ""),
                      page.out, "samples.png")
    page.doc.img(name, f"Top rows: the hardest and easiest samples by {method} (label and score). "
                       + (f"Bottom row, likely mislabelled: {rule}, with the model's prediction at its last epoch and "
                          "the sample's area under the margin." if len(likely) else f"Likely mislabelled: {rule}."))
