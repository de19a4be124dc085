"""Hyper-parameters chosen by validation accuracy (DESIGN §11): never by test."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipeline.report.tables import against_random, choose_by_validation, figure_labels, results_rows


def test_beta_is_chosen_by_validation_never_by_test():
    rows = []
    # beta 0.1 has the best test accuracy but the worse validation accuracy: 0.3 must be chosen
    for beta, val, test in ((0.1, (0.80, 0.82), (0.95, 0.97)), (0.3, (0.90, 0.88), (0.70, 0.72))):
        for seed in (0, 1):
            rows.append({"cell": f"aum+ccs-none-r0.9-beta{beta}", "score": "aum", "method": "ccs", "quota": "none",
                         "keep": "hard", "budget": "epochs", "cdbw": False, "rate": 0.9, "beta": beta, "n_kept": 10,
                         "seed": seed, "val_accuracy": val[seed], "accuracy": test[seed],
                         "worst_class_accuracy": 0.5, "balanced_accuracy": 0.6, "seconds": 1.0})
    chosen = choose_by_validation(pl.DataFrame(rows))
    assert chosen.height == 1
    row = chosen.row(0, named=True)
    assert row["beta"] == 0.3 and row["tried"] == 2 and row["label"] == "aum + ccs"
    assert row["accuracy_mean"] == pytest.approx(0.71) and row["val_accuracy_mean"] == pytest.approx(0.89)
    assert row["accuracy_std"] == pytest.approx(np.std([0.70, 0.72], ddof=1))


def test_against_random_is_the_difference_at_the_same_rate():
    base = {"score": None, "quota": "none", "keep": "hard", "budget": "epochs", "cdbw": False, "n_kept": 10,
            "worst_class_accuracy": 0.5, "balanced_accuracy": 0.6, "val_accuracy": 0.5, "beta": None, "seconds": 1.0}
    rows = [{**base, "cell": "random-none-r0.5", "method": "random", "rate": 0.5, "seed": 0, "accuracy": 0.80},
            {**base, "cell": "tdds+ccs-none-r0.5", "method": "ccs", "score": "tdds", "rate": 0.5, "seed": 0,
             "accuracy": 0.85},
            {**base, "cell": "tdds+ccs-none-r0.9", "method": "ccs", "score": "tdds", "rate": 0.9, "seed": 0,
             "accuracy": 0.60}]
    d = against_random(choose_by_validation(pl.DataFrame(rows)))
    assert d[0] is None and d[1] == pytest.approx(0.05) and d[2] is None


def _row(cell, seed, val, test, *, method="d2", quota="drop", beta=0.0, gamma=None, recalls=None, rate=0.5):
    return {"cell": cell, "score": None if method == "random" else "aum", "method": method, "quota": quota, "keep": "hard", "budget": "epochs",
            "cdbw": False, "rate": rate, "beta": beta, "gamma": gamma, "recalls": recalls, "n_kept": 10, "seed": seed,
            "val_accuracy": val, "accuracy": test, "worst_class_accuracy": 0.5, "balanced_accuracy": 0.6, "seconds": 1.0}


def test_beta_gamma_and_recalls_are_chosen_jointly_by_validation():
    """Four (γ, recalls) combinations of one method at one rate: the best mean val wins, whatever test says."""
    grid = {  # (gamma, recalls): (val per seed, test per seed)
        (0.1, "final"): ((0.70, 0.72), (0.99, 0.97)),  # the best test accuracy, the worst val
        (0.1, "mean"): ((0.80, 0.78), (0.60, 0.62)),
        (0.5, "final"): ((0.85, 0.87), (0.50, 0.52)),  # the best val: chosen
        (0.5, "mean"): ((0.86, 0.84), (0.90, 0.92)),  # mean val 0.85 < 0.86
    }
    rows = [_row(f"aum+d2-drop-r0.5-gamma{g:g}-recalls-{rc}", s, val[s], test[s], gamma=g, recalls=rc)
            for (g, rc), (val, test) in grid.items() for s in (0, 1)]
    rows += [_row("random-drop-r0.5-recalls-final", s, 0.9, 0.1, method="random", beta=None, recalls="final")
             for s in (0, 1)]
    rows += [_row("random-drop-r0.5-recalls-mean", s, 0.5, 0.95, method="random", beta=None, recalls="mean")
             for s in (0, 1)]
    chosen = choose_by_validation(pl.DataFrame(rows))
    assert chosen.height == 2
    d2, rnd = chosen.rows(named=True)
    assert (d2["gamma"], d2["recalls"], d2["tried"], d2["varied"]) == (0.5, "final", 4, ["gamma", "recalls"])
    assert d2["cell"] == "aum+d2-drop-r0.5-gamma0.5-recalls-final" and d2["label"] == "aum + d2 + drop"
    assert d2["accuracy_mean"] == pytest.approx(0.51) and d2["val_accuracy_mean"] == pytest.approx(0.86)
    assert (rnd["recalls"], rnd["tried"], rnd["varied"]) == ("final", 2, ["recalls"])
    assert rnd["accuracy_mean"] == pytest.approx(0.1)
    header, table = results_rows(chosen)
    assert header[3] == "β, γ, recalls (by val)"
    assert table[0][3] == "β 0, γ 0.5, recalls final (of 4)" and table[1][3] == "recalls final (of 2)"
    assert figure_labels(chosen)["label"].to_list() == ["aum + d2 + drop (γ, recalls by val)",
                                                        "random + drop (recalls by val)"]


def test_results_without_gamma_and_recalls_columns_still_report():
    """results.parquet of a sweep from before γ and recalls: β alone, as before."""
    rows = [{k: v for k, v in _row("aum+ccs-none-r0.9", 0, 0.8, 0.7, method="ccs", quota="none", beta=0.3).items()
             if k not in ("gamma", "recalls")}]
    chosen = choose_by_validation(pl.DataFrame(rows))
    header, table = results_rows(chosen)
    assert header[3] == "β" and table[0][3] == "0.3" and "paper %" not in header  # one β tried: no "(by val)"


def test_no_hyper_parameter_column_without_values_and_by_val_only_when_several_competed():
    rows = [_row("random-none-r0.9", 0, 0.8, 0.6, method="random", quota="none", beta=None, rate=0.9)]
    header, table = results_rows(choose_by_validation(pl.DataFrame(rows)))
    assert header[:4] == ["method", "rate", "kept", "cost"] and not any("β" in h for h in header)
    rows = [_row("aum+ccs-none-r0.9-beta0.1", 0, 0.8, 0.7, method="ccs", quota="none", beta=0.1, rate=0.9),
            _row("aum+ccs-none-r0.9-beta0.3", 0, 0.9, 0.6, method="ccs", quota="none", beta=0.3, rate=0.9)]
    header, table = results_rows(choose_by_validation(pl.DataFrame(rows)))
    assert header[3] == "β (by val)" and table[0][3] == "0.3 (of 2)"  # the better validation accuracy


def test_the_paper_column_holds_the_published_figure_of_the_matching_rows():
    rows = [_row("aum+ccs-none-r0.9", 0, 0.8, 0.7, method="ccs", quota="none", beta=0.3, rate=0.9),
            _row("random-none-r0.9", 0, 0.8, 0.6, method="random", quota="none", beta=None, rate=0.9),
            _row("random-none-r0.5", 0, 0.8, 0.6, method="random", quota="none", beta=None, rate=0.5)]
    published = [{"label": "CCS", "rate": 0.9, "accuracy": 85.7, "where": "t", "methods": ["ccs"], "score": "aum",
                  "quota": "none", "budget": "epochs", "cdbw": None},
                 {"label": "Random", "rate": 0.9, "accuracy": 79.04, "where": "t", "methods": ["random"],
                  "score": None, "quota": "none", "budget": None, "cdbw": None}]
    header, table = results_rows(choose_by_validation(pl.DataFrame(rows)), published)
    col = header.index("paper %")
    assert col == header.index("test accuracy %") + 1
    assert [r[col] for r in table] == ["85.7", "79.04", ""]


def test_against_random_prefers_random_under_the_same_budget():
    rows = [_row("random-none-r0.9-iterations", 0, 0.5, 0.80, method="random", quota="none", beta=None, rate=0.9),
            _row("aum+ccs-none-r0.9-iterations", 0, 0.5, 0.85, method="ccs", quota="none", rate=0.9),
            _row("random-none-r0.9", 0, 0.5, 0.70, method="random", quota="none", beta=None, rate=0.9),
            _row("aum+ccs-none-r0.9-drop", 0, 0.5, 0.75, method="ccs", quota="none", rate=0.9)]
    for r, b in zip(rows, ("iterations", "iterations", "epochs", "drop")):
        r["budget"] = b
    d = against_random(choose_by_validation(pl.DataFrame(rows)))
    assert d[0] is None and d[1] == pytest.approx(0.05) and d[2] is None and d[3] == pytest.approx(0.05)
