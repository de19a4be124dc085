"""`prune select`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.cliutil import RunOpt, SeedOpt, say, stage_app, user_errors

app = stage_app("select", "Choose which samples to keep: a score table + a sampler (+ a class quota) → a manifest.")


@app.callback()
@user_errors
def select_cmd(
    method: str = typer.Option("topk", "--method", help="Sampler: topk (keep the hard end), random, ccs (coverage-centric stratified sampling)."),
    rate: float = typer.Option(..., "--rate", help="Fraction of the training set to REMOVE, in (0, 1); keeps N − round(rate·N)."),
    run: Path = RunOpt,
    scores: Optional[str] = typer.Option(None, "--scores", help="Score table: a path, or a method name in RUN/scores (default: the run's newest table)."),
    out: Path = typer.Option(Path("keep.parquet"), "--out", help="Manifest to write: sorted kept sample ids with their provenance."),
    keep: str = typer.Option("hard", "--keep", help="topk: keep the 'hard' end of the scores or the 'easy' end."),
    quota: str = typer.Option("none", "--quota", help="Class quota: none (global), proportional (class shares of the full set), balanced (equal counts where possible)."),
    beta: Optional[float] = typer.Option(None, "--beta", help="ccs: fraction of the hardest samples dropped first (default by rate: 0 up to 0.5, 0.1 at 0.7–0.8, 0.3 from 0.9)."),
    strata: int = typer.Option(50, "--strata", help="ccs: number of equal-width score bins."),
    seed: int = SeedOpt,
):
    """Write a manifest of kept sample ids (exactly N − round(rate·N), sorted, ties broken by sample id)."""
    from pipeline.select.run import select

    meta = select(run=run, method=method, rate=rate, scores=scores, out=out, keep=keep, quota=quota, beta=beta,
                  strata=strata, seed=seed, log=say)
    params = ", ".join(f"{k}={v}" for k, v in meta["parameters"].items())
    say(f"{method}{f'({params})' if params else ''}, quota {quota}: kept {meta['n_kept']} of {meta['n_total']} (rate {rate})")
    kept, total = meta["class_counts_kept"], meta["class_counts_total"]
    say("per class kept/total: " + "  ".join(f"{c}:{kept[c]}/{total[c]}" for c in total))
    say(f"wrote {out}")
