"""`prune select`: the command line of this stage (heavy imports stay inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from pipeline.cliutil import RunOpt, SelectSeedOpt, say, stage_app, user_errors
from pipeline.registry import opt_help, unflagged
from pipeline.select.catalog import QUOTAS, SAMPLERS, input_help, option_help, quota_help, sampler_help

app = stage_app("select", "Choose which samples to keep: a score table + a sampler (+ a class quota) → a manifest.")


@app.callback()
@user_errors
def select_cmd(
    method: str = typer.Option("topk", "--method", help=f"Sampler. {sampler_help()}."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Fraction of the candidates to REMOVE, in (0, 1); keeps N − round(rate·N). The candidates are the score table's samples: the training set, a --manifest run's subset, or a run's pool."),
    count: Optional[int] = typer.Option(None, "--count", help="Keep exactly this many candidates instead of giving --rate (e.g. how many pool samples to acquire)."),
    add_to: Optional[Path] = typer.Option(None, "--add-to", help="Write the chosen samples together with this manifest's (active learning: the labelled set plus what is acquired from the pool); none may be in both."),
    run: Path = RunOpt,
    scores: Optional[str] = typer.Option(None, "--scores", help="Score table: a path, or a method name in RUN/scores (default: the run's only table; with several, name one)."),
    out: Path = typer.Option(Path("keep.parquet"), "--out", help="Manifest to write: sorted kept sample ids with their provenance."),
    keep: str = typer.Option("hard", "--keep", help=option_help("keep", defaults=False)),
    quota: str = typer.Option("none", "--quota", help=(
        f"Class quota; the sampler then runs inside each class with its budget. {quota_help()}.")),
    beta: Optional[str] = typer.Option(None, "--beta", help=option_help(
        "beta", "fraction of the hardest samples dropped first; 'auto': choose it by validation accuracy, "
        "training a model with the run's recipe on the selection of each β of --beta-grid (and one on a random "
        "subset, to warn when random pruning does better)")),
    beta_grid: Optional[str] = typer.Option(None, "--beta-grid", help="With --beta auto: the β values to try, "
                                            "comma-separated (default: 0,0.1,0.2,0.3; those the rate allows)."),
    tune_epochs: Optional[int] = typer.Option(None, "--tune-epochs", help="With --beta auto: epochs of each "
                                              "trial training (default: the run's, as `prune train` would)."),
    device: str = typer.Option("auto", "--device", help="With --beta auto: where the trial trainings run: auto "
                               "(a GPU if there is one), cpu, cuda or cuda:N."),
    strata: Optional[int] = typer.Option(None, "--strata", help=option_help("strata")),
    k: Optional[int] = typer.Option(None, "--k", help=option_help("k")),
    gamma: Optional[float] = typer.Option(None, "--gamma", help=option_help("gamma")),
    snapshot: Optional[str] = typer.Option(None, "--snapshot", help=input_help(
        "embeddings", "which recorded embeddings to use, by epoch count (default: the last recorded, 'final').")),
    recalls: Optional[str] = typer.Option(None, "--recalls", help=input_help(
        "recalls", "where the class errors come from: the run's validation recall averaged over every epoch "
        "(mean, the default), after the last epoch (final: DRoP's Algorithm 1 as written) or at each init's "
        "best-validation epoch (best, as the DRoP code); or a `prune train` metrics.json (val.recall; per_class "
        "if absent).")),
    like: Optional[Path] = typer.Option(None, "--like", help=input_help(
        "like", "the manifest whose class shares to copy, e.g. keep.parquet of another method.")),
    opt: Optional[List[str]] = typer.Option(None, "--opt", metavar="KEY=VALUE", help=opt_help(
        "sampler or quota", unflagged([*SAMPLERS.values(), *QUOTAS.values()], ("keep", "beta", "strata", "k", "gamma")))),
    list_methods: bool = typer.Option(False, "--list", metavar="", help="List every sampler and quota (installed "
                                      "plugins included) with what it reads and its options; then exit."),
    seed: int = SelectSeedOpt,
):
    """Write a manifest of kept sample ids (exactly N − round(rate·N), sorted, ties broken by sample id)."""
    if list_methods:
        from pipeline.select.catalog import listing

        for line in listing():
            say(line)
        return
    from pipeline.api.tune import select_words

    meta = select_words(run=run, method=method, rate=rate, scores=scores, out=out, keep=keep, quota=quota, beta=beta,
                        strata=strata, seed=seed, k=k, gamma=gamma, snapshot=snapshot, recalls=recalls, like=like,
                        log=say, count=count, add_to=add_to, beta_grid=beta_grid, tune_epochs=tune_epochs,
                        device=device, options=_opts(opt, method, quota))
    params = ", ".join(f"{k}={v}" for k, v in meta["parameters"].items() if not isinstance(v, dict))
    if "added_to" in meta:
        say(f"{method}{f'({params})' if params else ''}, quota {quota}: chose {meta['n_chosen']} of {meta['n_total']} "
            f"pool samples; with the {meta['added_to']['n']} of {add_to}: {meta['n_kept']}")
    else:
        say(f"{method}{f'({params})' if params else ''}, quota {quota}: kept {meta['n_kept']} of {meta['n_total']} "
            f"(rate {meta['rate']:.4g})")
        for line in class_table(meta):
            say(line)
    say(f"wrote {out}")


def _opts(opt: Optional[List[str]], method: str, quota: str) -> dict[str, Any]:
    """``--opt KEY=VALUE`` texts, each parsed by the sampler's or the quota's declaration of KEY."""
    from pipeline.io import PruneError
    from pipeline.registry import parse_opts
    from pipeline.select.catalog import get_quota, get_sampler

    raw = parse_opts(opt)
    if not raw:
        return {}
    s, q = get_sampler(method), get_quota(quota)
    declared = {o.name: o for o in (*q.options, *s.options)}
    out = {}
    for key, text in raw.items():
        if key not in declared:
            takes = ", ".join(declared) or "no options"
            raise PruneError(f"--opt {key}=…: --method {method} --quota {quota} have no option {key!r} (they take {takes})")
        out[key] = declared[key].parse(text, f"--method {method}" if key in s.defaults else f"--quota {quota}")
    return out


def class_table(meta: dict[str, Any]) -> list[str]:
    """Kept and full counts per class, with what the quota was computed from."""
    kept, total = meta["class_counts_kept"], meta["class_counts_total"]
    detail = meta.get("quota_detail") or {}
    extra_name, extra = "", {}
    if "recalls" in detail:
        extra_name, extra = "val recall", {c: f"{v:.4f}" for c, v in detail["recalls"].items()}
    elif "like" in detail:
        extra_name, extra = "like", {c: str(v) for c, v in detail["like"]["class_counts_kept"].items()}
    width = max([5] + [len(c) for c in total])
    head = f"{'class':<{width}}  {'total':>8}  {'kept':>8}  {'kept %':>6}" + (f"  {extra_name:>10}" if extra_name else "")
    lines = [head]
    for c in total:
        share = 100.0 * kept[c] / total[c] if total[c] else 0.0
        lines.append(f"{c:<{width}}  {total[c]:>8}  {kept[c]:>8}  {share:>6.1f}" + (f"  {extra[c]:>10}" if extra_name else ""))
    n_total, n_kept = meta["n_total"], meta["n_kept"]
    lines.append(f"{'all':<{width}}  {n_total:>8}  {n_kept:>8}  {100.0 * n_kept / n_total:>6.1f}")
    return lines
