"""`prune rounds`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from pipeline.api.functions import pool_scores
from pipeline.cliutil import DeviceOpt, ThreadsOpt, console, say, stage_app, user_errors
from pipeline.data.registry import data_help
from pipeline.models.registry import model_help

app = stage_app("rounds", "Active learning or iterative pruning in rounds (DRoP's strategies): each round records "
                          "a query model, scores and selects; then a final model trains on the last set.")


@app.callback()
@user_errors
def rounds_cmd(
    run: Path = typer.Option(Path("runs/default"), "--run", help="Folder the rounds go under (RUN/rounds/NAME/); it need not hold a recorded run: every round records its own query model."),
    name: str = typer.Option("rounds", "--name", help="The rounds' folder under RUN/rounds/. Rerunning the same command resumes at the first unfinished round."),
    strategy: str = typer.Option(..., "--strategy", help="acquire: grow a labelled set from the unlabelled pool (active learning, DRoP's strategy 0); prune: shrink the training set round by round (DRoP's strategy 1)."),
    iterations: int = typer.Option(1, "--iterations", help="Rounds K: query models trained, one per round."),
    start_frac: Optional[float] = typer.Option(None, "--start-frac", help="Fraction of the training set to start from: the random labelled set (acquire; default 0.1) or the set pruning starts from (prune; default 1, all)."),
    final_frac: float = typer.Option(..., "--final-frac", help="Fraction of the training set after the last round: labelled (acquire) or kept (prune, e.g. 0.3 keeps 30%)."),
    schedule: str = typer.Option("linear", "--schedule", help="How the fraction moves from --start-frac to --final-frac over the rounds: linear (equal steps) or exponential (equal ratios)."),
    method: Optional[str] = typer.Option(None, "--method", help=f"Score of every round (default: entropy for acquire, tdds for prune). acquire needs a label-free one: {', '.join(pool_scores())}."),
    sampler: Optional[str] = typer.Option(None, "--sampler", help="Sampler of every round, as `prune select --method` (default: topk for acquire, taking the hard end first; ccs for prune)."),
    quota: str = typer.Option("none", "--quota", help="Class quota of every round, as `prune select --quota` (e.g. drop for DRoP's)."),
    score_opt: Optional[List[str]] = typer.Option(None, "--score-opt", help="An option of the score, KEY=VALUE (e.g. window=5, label=avg); repeat for several. With --sampler ccs, aum is CCS's accumulated probability margin unless you pass space=logit."),
    select_opt: Optional[List[str]] = typer.Option(None, "--select-opt", help="An option of the sampler, KEY=VALUE (e.g. beta=0.1); repeat for several."),
    data: str = typer.Option("mnist1d", "--data", help=f"Data set: {data_help()}."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Folder holding the data set's files (as for prune record)."),
    model: Optional[str] = typer.Option(None, "--model", help=f"Model of the query and final models: {model_help()}; default: the data set's auto config."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs of each round's query model (default: the auto config)."),
    inits: int = typer.Option(1, "--inits", help="Query models per round (independent initialisations); scores average over them."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Mini-batch size (default: auto config)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate of SGD (default: auto config)."),
    mc_samples: int = typer.Option(0, "--mc-samples", help="MC-dropout passes over the pool after each query model (bald, variation-ratio need them, with --dropout)."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="Dropout rate before the classifier of the query and final models (default: none)."),
    final_epochs: Optional[int] = typer.Option(None, "--final-epochs", help="Epochs of the final model (default: the auto config)."),
    budget: str = typer.Option("epochs", "--budget", help="Final model's budget, as `prune train --budget`: epochs, iterations (as many steps as on the full data) or drop."),
    cdbw: bool = typer.Option(False, "--cdbw", metavar="", help="Train the final model with DRoP's CDB-W class weights."),
    seed: int = typer.Option(0, "--seed", help="Seed of the starting set, every round's query models (seed + 1000·round + init) and the final model."),
    device: str = DeviceOpt,
    force: bool = typer.Option(False, "--force", metavar="", help="Start RUN/rounds/NAME again, deleting its finished rounds."),
    quiet: bool = typer.Option(False, "--quiet", metavar="", help="Print only the results table."),
    threads: Optional[int] = ThreadsOpt,
):
    """Run the rounds, then the final model; prints and writes RUN/rounds/NAME/results.parquet."""
    from pipeline.rounds.run import parse_options, print_table, rounds

    console(quiet=quiet, threads=threads)
    rows = rounds(run=run, name=name, strategy=strategy, iterations=iterations, start_frac=start_frac,
                  final_frac=final_frac, schedule=schedule, method=method, sampler=sampler, quota=quota, data=data,
                  data_dir=data_dir, model=model, epochs=epochs, inits=inits, seed=seed, batch_size=batch_size, lr=lr,
                  final_epochs=final_epochs, budget=budget, cdbw=cdbw, mc_samples=mc_samples, dropout=dropout,
                  score_options=parse_options(score_opt, "--score-opt"),
                  select_options=parse_options(select_opt, "--select-opt"), device=device, force=force,
                  log=(lambda _m: None) if quiet else say)
    what = "labelled" if strategy == "acquire" else "kept"
    print_table(rows, f"prune rounds --strategy {strategy} on {data}: test split, fraction {what} per round")
    say(f"wrote {run / 'rounds' / name / 'results.parquet'}")
