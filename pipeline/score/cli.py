"""`prune score`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.cliutil import RunOpt, ThreadsOpt, console, say, stage_app, user_errors
from pipeline.io.errors import PruneError
from pipeline.score.registry import METHODS

app = stage_app("score", "Turn a recorded run into a per-sample score table (RUN/scores/<method>.parquet).")


@app.callback()
@user_errors
def score_cmd(
    method: Optional[str] = typer.Option(None, "--method", help=f"Score to compute (see --list): {', '.join(METHODS)}; or package.module:function for your own."),
    all_methods: bool = typer.Option(False, "--all", metavar="", help="Compute every score this run's recordings allow (one table each, in RUN/scores/), sharing one read of the logits."),
    list_methods: bool = typer.Option(False, "--list", metavar="", help="List every method: its formula, paper, hard end and what it needs recorded; then exit."),
    run: Path = RunOpt,
    pool: bool = typer.Option(False, "--pool", metavar="", help="Score the run's pool (the samples a `prune record --manifest M --pool` run did not train on) instead of its training rows; label-free methods only. Default table: RUN/scores/pool-<method>.parquet."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the table (default RUN/scores/<method>.parquet; not with --all)."),
    window: Optional[int] = typer.Option(None, "--window", help="tdds, dynunc: epochs per sliding window J (default 10)."),
    decay: Optional[float] = typer.Option(None, "--decay", help="tdds: decay β of the window weights β(1−β)^(T−J−k) (default 0.9)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="tdds, dynunc, variability, correctness: use the first T recorded epochs (default all)."),
    epoch: Optional[int] = typer.Option(None, "--epoch", help="el2n, entropy, margin, confidence, loss: recorded epoch, 0-based, negative from the end (el2n default 10% into training, the others the last); grand: the checkpoint after this many epochs (default the one nearest 10% of training)."),
    never_learned: Optional[str] = typer.Option(None, "--never-learned", help="forgetting: score of never-correct samples, 'epochs' (E, Toneva et al.) or 'zero' (CCS/DeepCore)."),
    space: Optional[str] = typer.Option(None, "--space", help="aum: 'logit' (mean logit margin, Pleiss et al.) or 'prob' (summed probability margin, CCS); confidence: 'prob' (max softmax) or 'logit' (max logit, DeepCore's code)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="random: seed of the uniform scores; prototype: seed of k-means (default 0)."),
    last_layer: bool = typer.Option(False, "--last-layer", metavar="", help="grand: gradient of the final linear layer only, exact and cheap (DeepCore's variant)."),
    device: Optional[str] = typer.Option(None, "--device", help="grand: where to compute the per-sample gradients: auto, cpu, cuda or cuda:N (default auto)."),
    snapshot: Optional[int] = typer.Option(None, "--snapshot", help="moderate, prototype: which recorded embeddings, by epochs completed (default the last recorded)."),
    clusters: Optional[int] = typer.Option(None, "--clusters", help="prototype: number of k-means clusters (default the number of classes)."),
    distance: Optional[str] = typer.Option(None, "--distance", help="prototype: 'cosine' (Sorscher et al.) or 'euclidean' distance to the nearest centroid (default cosine)."),
    label: Optional[str] = typer.Option(None, "--label", help="el2n, grand: which label to score against: 'true' (the recorded one; the default on training rows), 'max' (the predicted class; the default on the pool, whose labels are unknown) or 'avg' (the mean over every class), as the DRoP code."),
    picks: Optional[int] = typer.Option(None, "--picks", help="kcenter: greedy k-center picks ranked first (default 10% of the pool); set it to the number you will acquire."),
    threads: Optional[int] = ThreadsOpt,
):
    """Score every training sample of a run; the table records method, parameters and which end is hard."""
    console(threads=threads)
    if list_methods:
        _print_catalog()
        return
    if (method is None) == (not all_methods):
        raise PruneError("give --method NAME or --all (see `prune score --list` for the methods)")
    params = {"window": window, "decay": decay, "epochs": epochs, "epoch": epoch, "never_learned": never_learned,
              "space": space, "seed": seed, "last_layer": True if last_layer else None, "device": device,
              "snapshot": snapshot, "clusters": clusters, "distance": distance, "label": label, "picks": picks}
    if all_methods:
        if pool:
            raise PruneError("--pool scores one method's view of the pool: give --method NAME instead of --all")
        _score_all(run, out, params)
        return

    import numpy as np

    from pipeline.score.run import score_method

    res = score_method(run=run, method=method, params=params, out=out, pool=pool)
    shown = ", ".join(f"{k}={v}" for k, v in res.params.items())
    q = np.quantile(res.values, [0.0, 0.5, 1.0])
    say(f"{method}({shown}): {len(res.values)} scores, min {q[0]:.4g}  median {q[1]:.4g}  max {q[2]:.4g}")
    if res.auroc is not None:
        say(f"label noise: AUROC {res.auroc:.4f} at finding the {res.flipped} flipped labels from the score's hard end")
    say(f"wrote {res.path}")


def _score_all(run: Path, out: Optional[Path], params: dict) -> None:
    from pipeline.score.run import score_all

    if out is not None:
        raise PruneError("--out names one table; with --all every table goes to RUN/scores/<method>.parquet")
    results, skipped = score_all(run=run, params=params, log=say)
    for name, why in skipped.items():
        say(f"skipped {name}: {why}")
    if not results:
        raise PruneError(f"no score could be computed from run {run}")
    say(f"wrote {len(results)} tables to {results[0].path.parent}")


def _print_catalog() -> None:
    from pipeline.score.registry import METHODS

    for m in METHODS.values():
        opts = ", ".join(f"--{k.replace('_', '-')}" + ("" if isinstance(v, bool) else f" {'auto' if v is None else v}")
                         for k, v in m.defaults.items()) or "none"
        say(f"{m.name}")
        say(f"  formula  {m.formula}")
        say(f"  paper    {m.paper}")
        say(f"  hard end {m.hard}")
        say(f"  needs    {'; '.join(m.needs) or 'nothing beyond a recorded run'}")
        say(f"  options  {opts}")
