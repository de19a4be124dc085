"""The report's figures: PNGs drawn with matplotlib's headless Agg backend.

Each function draws one figure into ``out`` and returns its file name. Titles
say what was run (data set, model, epochs, seeds); axes carry their units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

DPI = 110
#: the least range of an accuracy axis, in points: a gap of 0.5 points looks like one
MIN_SPAN = 3.0
#: the cost plot shows down to this many points below full data; a recipe further down is marked on the floor
FAR_BELOW = 10.0


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": DPI, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
                         "axes.spines.right": False, "font.size": 10})
    return plt


def _save(fig, out: Path, name: str) -> str:
    fig.savefig(out / name, dpi=DPI, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return name


def metric_vs_rate(chosen, metric: str, ylabel: str, title: str, out: Path, name: str) -> str:
    """One line per method over pruning rates (mean over seeds, band ± std); full data as a horizontal line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    rows = list(chosen.iter_rows(named=True))
    rows = [r for r in rows if r.get("epochs_fraction") is None]  # budget-matched full data: the cost plot's
    full = [r for r in rows if r["method"] == "full"]
    labels = list(dict.fromkeys(r["label"] for r in rows if r["method"] != "full"))
    rates = sorted({r["rate"] for r in rows if r["rate"] is not None})
    colors = plt.get_cmap("tab10")
    markers = "osD^v<>pX*"
    for i, lab in enumerate(labels):
        pts = sorted((r["rate"], r[f"{metric}_mean"], r[f"{metric}_std"]) for r in rows if r["label"] == lab)
        x = np.array([100 * p[0] for p in pts])
        m = np.array([100 * p[1] for p in pts])
        s = np.array([100 * p[2] for p in pts])
        c = colors(i % 10)
        ax.plot(x, m, marker=markers[i % len(markers)], color=c, label=lab, lw=1.8, ms=5)
        ax.fill_between(x, m - s, m + s, color=c, alpha=0.15, lw=0)
    for j, f in enumerate(full):
        m, s = 100 * f[f"{metric}_mean"], 100 * f[f"{metric}_std"]
        ax.axhline(m, color="black", ls="--", lw=1.2, label=f["label"] + (f" ({m:.1f}%)"))
        if s > 0:
            ax.axhspan(m - s, m + s, color="black", alpha=0.07, lw=0)
    ax.set_xlabel("pruning rate (% of training samples removed)")
    ax.set_ylabel(ylabel)
    _at_least_span(ax)
    ax.set_xticks([100 * r for r in rates])
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, out, name)


def _at_least_span(ax, span: float = MIN_SPAN) -> None:
    """Widen the y axis (accuracy, %) to at least ``span`` points, so a few tenths of a point never fill the plot;
    kept at or below 100.5."""
    lo, hi = ax.get_ylim()
    if hi - lo < span:
        mid = min((lo + hi) / 2, 100.5 - span / 2)
        ax.set_ylim(mid - span / 2, mid + span / 2)


