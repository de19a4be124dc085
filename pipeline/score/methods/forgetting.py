"""Forgetting events (Toneva et al., ICLR 2019)."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.methods._arrays import dynamics_per_init
from pipeline.score.base import ScoreMethod


def forgetting_events(correct: np.ndarray, never_learned: str = "epochs") -> np.ndarray:
    """Number of correct→incorrect transitions between consecutive epochs, mean over inits.

    Parameters
    ----------
    correct : bool array (init, epoch, sample)
        Whether the training-pass prediction was correct at each epoch.
    never_learned : {"epochs", "zero"}
        Score of a sample never classified correctly: the number of epochs E,
        as Toneva et al. (an unlearned sample counts as forgotten throughout),
        or 0, as CCS's and DeepCore's code.
    """
    correct = np.asarray(correct, dtype=bool)
    E = correct.shape[1]
    events = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)
    never = ~correct.any(axis=1)
    events[never] = float(E) if never_learned == "epochs" else 0.0
    return events.mean(axis=0)


def compute(run, params) -> np.ndarray:
    if params["never_learned"] not in ("epochs", "zero"):
        raise PruneError(f"--never-learned must be 'epochs' or 'zero', got {params['never_learned']!r}")
    return streamed_forgetting(run, params["never_learned"])


def streamed_forgetting(run, never_learned: str) -> np.ndarray:
    """:func:`forgetting_events` folded over the epoch files (same values, one epoch in memory)."""
    E = run.epochs

    def start(n):
        return {"prev": None, "events": np.zeros(n, dtype=np.int64), "ever": np.zeros(n, dtype=bool)}

    def step(acc, correct, k):
        correct = np.asarray(correct, dtype=bool)
        if acc["prev"] is not None:
            acc["events"] += acc["prev"] & ~correct
        acc["ever"] |= correct
        acc["prev"] = correct
        return acc

    def finish(acc):
        events = acc["events"].astype(np.float64)
        events[~acc["ever"]] = float(E) if never_learned == "epochs" else 0.0
        return events

    return dynamics_per_init(run, "correct", step, start, finish)


METHOD = ScoreMethod(
    name="forgetting",
    compute=compute,
    higher_is_harder=True,
    formula="number of correct→incorrect transitions between consecutive epochs; never learned → E (or 0)",
    paper="Toneva et al., An Empirical Study of Example Forgetting during Deep Neural Network Learning, ICLR 2019",
    defaults={"never_learned": "epochs"},
    needs=("dynamics/ (every run)",),
)
