"""Hyper-parameters chosen by validation accuracy (DESIGN §11): never by test."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipeline.report.tables import against_random, choose_by_validation


def test_beta_is_chosen_by_validation_never_by_test():
    rows = []
    # beta 0.1 has the best test accuracy but the worse validation accuracy: 0.3 must be chosen
    for beta, val, test in ((0.1, (0.80, 0.82), (0.95, 0.97)), (0.3, (0.90, 0.88), (0.70, 0.72))):
        for seed in (0, 1):
            rows.append({"cell": f"aum+ccs-none-r0.9-beta{beta}", "score": "aum", "method": "ccs", "quota": "none",
                         "keep": "hard", "budget": "epochs", "cdbw": False, "rate": 0.9, "beta": beta, "n_kept": 10,
                         "seed": seed, "val_accuracy": val[seed], "accuracy": test[seed],
                         "worst_class_accuracy": 0.5, "balanced_accuracy": 0.6})
    chosen = choose_by_validation(pl.DataFrame(rows))
    assert chosen.height == 1
    row = chosen.row(0, named=True)
    assert row["beta"] == 0.3 and row["tried"] == 2 and row["label"] == "aum + ccs"
    assert row["accuracy_mean"] == pytest.approx(0.71) and row["val_accuracy_mean"] == pytest.approx(0.89)
    assert row["accuracy_std"] == pytest.approx(np.std([0.70, 0.72], ddof=1))


def test_against_random_is_the_difference_at_the_same_rate():
    base = {"score": None, "quota": "none", "keep": "hard", "budget": "epochs", "cdbw": False, "n_kept": 10,
            "worst_class_accuracy": 0.5, "balanced_accuracy": 0.6, "val_accuracy": 0.5, "beta": None}
    rows = [{**base, "cell": "random-none-r0.5", "method": "random", "rate": 0.5, "seed": 0, "accuracy": 0.80},
            {**base, "cell": "tdds+ccs-none-r0.5", "method": "ccs", "score": "tdds", "rate": 0.5, "seed": 0,
             "accuracy": 0.85},
            {**base, "cell": "tdds+ccs-none-r0.9", "method": "ccs", "score": "tdds", "rate": 0.9, "seed": 0,
             "accuracy": 0.60}]
    d = against_random(choose_by_validation(pl.DataFrame(rows)))
    assert d[0] is None and d[1] == pytest.approx(0.05) and d[2] is None
