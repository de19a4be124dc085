"""`prune train`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.io.errors import PruneError
from pipeline.cliutil import DeviceOpt, PrecisionOpt, QuietOpt, RunOpt, SeedOpt, ThreadsOpt, console, say, stage_app, user_errors
from pipeline.data.registry import data_help
from pipeline.train.dynamic import DYNAMIC, dynamic_help, option_readers
from pipeline.models.registry import model_help


def _readers(option: str) -> str:
    return " or ".join(option_readers(option))


app = stage_app("train", "Train a fresh model on a manifest's samples; report overall and worst-class accuracy.")


@app.callback()
@user_errors
def train_cmd(
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="Manifest of kept sample ids from `prune select` (default: no manifest, the full training set)."),
    run: Path = RunOpt,
    data: Optional[str] = typer.Option(None, "--data", help=f"Data set to train on (default: the run's; a manifest of other data is refused): {data_help()}."),
    image_column: Optional[str] = typer.Option(None, "--image-column", help="With --data hf:PATH: the column holding the inputs (default 'image')."),
    label_column: Optional[str] = typer.Option(None, "--label-column", help="With --data hf:PATH: the column holding the class labels (default 'label')."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Folder of the data set's files (default: the run's)."),
    model: Optional[str] = typer.Option(None, "--model", help=f"Model (default: the run's query model, with its hyper-parameters): {model_help()}."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs (default: as many as the run's full-data training)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Mini-batch size (default: the run's)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default: the run's)."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    precision: Optional[str] = PrecisionOpt,
    name: Optional[str] = typer.Option(None, "--name", help="Name of the result folder RUN/train/<name> (default: the manifest's file name, "
                                       "<method>-<rate> with --dynamic, or 'full'; -<budget> and -cdbw are appended when used)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Result folder (default RUN/train/<name>)."),
    budget: str = typer.Option("epochs", "--budget", help="How long a subset trains: epochs (as many epochs as full data), "
                               "iterations (as many optimiser steps as full data, as CCS) or drop (DRoP's longer "
                               "schedule E' = (0.5 + 0.5 f) E / f for a kept fraction f)."),
    cdbw: bool = typer.Option(False, "--cdbw", metavar="", help="Cost-sensitive training (CDB-W, as DRoP): from the second epoch on, "
                              "weight each class's loss by 1 - its validation recall of the epoch before."),
    dynamic: Optional[str] = typer.Option(None, "--dynamic", help="Dynamic pruning: pick a new subset of the full training "
                                          f"set every epoch with {dynamic_help()}; needs --rate, no --manifest."),
    rate: Optional[float] = typer.Option(None, "--rate", help="With --dynamic: the fraction of samples removed each epoch"
                                         + "".join(f" ({r.name}: of {r.rate_of})" for r in DYNAMIC.values() if r.rate_of)
                                         + "."),
    with_replacement: bool = typer.Option(False, "--with-replacement", metavar="", help=f"With --dynamic {_readers('with_replacement')}: "
                                          "draw each epoch's subset afresh, instead of going through every sample "
                                          "before any repeats."),
    stratify: bool = typer.Option(False, "--stratify", metavar="", help=f"With --dynamic {_readers('stratify')}: sample each class in "
                                  "proportion to its size."),
    beta: Optional[float] = typer.Option(None, "--beta", help=f"With --dynamic {_readers('beta')}: softmax temperature of "
                                         "the losses; smaller favours high-loss samples more (default "
                                         f"{DYNAMIC['rcap'].defaults['beta']}, as the RCAP example)."),
    clip: Optional[float] = typer.Option(None, "--clip", help=f"With --dynamic {_readers('clip')}: losses are clipped to "
                                         "this value before the softmax (default log of the number of classes)."),
    every: Optional[int] = typer.Option(None, "--every", help="With --dynamic SCORE+SAMPLER (e.g. tdds+ccs): "
                                        "recompute the scores and re-select every this many epochs (default 5)."),
    warmup: Optional[int] = typer.Option(None, "--warmup", help="With --dynamic SCORE+SAMPLER: epochs on the full "
                                         "data before the first selection (default: the score's window, at least 1)."),
    history: Optional[int] = typer.Option(None, "--history", help="With --dynamic SCORE+SAMPLER: score only the last "
                                          "this many epochs of the trajectory (default: every epoch so far)."),
    force: bool = typer.Option(False, "--force", metavar="", help="Replace an earlier result in the result folder (the old one "
                               "is deleted only once the new one is complete; a folder that is not a result never is)."),
    resume: bool = typer.Option(False, "--resume", metavar="", help="Continue the interrupted training of this result folder (same --run and --name/--out) after its last finished epoch, with the options it was started with; on a CPU it ends as an uninterrupted training would (--dynamic plans included)."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Train once per seed, e.g. 0,1,2 (replaces --seed): one "
                                        "folder per seed under the result folder, plus summary.json with mean and std."),
    quiet: bool = QuietOpt,
    threads: Optional[int] = ThreadsOpt,
):
    """Train, evaluate on val and test every epoch, write metrics.json and history.parquet."""
    from pipeline.data.hf import with_columns
    from pipeline.train.run import parse_seeds, train

    console(quiet=quiet, threads=threads)
    if data is not None:
        data = with_columns(data, image_column, label_column)
    elif image_column is not None or label_column is not None:
        raise PruneError("--image-column and --label-column go with --data hf:PATH")

    seed_list = parse_seeds(seeds) if seeds is not None else None
    m = train(manifest=manifest, run=run, data=data, data_dir=data_dir, model=model, epochs=epochs, batch_size=batch_size,
              lr=lr, seed=seed, device=device, name=name, out=out, log=say, budget=budget, cdbw=cdbw, dynamic=dynamic,
              rate=rate, beta=beta, clip=clip, with_replacement=with_replacement, stratify=stratify, seeds=seed_list,
              dynamic_options={"every": every, "warmup": warmup, "history": history}, force=force,
              precision=precision, resume=resume)
    if "mean" not in m:  # one seed (a resumed training may have several, as it was started)
        say(f"test accuracy {m['accuracy']:.4f}  balanced {m['balanced_accuracy']:.4f}  worst class {m['worst_class_accuracy']:.4f}  "
            f"({m['n_train']} samples, {m['sample_passes']} sample-passes, {m['epochs']} epochs, {m['seconds']:.1f}s)")
        say(f"wrote {m['out']}/metrics.json")
    else:
        mu, sd = m["mean"], m["std"]
        say(f"{len(m['seeds'])} seeds: test accuracy {mu['accuracy']:.4f} ± {sd['accuracy']:.4f}  "
            f"worst class {mu['worst_class_accuracy']:.4f} ± {sd['worst_class_accuracy']:.4f}")
        say(f"wrote {m['out']}/summary.json")
