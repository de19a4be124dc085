"""`prune score`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.cliutil import RunOpt, say, stage_app, user_errors

app = stage_app("score", "Turn a recorded run into a per-sample score table (RUN/scores/<method>.parquet).")


@app.callback()
@user_errors
def score_cmd(
    method: str = typer.Option(..., "--method", help="Score: forgetting, aum, el2n, tdds, random."),
    run: Path = RunOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the table (default RUN/scores/<method>.parquet)."),
    window: Optional[int] = typer.Option(None, "--window", help="tdds: epochs per sliding window J (default 10)."),
    decay: Optional[float] = typer.Option(None, "--decay", help="tdds: decay β of the window weights β(1−β)^(T−J−k) (default 0.9)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="tdds: use the first T recorded epochs (default all)."),
    epoch: Optional[int] = typer.Option(None, "--epoch", help="el2n: recorded epoch to score at, 0-based, negative from the end (default 10% into training)."),
    never_learned: Optional[str] = typer.Option(None, "--never-learned", help="forgetting: score of never-correct samples, 'epochs' (E, Toneva et al.) or 'zero' (CCS/DeepCore)."),
    space: Optional[str] = typer.Option(None, "--space", help="aum: 'logit' (mean logit margin, Pleiss et al.) or 'prob' (summed probability margin, CCS)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="random: seed of the uniform scores (default 0)."),
):
    """Score every training sample of a run; the table records method, parameters and which end is hard."""
    import numpy as np

    from pipeline.score.run import score

    params = {"window": window, "decay": decay, "epochs": epochs, "epoch": epoch, "never_learned": never_learned,
              "space": space, "seed": seed}
    path, values, full = score(run=run, method=method, params=params, out=out)
    shown = ", ".join(f"{k}={v}" for k, v in full.items())
    q = np.quantile(values, [0.0, 0.5, 1.0])
    say(f"{method}({shown}): {len(values)} scores, min {q[0]:.4g}  median {q[1]:.4g}  max {q[2]:.4g}")
    say(f"wrote {path}")
