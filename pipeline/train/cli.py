"""`prune train`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.cliutil import DeviceOpt, RunOpt, SeedOpt, say, stage_app, user_errors

app = stage_app("train", "Train a fresh model on a manifest's samples; report overall and worst-class accuracy.")


@app.callback()
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
              lr=lr, seed=seed, device=device, name=name, out=out, log=say)
    say(f"test accuracy {m['accuracy']:.4f}  balanced {m['balanced_accuracy']:.4f}  worst class {m['worst_class_accuracy']:.4f}  "
         f"({m['n_train']} samples, {m['seconds']:.1f}s)")
    say(f"wrote {m['out']}/metrics.json")
