"""`prune score`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from pipeline.cliutil import RunOpt, ThreadsOpt, console, say, stage_app, user_errors
from pipeline.io.errors import PruneError
from pipeline.registry import opt_help, unflagged
from pipeline.score.registry import METHODS, flag_help as _h

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
    prefix: Optional[int] = typer.Option(None, "--prefix", min=1, metavar="<int>", help="Score from the run's first K epochs only, as if its recording had stopped there: an early, cheaper query whose cost counts K epochs (docs/cost.md). Default table: RUN/scores/<method>-first<K>.parquet."),
    window: Optional[int] = typer.Option(None, "--window", help=_h("window")),
    decay: Optional[float] = typer.Option(None, "--decay", help=_h("decay")),
    epochs: Optional[int] = typer.Option(None, "--epochs", help=_h("epochs")),
    epoch: Optional[int] = typer.Option(None, "--epoch", help=_h("epoch", " (el2n default 10% into training, the others the last; grand: the checkpoint nearest 10% of training; deepfool: the last checkpoint)")),
    never_learned: Optional[str] = typer.Option(None, "--never-learned", help=_h("never_learned")),
    space: Optional[str] = typer.Option(None, "--space", help=_h("space")),
    seed: Optional[int] = typer.Option(None, "--seed", help=_h("seed")),
    last_layer: bool = typer.Option(False, "--last-layer", metavar="", help=_h("last_layer")),
    device: Optional[str] = typer.Option(None, "--device", help=_h("device")),
    snapshot: Optional[int] = typer.Option(None, "--snapshot", help=_h("snapshot")),
    clusters: Optional[int] = typer.Option(None, "--clusters", help=_h("clusters")),
    distance: Optional[str] = typer.Option(None, "--distance", help=_h("distance")),
    label: Optional[str] = typer.Option(None, "--label", help=_h("label", "; default 'true' on training rows, 'max' on the pool, whose labels are unknown")),
    picks: Optional[int] = typer.Option(None, "--picks", help=_h("picks", "; set it to the number you will acquire")),
    opt: Optional[List[str]] = typer.Option(None, "--opt", metavar="KEY=VALUE", help=opt_help("score method", unflagged(METHODS.values(), (
        "window", "decay", "epochs", "epoch", "never_learned", "space", "seed", "last_layer", "device", "snapshot",
        "clusters", "distance", "label", "picks")))),
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
    params = _with_opts(params, opt, method if not all_methods else None)
    if all_methods:
        if pool:
            raise PruneError("--pool scores one method's view of the pool: give --method NAME instead of --all")
        if prefix is not None:
            raise PruneError("--prefix scores one method from an early part of the run: give --method NAME")
        _score_all(run, out, params)
        return

    import numpy as np

    from pipeline.score.run import score_method

    res = score_method(run=run, method=method, params=params, out=out, pool=pool, prefix=prefix)
    shown = ", ".join(f"{k}={v}" for k, v in res.params.items())
    q = np.quantile(res.values, [0.0, 0.5, 1.0])
    say(f"{method}({shown}): {len(res.values)} scores, min {q[0]:.4g}  median {q[1]:.4g}  max {q[2]:.4g}")
    if res.auroc is not None:
        say(f"label noise: AUROC {res.auroc:.4f} at finding the {res.flipped} flipped labels from the score's hard end")
    say(f"wrote {res.path}")


def _with_opts(params: dict, opt: Optional[List[str]], method: Optional[str]) -> dict:
    """The flags' values with ``--opt KEY=VALUE`` ones added (an option given both ways is refused)."""
    from pipeline.registry import parse_opts
    from pipeline.score.registry import get_method, parse_opts as parse_for

    raw = parse_opts(opt)
    if not raw:
        return params
    given = parse_for(get_method(method) if method is not None else None, raw)
    twice = [k for k in given if params.get(k) is not None]
    if twice:
        raise PruneError(f"--{twice[0].replace('_', '-')} is given twice (as a flag and as --opt)")
    return {**params, **given}


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

    METHODS.load_plugins()
    for m in METHODS.values():
        opts = ", ".join(f"--{k.replace('_', '-')}" + ("" if isinstance(v, bool) else f" {'auto' if v is None else v}")
                         for k, v in m.defaults.items()) or "none"
        say(f"{m.name}")
        say(f"  formula  {m.formula}")
        say(f"  paper    {m.paper}")
        say(f"  hard end {m.hard}")
        say(f"  needs    {'; '.join(m.needs) or 'nothing beyond a recorded run'}")
        say(f"  options  {opts}")
