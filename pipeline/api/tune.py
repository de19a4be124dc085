"""``--beta auto``: a sampler's β chosen by validation accuracy, the way CCS's authors tune it (a grid search).

It trains, so it lives above the stages: the select stage reads the inputs
once (:func:`pipeline.select.run.prepare`) and writes one selection per β;
:func:`pipeline.api.functions.train` trains on each.

β (CCS's hard cutoff: the fraction of hardest samples dropped before the
stratified draw) is data-set specific: CCS's default (β by rate) is the
authors' CIFAR-10 setting, and on other data another β can be better. With
``--beta auto`` ``prune select`` makes the selection once per β of the grid, trains a
fresh model on each subset with the run's recipe (what ``prune train
--manifest`` would train), and keeps the β whose model has the highest
**validation** accuracy (the DRoP val split, final epoch). Test accuracy never
takes part. Ties go to the smaller β.

It also trains on a random subset of the same size (same seed) and says so in
one line when random pruning reached a higher validation accuracy than every
β: a user never gets worse-than-random pruning without being told.

The trainings live in a hidden folder of the run (``RUN/.beta-auto.partial-*``),
locked while they run so that ``prune clean`` leaves it alone, and removed
when the selection ends, on an error or Ctrl-C too; only a killed process
leaves it for ``prune clean``. Their validation accuracies go into the
manifest (``beta_auto``).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.io import PruneError

#: The β values tried by ``--beta auto`` (those a rate allows: a global cutoff must leave the samples to keep).
BETA_GRID = (0.0, 0.1, 0.2, 0.3)
AUTO = "auto"


def parse_beta(beta) -> float | str | None:
    """``--beta``: None, a number, or ``auto``; a number given as text becomes a float."""
    if beta is None or isinstance(beta, (int, float)) and not isinstance(beta, bool):
        return beta
    text = str(beta).strip().lower()
    if text == AUTO:
        return AUTO
    try:
        return float(text)
    except ValueError:
        raise PruneError(f"--beta must be a number in [0, 1) or 'auto', got {beta!r}") from None


def parse_grid(grid) -> tuple[float, ...]:
    """``--beta-grid 0,0.1,0.2``: distinct numbers in [0, 1), in the order given."""
    if grid is None:
        return BETA_GRID
    items = grid.split(",") if isinstance(grid, str) else list(grid)
    out: list[float] = []
    for item in items:
        try:
            v = float(item)
        except (TypeError, ValueError):
            raise PruneError(f"--beta-grid takes comma-separated numbers in [0, 1), got {item!r}") from None
        if not 0.0 <= v < 1.0:
            raise PruneError(f"--beta-grid values must be in [0, 1), got {v}")
        if v not in out:
            out.append(v)
    if not out:
        raise PruneError("--beta-grid is empty")
    return tuple(out)


@dataclass(frozen=True)
class Trial:
    """One training of the search: β (None: the random baseline), its validation accuracy, its seconds."""

    beta: float | None
    val_accuracy: float
    seconds: float
    epochs: int


def search(*, run: Path, grid: tuple[float, ...], write: Callable[[float | None, Path], None], seed: int,
           epochs: int | None, device: str, log) -> tuple[float, list[Trial]]:
    """Train on the selection of each β of ``grid`` and on a random one; → (the best β by val accuracy, trials).

    ``write(beta, path)`` writes the manifest of ``beta`` (None: random pruning) to ``path``.
    """
    import os

    from pipeline.api.functions import train
    from pipeline.io.folders import hold, partial_folder

    work = partial_folder(Path(run) / "beta-auto")
    work.mkdir()
    lock = hold(work)  # prune clean skips a folder a running process holds
    trials: list[Trial] = []
    try:
        for i, beta in enumerate([*grid, None]):
            what = "random pruning" if beta is None else f"β={beta:g}"
            manifest = work / f"keep-{i}.parquet"
            write(beta, manifest)
            t0 = time.perf_counter()
            # one level down: a result is swapped into place under a lock on its parent, and this
            # process holds ``work``'s
            m = train(manifest, run=run, seed=seed, epochs=epochs, device=device, out=work / "trials" / f"train-{i}")
            trial = Trial(beta, float(m["final"]["val_accuracy"]), time.perf_counter() - t0, int(m["epochs"]))
            trials.append(trial)
            log(f"--beta auto: {what}: val accuracy {trial.val_accuracy:.4f} ({trial.seconds:.0f} s, "
                f"{i + 1}/{len(grid) + 1})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.close(lock)
    tried = [t for t in trials if t.beta is not None]
    best = max(tried, key=lambda t: t.val_accuracy)  # max keeps the first of equals: the smaller β listed first
    return best.beta, trials


def summary(grid: tuple[float, ...], trials: list[Trial], best: float, seed: int) -> dict:
    """What the manifest records of the search (``beta_auto``)."""
    rand = next(t for t in trials if t.beta is None)
    return {"grid": list(grid), "chosen": best,
            "val_accuracy": {f"{t.beta:g}": t.val_accuracy for t in trials if t.beta is not None},
            "random_val_accuracy": rand.val_accuracy, "seed": seed, "epochs": trials[0].epochs,
            "rule": "highest validation accuracy (final epoch) of a model trained on each selection; ties: smaller β"}


def select_words(*, beta, beta_grid, tune_epochs, device: str, log, **words) -> dict:
    """``prune select`` from the user's words: the select stage, or with ``--beta auto`` the search first."""
    from pipeline.select.run import select

    beta = parse_beta(beta)
    if beta != AUTO:
        if beta_grid is not None or tune_epochs is not None:
            raise PruneError("--beta-grid and --tune-epochs go with --beta auto")
        return select(beta=beta, log=log, **words)
    return select_auto(grid=parse_grid(beta_grid), tune_epochs=tune_epochs, device=device, log=log, **words)