def accuracy_vs_cost(chosen, front: list[int], title: str, out: Path, name: str,
                     xlabel: str = "end-to-end cost (full-data trainings; the query run counted)") -> str:
    """Test accuracy against end-to-end cost (full-data trainings; a static selection's query counted): static
    cells as circles, dynamic ones as triangles, full data as a star at 1.0; error bars ± one std over seeds
    where there are several; the Pareto front as a step line. Rows without a known cost are left out."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    rows = [r for r in chosen.iter_rows(named=True) if r.get("cost_mean") is not None]
    colors = plt.get_cmap("tab10")
    labels = list(dict.fromkeys(r["label"] for r in rows if r["method"] != "full"))
    shown: set[str] = set()
    for r in rows:
        x, y, s = r["cost_mean"], 100 * r["accuracy_mean"], 100 * r["accuracy_std"] if r["seeds"] > 1 else 0.0
        if r["method"] == "full":
            if r.get("epochs_fraction") is None:
                ax.errorbar([x], [y], yerr=[s] if s else None, marker="*", ms=13, color="black", ls="none",
                            label=f"full data ({y:.1f}%)")
            continue
        i = labels.index(r["label"])
        dynamic = r["method"].startswith("dynamic:")
        ax.errorbar([x], [y], yerr=[s] if s else None, marker="^" if dynamic else "o", ms=6, color=colors(i % 10),
                    ls="none", capsize=2, label=None if r["label"] in shown else r["label"])
        shown.add(r["label"])
        if r["rate"] is not None:
            ax.annotate(f"{r['rate']:g}", (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7,
                        color=colors(i % 10))
    matched = sorted((r["cost_mean"], 100 * r["accuracy_mean"]) for r in rows if r["method"] == "full")
    if len(matched) > 1:  # full data with shorter schedules: what the same cost buys without pruning
        ax.plot([p[0] for p in matched], [p[1] for p in matched], color="black", marker="s", ms=4, lw=1.0,
                ls="--", label="full data, fewer epochs (budget-matched)", zorder=1)
    if len(front) > 1:
        pts = sorted((rows[i]["cost_mean"], 100 * rows[i]["accuracy_mean"]) for i in front)
        ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color="grey", lw=1.0, ls=":",
                label="Pareto front")
    full = [100 * r["accuracy_mean"] for r in rows if r["method"] == "full" and r.get("epochs_fraction") is None]
    if full:
        ax.axhline(full[0], color="black", ls="--", lw=0.8, alpha=0.5, zorder=0)
    _at_least_span(ax)
    if full:  # a diverged recipe (30%) must not flatten the rest: points far below full data sit on the floor
        floor = full[0] - FAR_BELOW
        lo, hi = ax.get_ylim()
        if lo < floor:
            ax.set_ylim(floor - 0.5, min(hi, 100.5))
            for r in rows:
                y = 100 * r["accuracy_mean"]
                if y < floor:
                    ax.annotate(f"↓ {y:.1f}%", (r["cost_mean"], floor), textcoords="offset points", xytext=(0, 2),
                                ha="center", fontsize=7, color="red")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, out, name)


def per_class_heatmap(names: Sequence[str], classes: Sequence[str], recalls: np.ndarray, title: str, out: Path,
                      name: str) -> str:
    """Methods × classes, mean test recall (%) written in each cell."""
    plt = _plt()
    recalls = 100 * np.asarray(recalls)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(classes) + 3.5), 0.5 * len(names) + 1.8))
    lo = float(np.floor(recalls.min() / 5) * 5)
    im = ax.imshow(recalls, cmap="viridis", vmin=lo, vmax=100, aspect="auto")
    ax.set_xticks(range(len(classes)), [str(c) for c in classes])
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("class")
    ax.grid(False)
    if len(classes) <= 20:
        for i in range(recalls.shape[0]):
            for j in range(recalls.shape[1]):
                v = recalls[i, j]
                ax.text(j, i, f"{v:.1f}" if lo >= 80 else f"{v:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if v < lo + 0.6 * (100 - lo) else "black")
    fig.colorbar(im, ax=ax, label="test recall (% of the class correct)")
    ax.set_title(title, fontsize=10)
    return _save(fig, out, name)


def score_distributions(tables: list[tuple[str, np.ndarray, bool | None]], targets: np.ndarray,
                        classes: Sequence[str], title: str, out: Path, name: str) -> str:
    """One panel per score table: the scores' distribution in each class (violins with the median)."""
    plt = _plt()
    k = len(tables)
    cols = min(3, k)
    rows = (k + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows), squeeze=False)
    C = len(classes)
    for ax, (method, values, hard_high) in zip(axes.flat, tables):
        ylabel = f"{method} score"
        if (values > 0).all() and np.quantile(values, 0.99) > 20 * np.median(values):
            values = np.log10(values)  # heavy right tail (TDDS): violins on a linear axis are flat lines
            ylabel = f"log10({method} score)"
        data = [values[targets == c] for c in range(C)]
        keep = [i for i, d in enumerate(data) if len(d) > 1]
        if len(np.unique(values)) <= 20:  # a count (forgetting): violins collapse, show the mean ± std per class
            means = [data[i].mean() for i in keep]
            stds = [data[i].std() for i in keep]
            ax.bar(keep, means, yerr=stds, color="tab:blue", alpha=0.7, capsize=3)
            method = f"{method} mean ± std"
        else:
            parts = ax.violinplot([data[i] for i in keep], positions=keep, showmedians=True, widths=0.8)
            for body in parts["bodies"]:
                body.set_alpha(0.6)
        ax.set_xticks(range(C), [str(c) for c in classes], fontsize=8 if C <= 12 else 6)
        end = {True: "higher = harder", False: "lower = harder", None: "hard end unknown"}[hard_high]
        ax.set_title(f"{method} ({end})", fontsize=9)
        ax.set_xlabel("class")
        ax.set_ylabel(ylabel)
    for ax in list(axes.flat)[k:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out, name)


