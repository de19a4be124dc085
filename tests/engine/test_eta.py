"""The time-left estimate printed after every epoch of record and train."""

from __future__ import annotations

import pipeline.engine.loop as loop


def test_eta_from_the_pace_of_the_epochs_trained_here(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(loop.time, "perf_counter", lambda: now[0])
    eta = loop.Eta(10)
    now[0] = 112.0
    assert eta(0) == "eta 1m48s"  # 12 s per epoch, 9 left
    now[0] = 124.0
    assert eta(1) == "eta 1m36s"
    now[0] = 220.0
    assert eta(9) == "done"


def test_a_resumed_run_counts_only_the_epochs_it_trained(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(loop.time, "perf_counter", lambda: now[0])
    eta = loop.Eta(100)
    now[0] = 30.0
    assert eta(40) == "eta 29m30s"  # resumed after epoch 40: 30 s for one epoch, 59 left
    now[0] = 3 * 3600.0
    eta2 = loop.Eta(1000)
    now[0] = 3 * 3600.0 + 60
    assert eta2(0) == "eta 16h39m"