def select_auto(*, grid: tuple[float, ...], tune_epochs: int | None, device: str, log, **words) -> dict:
    """The selection of the β of ``grid`` whose trained model has the highest validation accuracy."""
    from pipeline.select import core
    from pipeline.select.run import SelectSpec, prepare

    if words.get("add_to") is not None:
        raise PruneError("--beta auto trains on the kept samples alone; it does not apply to --add-to")
    if tune_epochs is not None and tune_epochs < 1:
        raise PruneError(f"--tune-epochs must be at least 1, got {tune_epochs}")
    spec = SelectSpec.build(beta=None, **words)
    if "beta" not in spec.choice.params:
        from pipeline.select.catalog import SAMPLERS

        raise PruneError(f"--beta auto: --method {spec.method} has no β to choose (samplers with a hard cutoff: "
                         f"{', '.join(n for n, e in SAMPLERS.items() if 'beta' in e.accepts)})")
    p = prepare(spec)
    choices = {}
    for b in grid:  # the β a rate allows: a global cutoff must leave the samples to keep
        c = p.resolve(beta=b)
        try:
            core.check(c, p.n, p.n_keep)
        except PruneError:
            continue
        choices[b] = c
    if not choices:
        raise PruneError(f"--beta-grid {','.join(f'{b:g}' for b in grid)}: every β drops more than rate "
                         f"{p.rate:.4g} removes; give values of at most {(p.n - p.n_keep) / p.n:.4g}")
    grid = tuple(choices)
    for line in p.notes:
        log(line)
    baseline = core.resolve("random", spec.quota, rate=p.rate, given={})

    def trial(b: float | None, path: Path) -> None:
        p.write(baseline if b is None else choices[b], "random" if b is None else spec.method, path)

    best, trials = search(run=p.r.path, grid=grid, write=trial, seed=spec.seed, epochs=tune_epochs, device=device,
                          log=log)
    rand = next(t for t in trials if t.beta is None)
    top = max(t.val_accuracy for t in trials if t.beta is not None)
    log(f"--beta auto: chose β={best:g} (val accuracy {top:.4f})")
    if rand.val_accuracy > top:
        log(f"warning: random pruning at this rate reached a higher val accuracy ({rand.val_accuracy:.4f}) than "
            f"{spec.method} with every β tried; consider --method random, or another score table")
    # the same selection the chosen trial trained on, with what the search found
    return p.write(choices[best], spec.method, spec.out, {"beta_auto": summary(grid, trials, best, spec.seed)})
