"""`prune sweep`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.cliutil import DeviceOpt, RunOpt, say, stage_app, user_errors
from pipeline.sweep.presets import PRESETS

app = stage_app("sweep", "Train a grid of selections (scores × samplers × quotas × rates × seeds) from one run "
                         "and tabulate them: RUN/sweeps/NAME/results.parquet.")


@app.callback()
@user_errors
def sweep_cmd(
    run: Path = RunOpt,
    name: Optional[str] = typer.Option(None, "--name", help="The sweep's folder under RUN/sweeps/ (default: the config's or the preset's name, else 'sweep'). Rerunning a name skips its finished cells."),
    config: Optional[Path] = typer.Option(None, "--config", help="A TOML file with the grid (keys as the flags below; several grid tables are unioned). Flags given override its top level. See docs/sweep.md."),
    preset: Optional[str] = typer.Option(None, "--preset", help=f"Run a paper's protocol ({', '.join(PRESETS)}): its score tables, samplers, rates, seeds and budget, and `prune report` then shows the paper's published accuracy beside ours. Stops first, naming the `prune record` command to run, if --run was not recorded on the paper's data set and model; other epochs or recipe only warn. Flags given override its rates, seeds, budgets, --cdbw, --beta, --gamma and --recalls. --presets lists them."),
    presets: bool = typer.Option(False, "--presets", metavar="", help="List the paper presets (paper, protocol, published numbers) and exit."),
    scores: Optional[str] = typer.Option(None, "--scores", help="Score tables, comma-separated method names, each optionally with its options as NAME:KEY=VALUE[:KEY=VALUE] (e.g. tdds:window=5); those missing from RUN/scores are computed once (default: tdds). A sampler reads a score as its paper does unless told: ccs reads aum as aum:space=prob, CCS's accumulated probability margin (aum:space=logit keeps the logit margin)."),
    methods: Optional[str] = typer.Option(None, "--methods", help="Samplers, comma-separated (default: ccs,random). Samplers that read no scores (random) get one cell per quota and rate, not one per score table."),
    quotas: Optional[str] = typer.Option(None, "--quotas", help="Class quotas, comma-separated (default: none)."),
    rates: Optional[str] = typer.Option(None, "--rates", help="Pruning rates (fractions removed), comma-separated (default: 0.3,0.5,0.7,0.9)."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Seeds, comma-separated (default: 0). Each seed draws both the selection (random subsets, CCS's draws) and the training."),
    beta: Optional[str] = typer.Option(None, "--beta", help="Values of β for the samplers that read it (ccs, d2), comma-separated; 'default' is the sampler's own (CCS: by rate). `prune report` picks the best by validation accuracy."),
    rcap_beta: Optional[str] = typer.Option(None, "--rcap-beta", help="Values of RCAP's softmax temperature β for --dynamic rcap cells, comma-separated; 'default' is RCAP's own 0.25. `prune report` picks the best by validation accuracy."),
    gamma: Optional[str] = typer.Option(None, "--gamma", help="Values of D2's γ (how far a pick lowers its neighbours' chances), comma-separated; 'default' is D2's own 0.1. Only d2 cells multiply; `prune report` picks the best by validation accuracy, jointly with β and --recalls."),
    recalls: Optional[str] = typer.Option(None, "--recalls", help="Where --quota drop reads each class's validation recall: final (last epoch), best (best-validation epoch), mean (over the learning curve; the default), comma-separated. Only cells with the drop quota multiply; `prune report` picks the best by validation accuracy."),
    keep: Optional[str] = typer.Option(None, "--keep", help="hard and/or easy: which end of the scores the samplers keep (default: hard)."),
    budgets: Optional[str] = typer.Option(None, "--budgets", help="Training budgets, comma-separated: epochs, iterations, drop (default: epochs)."),
    cdbw: Optional[str] = typer.Option(None, "--cdbw", help="off, on or off,on: train with DRoP's CDB-W class weights (default: off)."),
    dynamic: Optional[str] = typer.Option(None, "--dynamic", help="Dynamic pruning rules to add, comma-separated (e.g. infobatch,rs2,tdds+ccs): one cell per rule and rate, trained with `prune train --dynamic RULE --rate R` (a new subset every epoch, no manifest)."),
    full: bool = typer.Option(True, "--full/--no-full", metavar="", help="Add the full-data reference cells (one training on every sample per seed)."),
    full_budgets: Optional[str] = typer.Option(None, "--full-budgets", help="Also train on every sample for these fractions of the epochs, comma-separated (e.g. 0.1,0.3,0.5), each with its learning-rate schedule shortened to fit: the budget-matched baseline a pruned training has to beat at the same cost (docs/cost.md)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs of every training (default: the run's)."),
    jobs: int = typer.Option(1, "--jobs", help="Trainings at a time, each in its own process."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, metavar="<int>", help="torch threads per training (default: the cores divided by --jobs). CPU results depend on it: keep it fixed to compare sweeps run with different --jobs."),
    device: str = DeviceOpt,
    force: bool = typer.Option(False, "--force", metavar="", help="Start the sweep NAME again, deleting its finished cells."),
    quiet: bool = typer.Option(False, "--quiet", metavar="", help="Print only the final table."),
):
    """Run every cell of the grid once per seed (skipping finished ones) and print mean ± std over seeds."""
    from pipeline.sweep.grid import build_spec, split_list
    from pipeline.sweep.presets import check_run, get_preset, listing
    from pipeline.sweep.run import RESULTS, print_table, probe, sweep, sweep_dir

    if presets:
        for line in listing():
            say(line)
        return
    paper = get_preset(preset) if preset is not None else None
    given = {"scores": split_list(scores, "scores"), "methods": split_list(methods, "methods"),
             "quotas": split_list(quotas, "quotas"), "rates": split_list(rates, "rates"),
             "beta": split_list(beta, "beta"), "gamma": split_list(gamma, "gamma"), "rcap_beta": split_list(rcap_beta, "rcap-beta"),
             "recalls": split_list(recalls, "recalls"), "keep": split_list(keep, "keep"),
             "budgets": split_list(budgets, "budgets"), "cdbw": split_list(cdbw, "cdbw"),
             "dynamic": split_list(dynamic, "dynamic")}
    spec = build_spec(given=given, config=config, name=name, epochs=epochs, seeds=split_list(seeds, "seeds"),
                      full=None if full else False, probe=probe, preset=paper,
                      full_budgets=split_list(full_budgets, "full-budgets"))
    if paper is not None:
        warning = check_run(paper, run, spec.epochs)  # before any training: the paper's data set and model
        if warning:
            say(warning)
    df = sweep(run=run, spec=spec, jobs=jobs, threads=threads, device=device, force=force, quiet=quiet, log=say)
    print_table(df, f"sweep {spec.name} on {run}: test split, "
                + (f"mean ± std over {len(spec.seeds)} seeds" if len(spec.seeds) > 1 else "one seed (no spread)"))
    say(f"wrote {sweep_dir(run, spec.name) / RESULTS}")
