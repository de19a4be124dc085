"""`prune demo`'s preset: which sweep it runs, and its progress lines (the run itself is exercised by hand: minutes)."""

from __future__ import annotations

from pipeline.demo import _every_tenth_epoch, demo_spec


def test_the_demo_sweep_is_full_data_random_and_tdds_ccs_at_each_rate():
    spec = demo_spec([0.3, 0.7], None, 4)
    assert [c.id for c in spec.cells] == ["full", "random-none-r0.3", "random-none-r0.7", "tdds+ccs-none-r0.3",
                                          "tdds+ccs-none-r0.7"]
    assert spec.seeds == [4] and spec.epochs is None and spec.name == "demo"
    assert all(c.beta is None for c in spec.cells)  # CCS's own default beta, as `prune select` would use


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
