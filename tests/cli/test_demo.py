"""`prune demo`'s preset: which sweep it runs, and its progress lines (the run itself is exercised by hand: minutes)."""

from __future__ import annotations

from pipeline.demo import _every_tenth_epoch, demo_spec


def test_the_demo_sweep_is_full_data_random_aum_ccs_and_infobatch_at_each_rate_over_three_seeds():
    spec = demo_spec([0.7, 0.9], None, 4)
    assert [c.id for c in spec.cells] == ["full", "random-none-r0.7", "random-none-r0.9",
                                          "aum.space=prob+ccs-none-r0.7-beta0.1", "aum.space=prob+ccs-none-r0.9-beta0.1",
                                          "dyn-infobatch-r0.7", "dyn-infobatch-r0.9"]
    assert spec.seeds == [4, 5, 6] and spec.epochs is None and spec.name == "demo"


def test_the_demo_table_counts_the_query_and_pairs_seeds():
    """Cost and Δ on a hand-made results table: the cost column (end to end, the sweep counts it: random pays no
    query, a scored selection 1.00) averaged over seeds; the gap to random is taken seed by seed (the same seed
    draws both), as mean ± sample std."""
    import polars as pl

    from pipeline.demo import summary_rows

    rows = [("full", None, 0, 100, 1.0, 0.98, 0.95), ("full", None, 1, 100, 1.0, 0.96, 0.93),
            ("random", 0.9, 0, 10, 0.1, 0.90, 0.80), ("random", 0.9, 1, 10, 0.1, 0.92, 0.82),
            ("ccs", 0.9, 0, 10, 1.1, 0.93, 0.81), ("ccs", 0.9, 1, 10, 1.1, 0.96, 0.84)]
    df = pl.DataFrame(rows, schema=["method", "rate", "seed", "n_kept", "cost", "accuracy",
                                    "worst_class_accuracy"], orient="row")
    full, rand, ccs = summary_rows(df)
    assert (full["method"], full["cost"], full["accuracy"]) == ("full data", 1.0, 0.97)
    assert abs(full["accuracy_std"] - 0.0141421356) < 1e-9 and full["delta"] is None
    assert rand["cost"] == 0.1 and rand["delta"] is None
    assert ccs["method"] == "aum + ccs" and ccs["cost"] == 1.1
    assert abs(ccs["delta"] - 0.035) < 1e-12 and abs(ccs["delta_std"] - 0.0070710678) < 1e-9  # gaps 0.03, 0.04


def test_record_progress_is_one_line_in_ten_epochs():
    out: list[str] = []
    say = _every_tenth_epoch(out.append)
    for e in range(1, 26):
        say(f"init 0 epoch {e:>3}/25  lr 0.1000  train loss 0.5")
    say("label noise: flipped 3 of 10 training labels")
    assert [line.split()[3] for line in out[:3]] == ["10/25", "20/25", "25/25"]
    assert out[-1] == "  label noise: flipped 3 of 10 training labels"


def test_absurd_rates_are_one_short_line():
    import pytest

    from pipeline.demo import _rates
    from pipeline.io import PruneError

    with pytest.raises(PruneError, match="names 25000 rates; the demo compares at most 10") as err:
        _rates(",".join(["0.5"] * 25000))
    assert len(str(err.value)) < 200
    with pytest.raises(PruneError, match=r"characters\)") as err:
        _rates(",".join(["x"] * 25000))
    assert len(str(err.value)) < 200