def data_map(confidence: np.ndarray, variability: np.ndarray, correctness: np.ndarray, title: str, out: Path,
             name: str) -> str:
    """Dataset cartography (Swayamdipta et al. 2020): confidence vs variability, coloured by correctness."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.4, 5.4))
    n = len(confidence)
    if n <= 20_000:
        order = np.argsort(-correctness, kind="stable")  # the rarely-correct samples drawn last, on top
        art = ax.scatter(variability[order], confidence[order], c=correctness[order], cmap="RdYlBu", vmin=0,
                         vmax=1, s=6 if n < 5_000 else 3, alpha=0.5, lw=0, rasterized=True)
        what = "correctness (fraction of epochs predicted right)"
    else:  # a million points hide one another: hexagons, coloured by the mean correctness of the samples in each
        art = ax.hexbin(variability, confidence, C=correctness, reduce_C_function=np.mean, gridsize=70,
                        cmap="RdYlBu", vmin=0, vmax=1, mincnt=1, linewidths=0)
        what = "mean correctness of the samples in a hexagon"
    fig.colorbar(art, ax=ax, label=what, orientation="horizontal", pad=0.14, fraction=0.05)
    ax.set_xlabel("variability (std over epochs of p(true label))")
    ax.set_ylabel("confidence (mean over epochs of p(true label))")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    # the regions named outside the axes, beside their part of the plot, never over the points
    kw = dict(fontsize=8, color="0.25", transform=ax.transAxes, ha="left", clip_on=False)
    ax.text(1.02, 0.97, "easy to learn\n(high confidence,\nlow variability)", va="top", **kw)
    ax.text(1.02, 0.5, "ambiguous\n(high variability)", va="center", **kw)
    ax.text(1.02, 0.03, "hard to learn\n(or mislabelled)", va="bottom", **kw)
    ax.set_title(title + ("" if n <= 20_000 else f" ({n:,} samples, binned)"), fontsize=10)
    return _save(fig, out, name)


def kept_vs_full(classes: Sequence[str], full: np.ndarray, kept: np.ndarray, title: str, out: Path, name: str) -> str:
    """Bars per class: samples in the full training set and kept by the manifest, with the kept share."""
    plt = _plt()
    C = len(classes)
    fig, ax = plt.subplots(figsize=(max(6.5, 0.6 * C + 2), 4.2))
    x = np.arange(C)
    ax.bar(x - 0.2, full, 0.4, label="full training set", color="0.7")
    ax.bar(x + 0.2, kept, 0.4, label="kept", color="tab:blue")
    if C <= 30:
        for i in range(C):
            share = 100 * kept[i] / full[i] if full[i] else 0
            ax.text(x[i] + 0.2, kept[i], f"{share:.0f}%", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [str(c) for c in classes], fontsize=8 if C <= 20 else 6)
    ax.set_xlabel("class")
    ax.set_ylabel("training samples (count)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    ax.set_title(title, fontsize=10)
    return _save(fig, out, name)


def examples(x: np.ndarray, groups: list[tuple[str, np.ndarray, list[str]]], title: str, out: Path, name: str) -> str:
    """Rows of training samples (one row per group, e.g. hardest/easiest/likely mislabelled) with captions.

    1-D signals (MNIST-1D: (channels, length)) are line plots; images ((C, H, W)) are shown as images.
    """
    plt = _plt()
    n = max(len(ids) for _, ids, _ in groups)
    signal = x.ndim == 3  # (N, channels, length): 1-D signals
    fig, axes = plt.subplots(len(groups), n, figsize=(1.9 * n, 2.3 * len(groups) + 0.6), squeeze=False)
    for g, (group, ids, captions) in enumerate(groups):
        for j in range(n):
            ax = axes[g, j]
            if j >= len(ids):
                ax.set_visible(False)
                continue
            v = x[ids[j]]
            if signal:
                if g == len(groups) - 1:
                    ax.set_xlabel("position", fontsize=7)
                for ch in v:
                    ax.plot(ch, lw=1.3)
                ax.set_xticks([0, v.shape[-1] - 1])
                ax.tick_params(labelsize=6)
                ax.grid(False)
            else:
                img = np.moveaxis(v, 0, -1) if v.ndim == 3 else v
                img = img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
                lo, hi = float(img.min()), float(img.max())
                ax.imshow((img - lo) / (hi - lo + 1e-12), cmap="gray" if img.ndim == 2 else None)
                ax.set_xticks([])
                ax.set_yticks([])
            ax.set_title(captions[j], fontsize=7)
            if j == 0:
                ax.set_ylabel(group, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(h_pad=1.2)
    return _save(fig, out, name)


def describe_run(info: dict[str, Any]) -> str:
    """``MNIST-1D, cnn1d, 40 epochs``: what the query run was."""
    cfg = info.get("config", {})
    data = {"mnist1d": "MNIST-1D"}.get(info.get("data"), info.get("data"))
    return f"{data}, {cfg.get('model', '?')}"
