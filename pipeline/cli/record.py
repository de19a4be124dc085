"""`prune record`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.cliutil import DeviceOpt, RecordPrecisionOpt, QuietOpt, RunOpt, ThreadsOpt, console, say, stage_app, user_errors
from pipeline.data.registry import data_help
from pipeline.models.registry import model_help

app = stage_app("record", "Train the query model on the full data set (or a manifest's subset) and record per-sample training dynamics.")


@app.callback()
@user_errors
def record_cmd(
    run: Path = RunOpt,
    data: str = typer.Option("mnist1d", "--data", help=f"Data set: {data_help()}."),
    image_column: Optional[str] = typer.Option(None, "--image-column", help="With --data hf:PATH: the column holding the inputs (default 'image')."),
    label_column: Optional[str] = typer.Option(None, "--label-column", help="With --data hf:PATH: the column holding the class labels (default 'label')."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Folder holding the data set's files in their standard layout (mnist1d caches its generated arrays here; default ~/.cache/prune)."),
    download: bool = typer.Option(False, "--download", metavar="", help="Fetch a torchvision data set into --data-dir if it is missing (never done otherwise)."),
    model: Optional[str] = typer.Option(None, "--model", help=f"Model: {model_help()}; default: the data set's auto config."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs (default: the data set's auto config)."),
    inits: int = typer.Option(1, "--inits", help="Independent trainings (initialisations) to record; scores average over them."),
    seed: int = typer.Option(0, "--seed", help="Seed of init i is seed + i (weights, data order, augmentation)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Mini-batch size (default: auto config)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate of SGD (default: auto config)."),
    device: str = DeviceOpt,
    precision: Optional[str] = RecordPrecisionOpt,
    eval_pass: bool = typer.Option(False, "--eval-pass", metavar="", help="Also record eval-mode, un-augmented logits of every training sample at the end of each epoch (eval_logits; EL2N prefers them)."),
    checkpoints: str = typer.Option("0,10%,final", "--checkpoints", help="Save model weights after these numbers of epochs: k, P% (= ceil(P/100·epochs)) or final; 0 = the initial weights. The default keeps GraNd's early checkpoint."),
    embeddings: str = typer.Option("", "--embeddings", help="Record penultimate-layer features of every training sample after these epochs (same syntax as --checkpoints, e.g. 0,final); moderate and prototype scores need them."),
    label_noise: float = typer.Option(0.0, "--label-noise", help="Flip the labels of this seeded random fraction of the training set before training (each to a random other class); scores then report their AUROC at finding them."),
    imbalance: float = typer.Option(1.0, "--imbalance", help="Make the training set long-tailed as CIFAR-10-LT (Cao et al. 2019): class c of C keeps int(n_max·R^(−c/(C−1))) of its samples (n_max: the largest class), drawn by --imbalance-seed; val and test stay balanced; 1 (the default) = off."),
    imbalance_seed: Optional[int] = typer.Option(None, "--imbalance-seed", help="With --imbalance: the seed that draws which samples each class keeps (default --seed)."),
    logits: Optional[str] = typer.Option(None, "--logits", help="What trajectories.zarr keeps of the training pass's logits: float16 (default; half the disk of float32), float32, or none: dynamics/ only (per-sample scalars incl. TDDS's kl_step, about 34 bytes per sample-epoch whatever the classes), from which every trajectory score works; margin, confidence --space logit and label-free el2n need the logits."),
    logits_dtype: Optional[str] = typer.Option(None, "--logits-dtype", help="The same as --logits (its older name)."),
    force: bool = typer.Option(False, "--force", metavar="", help="Replace an existing run in --run (the old one is deleted only once the new one is complete)."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="Train the query model on this manifest's samples only (a labelled set, or the set a pruning round kept); the run's rows are those samples, under their ids in the full data set."),
    pool: bool = typer.Option(False, "--pool", metavar="", help="With --manifest: also predict every sample the manifest leaves out (the unlabelled pool), eval mode, after each epoch, so `prune score --pool` can rank it."),
    mc_samples: int = typer.Option(0, "--mc-samples", help="With --pool: this many forward passes over the pool with dropout on after the last epoch (MC dropout, for bald and variation-ratio); needs --dropout."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="Dropout rate before the model's classifier, in [0, 1) (default 0: none); MC-dropout scores need it."),
    resume: bool = typer.Option(False, "--resume", metavar="", help="Continue the interrupted recording of --run (its unfinished .NAME.partial-* folder) after its last finished epoch, with the options it was started with; on a CPU the run is byte-identical to an uninterrupted one."),
    quiet: bool = QuietOpt,
    threads: Optional[int] = ThreadsOpt,
):
    """Train on the full data (or a --manifest's subset) and write RUN/trajectories.zarr, dynamics/, eval.parquet, run.json, checkpoints/."""
    from pipeline.data.hf import with_columns
    from pipeline.io import PruneError
    from pipeline.record.run import record

    console(quiet=quiet, threads=threads)
    data = with_columns(data, image_column, label_column)
    if logits is not None and logits_dtype is not None and logits != logits_dtype:
        raise PruneError(f"--logits {logits} and --logits-dtype {logits_dtype} disagree: give one of them")
    logits_dtype = logits or logits_dtype or "float16"

    path = record(run=run, data=data, data_dir=data_dir, download=download, model=model, epochs=epochs, inits=inits,
                  seed=seed, batch_size=batch_size, lr=lr, device=device, eval_pass=eval_pass, checkpoints=checkpoints,
                  logits_dtype=logits_dtype, force=force, log=say, embeddings=embeddings, label_noise=label_noise,
                  resume=resume, manifest=manifest, pool=pool, mc_samples=mc_samples, dropout=dropout, precision=precision,
                  imbalance=imbalance, imbalance_seed=imbalance_seed)
    say(f"recorded run: {path}")
