"""The ``prune`` command line: one Typer sub-app per pipeline stage.

Heavy libraries (torch, torchvision, zarr) are imported inside the commands
that need them, so ``prune --help`` and ``prune select`` start instantly.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer

from pipeline.io.errors import PruneError

DEFAULT_RUN = Path("runs/default")

app = typer.Typer(
    name="prune",
    help="Data pruning from recorded training dynamics.\n\n"
    "record → score → select → train: record a query model's per-sample dynamics once, "
    "then score, select and train on subsets as often as you like.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _stage(name: str, help: str) -> typer.Typer:
    sub = typer.Typer(name=name, help=help, invoke_without_command=True, add_completion=False,
                      pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})
    app.add_typer(sub)
    return sub


def _say(msg: str) -> None:
    typer.echo(msg)


def user_errors(fn):
    """Bad input ends in one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PruneError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; nothing was left half-written", err=True)
            raise typer.Exit(130) from None

    return wrapper


RunOpt = typer.Option(DEFAULT_RUN, "--run", help="Run folder: where `prune record` writes and the later stages read.")
SeedOpt = typer.Option(0, "--seed", help="Seed of all randomness in this stage (order, init, sampling).")
DeviceOpt = typer.Option("auto", "--device", help="Where to train: auto (a GPU if there is one), cpu, cuda or cuda:N.")

# --------------------------------------------------------------------------- record
record_app = _stage("record", "Train the query model on the full data set and record per-sample training dynamics.")


@record_app.callback()
@user_errors
def record_cmd(
    run: Path = RunOpt,
    data: str = typer.Option("mnist1d", "--data", help="Data set: mnist1d (embedded, no download), digits, cifar10, cifar100, mnist, fashionmnist, imagefolder."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Folder holding the data set's files in their standard layout (mnist1d caches its generated arrays here; default ~/.cache/prune)."),
    download: bool = typer.Option(False, "--download", help="Fetch a torchvision data set into --data-dir if it is missing (never done otherwise)."),
    model: Optional[str] = typer.Option(None, "--model", help="mlp, cnn1d, lenet5, resnet18, vgg16 or tv:<torchvision model>; default: the data set's auto config."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs (default: the data set's auto config)."),
    inits: int = typer.Option(1, "--inits", help="Independent trainings (initialisations) to record; scores average over them."),
    seed: int = typer.Option(0, "--seed", help="Seed of init i is seed + i (weights, data order, augmentation)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Mini-batch size (default: auto config)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate of SGD (default: auto config)."),
    device: str = DeviceOpt,
    eval_pass: bool = typer.Option(False, "--eval-pass", help="Also record eval-mode, un-augmented logits of every training sample at the end of each epoch (eval_logits; EL2N prefers them)."),
    checkpoints: str = typer.Option("final", "--checkpoints", help="Save model weights after these numbers of epochs, e.g. 0,3,final (0 = the initial weights)."),
    logits_dtype: str = typer.Option("float16", "--logits-dtype", help="Stored precision of recorded logits: float16 (half the disk) or float32."),
    force: bool = typer.Option(False, "--force", help="Replace an existing run in --run (the old one is deleted only once the new one is complete)."),
):
    """Train on the full data and write RUN/trajectories.zarr, dynamics/, eval.parquet, run.json, checkpoints/."""
    from pipeline.record.run import record

    path = record(run=run, data=data, data_dir=data_dir, download=download, model=model, epochs=epochs, inits=inits,
                  seed=seed, batch_size=batch_size, lr=lr, device=device, eval_pass=eval_pass, checkpoints=checkpoints,
                  logits_dtype=logits_dtype, force=force, log=_say)
    _say(f"recorded run: {path}")


# --------------------------------------------------------------------------- score
score_app = _stage("score", "Turn a recorded run into a per-sample score table (RUN/scores/<method>.parquet).")


@score_app.callback()
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
    _say(f"{method}({shown}): {len(values)} scores, min {q[0]:.4g}  median {q[1]:.4g}  max {q[2]:.4g}")
    _say(f"wrote {path}")


# --------------------------------------------------------------------------- select
select_app = _stage("select", "Choose which samples to keep: a score table + a sampler (+ a class quota) → a manifest.")


@select_app.callback()
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
                  strata=strata, seed=seed, log=_say)
    params = ", ".join(f"{k}={v}" for k, v in meta["parameters"].items())
    _say(f"{method}{f'({params})' if params else ''}, quota {quota}: kept {meta['n_kept']} of {meta['n_total']} (rate {rate})")
    kept, total = meta["class_counts_kept"], meta["class_counts_total"]
    _say("per class kept/total: " + "  ".join(f"{c}:{kept[c]}/{total[c]}" for c in total))
    _say(f"wrote {out}")


# --------------------------------------------------------------------------- train
train_app = _stage("train", "Train a fresh model on a manifest's samples; report overall and worst-class accuracy.")


@train_app.callback()
@user_errors
def train_cmd(
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="Manifest of kept sample ids from `prune select` (default: no manifest, the full training set)."),
    run: Path = RunOpt,
    data: Optional[str] = typer.Option(None, "--data", help="Data set to train on (default: the run's); a manifest of other data is refused."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Folder of the data set's files (default: the run's)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model (default: the run's query model, with its hyper-parameters)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs (default: as many as the run's full-data training)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Mini-batch size (default: the run's)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default: the run's)."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    name: Optional[str] = typer.Option(None, "--name", help="Name of the result folder RUN/train/<name> (default: the manifest's file name, or 'full')."),
    out: Optional[Path] = typer.Option(None, "--out", help="Result folder (default RUN/train/<name>)."),
):
    """Train, evaluate on val and test every epoch, write metrics.json and history.parquet."""
    from pipeline.train.run import train

    m = train(manifest=manifest, run=run, data=data, data_dir=data_dir, model=model, epochs=epochs, batch_size=batch_size,
              lr=lr, seed=seed, device=device, name=name, out=out, log=_say)
    _say(f"test accuracy {m['accuracy']:.4f}  balanced {m['balanced_accuracy']:.4f}  worst class {m['worst_class_accuracy']:.4f}  "
         f"({m['n_train']} samples, {m['seconds']:.1f}s)")
    _say(f"wrote {m['out']}/metrics.json")


# --------------------------------------------------------------------------- demo
@app.command("demo")
@user_errors
def demo_cmd(
    run: Path = typer.Option(Path("runs/demo"), "--run", help="Run folder of the demo (replaced if it exists)."),
    rates: str = typer.Option("0.3,0.7", "--rates", help="Pruning rates to compare, comma-separated."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs of every training (default: the MNIST-1D auto config)."),
    seed: int = SeedOpt,
    device: str = DeviceOpt,
):
    """Record MNIST-1D, score TDDS, select with CCS, train; compare with full data and random pruning."""
    from pipeline.demo import demo

    demo(run=run, rates=rates, epochs=epochs, seed=seed, device=device, log=_say)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
