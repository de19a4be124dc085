"""Every artifact path of a run folder (docs/design.md §3), in one place: no stage builds one by hand.

::

    RUN/run.json  trajectories.zarr/  dynamics/init=I/epoch=E/part-0.parquet  eval.parquet
        checkpoints/init=I/epoch=K.pt  scores/<method>.parquet  train/<name>/{metrics,summary}.json ...
"""

from __future__ import annotations

import os
from pathlib import Path

RUN_JSON = "run.json"
RUN_LOG = "log.json"  # how long record took, its command line: not part of the run's identical bytes
FILES = "files.parquet"
TRAJECTORIES = "trajectories.zarr"
DYNAMICS = "dynamics"
EVAL_TABLE = "eval.parquet"
CHECKPOINTS = "checkpoints"
SCORES = "scores"
TRAIN = "train"
METRICS_JSON = "metrics.json"
SUMMARY_JSON = "summary.json"
HISTORY = "history.parquet"
SAMPLES = "samples.parquet"


def run_json(run: str | os.PathLike) -> Path:
    return Path(run) / RUN_JSON


def run_log(run: str | os.PathLike) -> Path:
    return Path(run) / RUN_LOG


def log_sidecar(table: str | os.PathLike) -> Path:
    """``scores/tdds.parquet`` -> ``scores/tdds.log.json``: timings of the write, kept out of the table's bytes."""
    table = Path(table)
    return table.with_name(f"{table.stem}.log.json")


def resume_state(partial: str | os.PathLike) -> Path:
    """What an unfinished recording needs to go on after its last finished epoch (deleted once it completes)."""
    return Path(partial) / "resume.pt"


def trajectories(run: str | os.PathLike) -> Path:
    return Path(run) / TRAJECTORIES


def dynamics_dir(run: str | os.PathLike) -> Path:
    return Path(run) / DYNAMICS


def dynamics_file(run: str | os.PathLike, init: int, epoch: int) -> Path:
    """One epoch's per-sample scalars, hive-partitioned so Polars reads init and epoch from the path."""
    return dynamics_dir(run) / f"init={int(init)}" / f"epoch={int(epoch)}" / "part-0.parquet"


def eval_table(run: str | os.PathLike) -> Path:
    return Path(run) / EVAL_TABLE


def checkpoint(run: str | os.PathLike, init: int, epoch: int | str) -> Path:
    """Weights of init ``init`` after ``epoch`` completed epochs (0 = the initial weights)."""
    return Path(run) / CHECKPOINTS / f"init={int(init)}" / f"epoch={epoch}.pt"


def scores_dir(run: str | os.PathLike) -> Path:
    return Path(run) / SCORES


def scores_table(run: str | os.PathLike, method: str) -> Path:
    return scores_dir(run) / f"{method}.parquet"


def train_dir(run: str | os.PathLike, name: str) -> Path:
    return Path(run) / TRAIN / name


def files_table(run: str | os.PathLike) -> Path:
    """File-backed data sets: each training sample's file, relative to the data folder."""
    return Path(run) / FILES


ROUNDS = "rounds"
ROUNDS_SPEC = "rounds.json"  # the arguments a rounds folder was made with (a rerun must match them)
ROUND_DONE = "done.json"  # a finished round's completion marker and its figures, written last
ROUNDS_RESULTS = "results.parquet"


SWEEPS = "sweeps"
SWEEP_JSON = "sweep.json"  # the grid, the run's fingerprint, the training epochs (and a paper preset's record)
SWEEP_CELLS = "cells"
SWEEP_RESULTS = "results.parquet"  # one row per cell and seed (pipeline.io.tables.SWEEP_RESULTS_SCHEMA)
SWEEP_DONE = "done.json"  # a finished (cell, seed)'s completion marker and its figures, written last


def sweep_dir(run: str | os.PathLike, name: str) -> Path:
    """``prune sweep``: RUN/sweeps/<name>/{sweep.json, cells/<cell>/seed=S/, results.parquet}."""
    return Path(run) / SWEEPS / name


def sweep_results(folder: str | os.PathLike) -> Path:
    return Path(folder) / SWEEP_RESULTS


def rounds_dir(run: str | os.PathLike, name: str) -> Path:
    """``prune rounds``: RUN/rounds/<name>/{rounds.json, round=K/, final/, results.parquet}."""
    return Path(run) / ROUNDS / name


def round_dir(rounds: str | os.PathLike, k: int) -> Path:
    """One round: ``query/`` (the recorded query run), ``scores.parquet``, ``keep.parquet``, ``done.json``."""
    return Path(rounds) / f"round={k}"
