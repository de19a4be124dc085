"""Forgetting events (Toneva et al., ICLR 2019)."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError
from pipeline.score.methods._arrays import dynamics_array
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
    return forgetting_events(dynamics_array(run, "correct"), params["never_learned"])


METHOD = ScoreMethod(
    name="forgetting",
    compute=compute,
    higher_is_harder=True,
    formula="number of correct→incorrect transitions between consecutive epochs; never learned → E (or 0)",
    paper="Toneva et al., An Empirical Study of Example Forgetting during Deep Neural Network Learning, ICLR 2019",
    defaults={"never_learned": "epochs"},
    needs=("dynamics/ (every run)",),
)
