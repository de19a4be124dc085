"""`prune train`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.io.errors import PruneError
from pipeline.cliutil import DeviceOpt, Group, PrecisionOpt, QuietOpt, RunOpt, SeedOpt, ThreadsOpt, console, say, stage_app, user_errors
from pipeline.data.registry import data_help
from pipeline.models.registry import model_help
from pipeline.registry import parse_opts
from pipeline.train.dynamic import DYNAMIC

#: The flags that set an option of a dynamic rule (each also reachable as --opt NAME=VALUE).
DYNAMIC_FLAGS = ("with_replacement", "stratify", "beta", "clip", "every", "warmup", "history")


def _flag_help(option: str) -> str:
    """Help of the flag of a dynamic rule's option: the option's help and the rules that read it, from the registry."""
    decl = DYNAMIC.all_options().get(option)
    if decl is None:
        return "With a --dynamic rule that reads it (none registered now)."
    return "With --dynamic " + DYNAMIC.option_help(option, defaults=decl.type is not bool)


def _dynamic_help() -> str:
    return (f"Dynamic pruning: pick a new subset of the full training set every epoch with {DYNAMIC.help()}; "
            "needs --rate, no --manifest.")


def _rate_help() -> str:
    return ("With --dynamic: the fraction of samples removed each epoch"
            + "".join(f" ({r.name}: of {r.rate_of})" for r in DYNAMIC.values() if r.rate_of) + ".")


def _opt_help() -> str:
    rules = [(n, r.options) for n, r in DYNAMIC.items() if r.options] + [(f.pattern, f.options) for f in DYNAMIC.families]
    takes = "; ".join(f"{n}: " + ", ".join(f"{o.name}={o.shown_default()}" for o in opts)
                      + (" and its score's and sampler's own (e.g. window=5)" if "+" in n else "")
                      for n, opts in rules)
    return ("An option of the --dynamic rule as KEY=VALUE, repeatable (e.g. --opt beta=0.5): reaches every option a "
            f"rule declares, a plugin's included, checked as the rule declares it. {takes}.")


class TrainGroup(Group):
    """``prune train``: the help of --dynamic and of its options is written from the registry when it is shown,
    so rules registered after import and installed plugins are in it."""

    def format_help(self, ctx, formatter):
        DYNAMIC.load_plugins(skip_broken=True)
        fresh = {"dynamic": _dynamic_help(), "rate": _rate_help(), "opt": _opt_help(),
                 **{name: _flag_help(name) for name in DYNAMIC_FLAGS}}
        for param in self.get_params(ctx):
            if param.name in fresh:
                param.help = fresh[param.name]
        return super().format_help(ctx, formatter)


def dynamic_values(dynamic: str | None, opt: list[str] | None, flags: dict) -> dict:
    """The values of ``--opt KEY=VALUE``, each parsed by the option the --dynamic rule declares.

    ``flags``: the dedicated flags as given (None or False: not given); an option set both ways is refused.
    """
    raw = parse_opts(opt)
    if not raw:
        return {}
    if dynamic is None:
        raise PruneError("--opt sets an option of the --dynamic rule; give --dynamic NAME")
    twice = [k for k in raw if flags.get(k) not in (None, False)]
    if twice:
        k = twice[0]
        raise PruneError(f"{k} is given twice: as --{k.replace('_', '-')} and as --opt {k}=…")
    return DYNAMIC.parse_opts(dynamic, raw)


app = stage_app("train", "Train a fresh model on a manifest's samples; report overall and worst-class accuracy.",
                cls=TrainGroup)


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
    dynamic: Optional[str] = typer.Option(None, "--dynamic", help=_dynamic_help()),
    rate: Optional[float] = typer.Option(None, "--rate", help=_rate_help()),
    with_replacement: bool = typer.Option(False, "--with-replacement", metavar="", help=_flag_help("with_replacement")),
    stratify: bool = typer.Option(False, "--stratify", metavar="", help=_flag_help("stratify")),
    beta: Optional[float] = typer.Option(None, "--beta", help=_flag_help("beta")),
    clip: Optional[float] = typer.Option(None, "--clip", help=_flag_help("clip")),
    every: Optional[int] = typer.Option(None, "--every", help=_flag_help("every")),
    warmup: Optional[int] = typer.Option(None, "--warmup", help=_flag_help("warmup")),
    history: Optional[int] = typer.Option(None, "--history", help=_flag_help("history")),
    opt: Optional[list[str]] = typer.Option(None, "--opt", metavar="KEY=VALUE", help=_opt_help()),
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
    flags = {"beta": beta, "clip": clip, "with_replacement": with_replacement, "stratify": stratify, "every": every,
             "warmup": warmup, "history": history}
    more = {"every": every, "warmup": warmup, "history": history, **dynamic_values(dynamic, opt, flags)}
    m = train(manifest=manifest, run=run, data=data, data_dir=data_dir, model=model, epochs=epochs, batch_size=batch_size,
              lr=lr, seed=seed, device=device, name=name, out=out, log=say, budget=budget, cdbw=cdbw, dynamic=dynamic,
              rate=rate, beta=beta, clip=clip, with_replacement=with_replacement, stratify=stratify, seeds=seed_list,
              dynamic_options=more, force=force,
              precision=precision, resume=resume)
    if "mean" not in m:  # one seed (a resumed training may have several, as it was started)
        say(f"test accuracy {m['accuracy']:.4f}  balanced {m['balanced_accuracy']:.4f}  worst class {m['worst_class_accuracy']:.4f}  "
            f"({m['n_train']} samples, {m['sample_passes']} sample-passes, {m['epochs']} epochs, {m['seconds']:.1f}s)")
        say(cost_line(m["cost"], m.get("model")))
        say(f"wrote {m['out']}/metrics.json")
    else:
        mu, sd = m["mean"], m["std"]
        say(f"{len(m['seeds'])} seeds: test accuracy {mu['accuracy']:.4f} ± {sd['accuracy']:.4f}  "
            f"worst class {mu['worst_class_accuracy']:.4f} ± {sd['worst_class_accuracy']:.4f}")
        if m.get("cost"):
            say(cost_line(m["cost"]))
        say(f"wrote {m['out']}/summary.json")


def cost_line(c: dict, model: str | None = None) -> str:
    """"cost: 0.50 of a full-data training, + 1.00 for its query run = 1.50 end to end"."""
    head = f"cost: {c['train']:.2f} of a full-data training ({c['train_sample_passes']:,} of {c['full_data_sample_passes']:,} sample passes)"
    if c["query_sample_passes"] is None:
        return head + "; its query is unknown (a manifest without lineage), so the end-to-end cost is too"
    if c["query_sample_passes"] == 0:
        return head + ", no query run"
    line = head + f", + {c['query']:.2f} for the query run that chose the subset = {c['end_to_end']:.2f} end to end"
    if model is not None and c.get("query_model") not in (None, model):
        line += (f" (the query trained {c['query_model']}, a proxy: its passes are counted as if they were {model}'s; "
                 "their seconds are in its log.json)")
    return line
