"""Paper presets: ``prune sweep --preset NAME`` runs one paper's protocol and sets its published numbers beside ours.

A preset is one entry of :data:`PRESETS`: the paper, the query run as
``prune record`` options (:class:`Protocol`), the sweep's grid in the keys of
a sweep TOML file (score tables with their options, samplers, quotas, rates,
seeds, budget, CDB-W), and the test accuracies the paper published
(:class:`Published`), each naming where in the paper it stands and which
cells of the sweep it compares with. A number goes in only when it was read
from the paper or its code release; where none was, the preset says so
(``not_transcribed``) rather than carry a guess.

``prune sweep --preset NAME`` builds the grid from the preset (flags override
it, as they override a ``--config`` file), checks before training anything
that the run was recorded on the paper's data set and model (one line and
exit 2 naming the ``prune record`` command otherwise; other epochs or recipe:
one warning line), and records the preset in sweep.json, where
``prune report`` finds the published numbers for its ``paper %`` column.
Nothing here has been measured on the papers' hardware yet (docs/sweep.md,
"Paper presets").
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from pipeline.io.errors import PruneError


@dataclasses.dataclass(frozen=True)
class Protocol:
    """The query run of a paper, as ``prune record`` names its options (None: prune's auto config)."""

    data: str
    model: str
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    inits: int = 1
    extra: tuple[str, ...] = ()  # further `prune record` flags the preset's methods need (embeddings, checkpoints)

    def resolved(self) -> dict[str, Any]:
        """Every setting, the ones left None filled from prune's auto config for (data, model)."""
        from pipeline.models.recipes import auto_config

        cfg = auto_config(self.data, self.model)
        return {"data": self.data, "model": self.model,
                "epochs": self.epochs if self.epochs is not None else cfg.epochs,
                "batch_size": self.batch_size if self.batch_size is not None else cfg.batch_size,
                "lr": self.lr if self.lr is not None else cfg.lr, "inits": self.inits}

    def command(self, run: str | Path) -> str:
        """The ``prune record`` command that records this run into ``run``."""
        words = ["prune record", f"--run {run}", f"--data {self.data}", f"--model {self.model}"]
        if self.epochs is not None:
            words.append(f"--epochs {self.epochs}")
        if self.batch_size is not None:
            words.append(f"--batch-size {self.batch_size}")
        if self.lr is not None:
            words.append(f"--lr {self.lr:g}")
        if self.inits != 1:
            words.append(f"--inits {self.inits}")
        return " ".join([*words, *self.extra])

    def line(self) -> str:
        """``cifar10 / resnet18, 200 epochs, batch 256, lr 0.1``; settings from the auto config say so."""
        r = self.resolved()
        auto = [k for k in ("epochs", "batch_size", "lr") if getattr(self, k) is None]
        text = (f"{self.data} / {self.model}, {r['epochs']} epochs, batch {r['batch_size']}, lr {r['lr']:g}"
                + (f", {self.inits} inits" if self.inits != 1 else ""))
        return text + (" (epochs, batch and lr: prune's auto config)" if auto else "")


@dataclasses.dataclass(frozen=True)
class Published:
    """One test accuracy a paper published, and the cells of the sweep it compares with."""

    label: str  # the paper's name of the method
    rate: float  # fraction removed
    accuracy: float  # test accuracy in %, as printed in the paper
    where: str  # where in the paper (or its code release) it stands
    methods: tuple[str, ...]  # the samplers of the cells it compares with
    score: str | None = None  # their score table (a sweep score spec); None: a sampler that reads none (random)
    quota: str = "none"
    budget: str | None = None  # None: any
    cdbw: bool | None = None  # None: either

    def record(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "methods": list(self.methods)}

    def text(self) -> str:
        return f"{self.label} at rate {self.rate:g}: {self.accuracy:g}% ({self.where})"


@dataclasses.dataclass(frozen=True)
class Preset:
    """A paper's protocol and published numbers: what ``prune sweep --preset NAME`` runs and reports."""

    name: str
    paper: str  # authors, title, venue
    citation: str  # where to find it (arXiv, code release)
    protocol: Protocol
    rates: tuple[float, ...]
    seeds: tuple[int, ...]
    grids: tuple[Mapping[str, Any], ...]  # [[grid]] tables of a sweep TOML file (scores, methods, quotas, ...)
    budgets: tuple[str, ...] = ("epochs",)  # the trainings' budget (prune train --budget)
    cdbw: tuple[bool, ...] = (False,)
    recalls: tuple[str | None, ...] = (None,)  # where DRoP's quota reads class recalls (None: select's default)
    training: str = ""  # the final trainings' protocol in words
    published: tuple[Published, ...] = ()
    not_transcribed: str = ""  # what of the paper's results is not written here, and why
    notes: str = ""  # where prune departs from the paper's code
    train_epochs: int | None = None  # the final trainings' epochs where they differ from the query run's

    def config(self) -> dict[str, Any]:
        """The preset as a sweep configuration (the keys of ``prune sweep --config``)."""
        doc = {"name": self.name, "rates": list(self.rates), "seeds": list(self.seeds), "budgets": list(self.budgets),
               "cdbw": list(self.cdbw), "recalls": ["default" if r is None else r for r in self.recalls],
               "grid": [dict(g) for g in self.grids]}
        return doc if self.train_epochs is None else {**doc, "epochs": self.train_epochs}

    def scores(self) -> list[str]:
        return [s for g in self.grids for s in g.get("scores", [])]

    def grid_line(self) -> str:
        """The grid in one line: scores, samplers, quotas, rates, budget, seeds."""
        parts = []
        for g in self.grids:
            words = "+".join(g["methods"])
            if g.get("scores"):
                words = f"{','.join(g['scores'])} × {words}"
            if g.get("quotas") and g["quotas"] != ["none"]:
                words += f" × quotas {','.join(g['quotas'])}"
            parts.append(words)
        extra = ""
        if self.recalls != (None,):
            extra += f", recalls {'/'.join(r or 'default' for r in self.recalls)} (chosen by val)"
        if self.cdbw != (False,):
            extra += f", CDB-W {'/'.join('on' if c else 'off' for c in self.cdbw)}"
        return (f"{'; '.join(parts)}; rates {','.join(f'{r:g}' for r in self.rates)}; budget "
                f"{'/'.join(self.budgets)}{extra}; seeds {','.join(map(str, self.seeds))}")

    def record_of(self) -> dict[str, Any]:
        """What sweep.json keeps of the preset, so that ``prune report`` needs no code of this stage."""
        return {"name": self.name, "paper": self.paper, "citation": self.citation,
                "protocol": f"record {self.protocol.line()}; {self.grid_line()}; {self.training}",
                "published": [p.record() for p in self.published], "not_transcribed": self.not_transcribed,
                "notes": self.notes}

    def commands(self, run: str | Path | None = None) -> list[str]:
        """record, sweep and report: the whole protocol on a machine with the data (and a GPU)."""
        run = run or f"runs/{self.name}"
        return [self.protocol.command(run) + " --data-dir DATA_DIR --device cuda",
                f"prune sweep --run {run} --preset {self.name} --device cuda",
                f"prune report --run {run} --sweep {self.name}"]


# -------------------------------------------------------------------------- the presets

CCS_CIFAR10 = Preset(
    name="ccs-cifar10",
    paper='Zheng, Liu, Lai and Prakash, "Coverage-centric Coreset Selection for High Pruning Rates", ICLR 2023',
    citation="arXiv:2210.15809; code: github.com/haizhongzheng/Coverage-centric-coreset-selection",
    # their README: train.py --epochs 200 --lr 0.1 --network resnet18 --batch-size 256 (SGD, nesterov,
    # momentum 0.9, weight decay 5e-4: prune's cifar10 recipe)
    protocol=Protocol(data="cifar10", model="resnet18", epochs=200, batch_size=256, lr=0.1),
    rates=(0.3, 0.5, 0.7, 0.8, 0.9),
    seeds=(0, 1, 2),
    grids=(
        # CCS's main score: AUM accumulated in probability space (their accumulated_margin); β (their
        # --mis-ratio) is CCS's tuned value by rate, prune's default: 0 up to 0.5, 0.1 at 0.7-0.8, 0.3 at 0.9
        {"scores": ["aum:space=prob"], "methods": ["ccs"]},
        {"methods": ["random"]},
    ),
    budgets=("iterations",),  # their coreset runs: --iterations 40000, about the full data's 200 x 196 steps
    training="final models: as many optimiser steps as the full-data training (CCS's --iterations), "
             "final-epoch test accuracy",
    published=(
        Published("CCS (AUM)", 0.9, 85.7, "CIFAR-10 results table, 90% pruning", ("ccs",), score="aum:space=prob",
                  budget="iterations"),
        Published("Random", 0.9, 79.04, "CIFAR-10 results table, 90% pruning", ("random",), budget="iterations"),
    ),
    not_transcribed="the paper's figures at rates 0.3 to 0.8 are not transcribed here; the two at 0.9 have not "
                    "been checked again against the paper's table",
    notes="CCS's train.py runs 40,000 iterations with a per-iteration cosine schedule to 1e-4 and logs the best test "
          "accuracy over training; prune's iterations budget trains whole epochs until the full data's steps "
          "(about 39,200 at batch 256) are used, with its own cosine schedule, and reports the final epoch.",
)

TDDS_CIFAR100 = Preset(
    name="tdds-cifar100",
    paper='Zhang, Du, Li, Xie and Zhou, "Spanning Training Progress: Temporal Dual-Depth Scoring (TDDS) for '
          'Enhanced Dataset Pruning", CVPR 2024',
    citation="arXiv:2311.13613; code: github.com/zhangxin-xd/Dataset-Pruning-TDDS",
    # their README: train.py --dataset cifar100 --arch resnet18 --epochs 200 --learning_rate 0.1 --batch-size 100
    protocol=Protocol(data="cifar100", model="resnet18", epochs=200, batch_size=100, lr=0.1),
    rates=(0.3, 0.5, 0.7, 0.8, 0.9),
    seeds=(0, 1, 2),
    grids=(
        # their README: importance_evaluation.py --trajectory_len 30 --window_size 10 --decay 0.9, i.e. TDDS over
        # the first 30 epochs; their data_subset.py keeps the highest scores (topk); ccs: CCS's strata on TDDS
        {"scores": ["tdds:epochs=30:window=10:decay=0.9"], "methods": ["topk", "ccs"]},
        {"methods": ["random"]},
    ),
    budgets=("epochs",),  # their train_subset.py: --epochs 200 on the subset
    training="final models: 200 epochs on the subset (train_subset.py), final-epoch test accuracy",
    published=(
        Published("TDDS", 0.9, 54.51, "abstract and code README: 10% of CIFAR-100 kept", ("topk", "ccs"),
                  score="tdds:epochs=30:window=10:decay=0.9", budget="epochs"),
        Published("Random", 0.9, 46.68, "abstract: TDDS beats random by 7.83 points at 10% kept (54.51 − 7.83)",
                  ("random",), budget="epochs"),
    ),
    not_transcribed="the paper's figures at rates 0.3 to 0.8 are not transcribed here",
    notes="their data_subset.py keeps the highest TDDS scores and scales each batch's loss by the kept samples' "
          "min-max-normalised scores, which prune does not do; their pruned models train at batch 120 "
          "(prune: the run's 100); the paper column stands beside both tdds + topk (their code's rule) and "
          "tdds + ccs.",
)

DROP_CIFAR10_VGG16 = Preset(
    name="drop-cifar10-vgg16",
    paper='Vysogorets, Ahuja and Kempe, "DRoP: Distributionally Robust Data Pruning", ICLR 2025',
    citation="the DRoP code release's README (seeds/000_…): main.py --auto_config --strategy 1 --model_name VGG16",
    # the README's examples: VGG-16 on CIFAR-10 with --auto_config, --num_inits 5 for the query model
    protocol=Protocol(data="cifar10", model="vgg16", inits=5),
    rates=(0.3,),  # the README's examples prune 30% (--final_frac 0.7)
    seeds=(0, 1, 2),
    grids=(
        # scorers Random, EL2N and Forgetting; quoter DRoP or none
        {"methods": ["random"], "quotas": ["none", "drop"]},
        {"scores": ["el2n", "forgetting"], "methods": ["topk"], "quotas": ["none", "drop"]},
    ),
    budgets=("drop",),  # DRoP's epochs_correction for the final model (docs/training.md)
    cdbw=(False, True),  # --cdbw_final: the final model with CDB-W's cost-sensitive loss
    recalls=("final", "mean"),  # Algorithm 1's last-epoch recalls, and prune's default (docs/selection.md)
    training="final models: DRoP's stretched budget (0.5 + 0.5f)·E/f, with and without CDB-W; where the "
             "quota reads class recalls, final and mean are both tried and chosen by validation accuracy",
    published=(),
    not_transcribed="DRoP's code release README states no accuracy, so no DRoP figure is transcribed "
                    "here; the paper's numbers are to be added from the paper itself",
    notes="the README gives no epochs, batch size or learning rate for --auto_config: the run uses prune's auto "
          "config for cifar10 / vgg16 (200 epochs, batch 128, lr 0.05); the quota follows the paper's Algorithm 1, "
          "not the released code (docs/selection.md).",
)

#: DeepCore's fractions kept, 0.1% to 90%, as pruning rates (fractions removed)
DEEPCORE_RATES = tuple(round(1 - f, 4) for f in (0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))

DEEPCORE_CIFAR10 = Preset(
    name="deepcore-cifar10",
    paper='Guo, Zhao and Bai, "DeepCore: A Comprehensive Library for Coreset Selection in Deep Learning", DEXA 2022',
    citation="arXiv:2204.08499; code: github.com/PatrickZH/DeepCore (deepcore/methods/)",
    # their README: main.py --dataset CIFAR10 --model ResNet18 --selection_epochs 10 (the selection model), then
    # 200 epochs of SGD (lr 0.1, momentum 0.9, weight decay 5e-4, cosine) on the coreset, batch 128
    protocol=Protocol(data="cifar10", model="resnet18", epochs=10, batch_size=128, lr=0.1,
                      extra=("--embeddings final", "--checkpoints final")),
    rates=DEEPCORE_RATES,
    seeds=(0, 1, 2),
    grids=(
        # DeepCore selects class by class by default (balance=True): prune's proportional quota
        {"scores": ["forgetting", "grand", "least-confidence", "entropy", "margin", "deepfool", "cal"],
         "methods": ["topk"], "quotas": ["proportional"]},
        {"methods": ["herding", "kcenter", "contextual", "craig", "gradmatch", "glister", "graphcut", "facility",
                     "logdet"], "quotas": ["proportional"]},
        {"methods": ["random"]},
    ),
    train_epochs=200,
    training="final models: 200 epochs on the coreset (Craig's and GradMatch's subsets weighted, the batch loss "
             "normalised by the weights as DeepCore trains them), final-epoch test accuracy",
    published=(),
    not_transcribed="DeepCore's CIFAR-10 table (its Table 1) could not be read from here: no figure is transcribed; "
                    "add them from the paper",
    notes="the selection model's embeddings, classifier and checkpoint come from the recording (prune record "
          "--embeddings final --checkpoints final); Cal reads the recorded embeddings instead of an ImageNet "
          "model; the departures of each method from DeepCore's code are in docs/selection.md and docs/scores.md.",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (CCS_CIFAR10, TDDS_CIFAR100, DROP_CIFAR10_VGG16, DEEPCORE_CIFAR10)}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name is one line listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise PruneError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)} "
                         "(prune sweep --presets describes them)") from None


def listing() -> list[str]:
    """``prune sweep --presets``: each preset's name and paper, its protocol in one line, its published numbers."""
    lines = []
    for p in PRESETS.values():
        lines.append(f"{p.name}: {p.paper}")
        lines.append(f"  protocol: record {p.protocol.line()}; {p.grid_line()}")
        pub = "; ".join(x.text() for x in p.published)
        lines.append(f"  published: {pub}" if pub else f"  published: none transcribed ({p.not_transcribed})")
    return lines


# -------------------------------------------------------------------------- does the run follow the protocol?

def check_run(preset: Preset, run: str | Path, train_epochs: int | None) -> str | None:
    """Before a preset sweep trains anything: the run must hold the paper's data set and model.

    Another data set or model, a subset run or no run at all is a :class:`PruneError` naming the
    ``prune record`` command that records the right run. Other epochs, batch size, learning rate, inits,
    label noise or training epochs (``train_epochs``, the sweep's --epochs) give the warning line
    returned (None when the run follows the protocol): the numbers will not be comparable to the paper's.
    """
    from pipeline.io import open_run

    run = Path(run)
    p = preset.protocol
    if not (run / "run.json").exists():
        raise PruneError(f"no run in {run} for preset {preset.name}: record it first with `{p.command(run)}` "
                         f"(CIFAR files in --data-dir, or add --download)")
    info = open_run(run).info
    other = f"runs/{preset.name}"
    again = (f"record it with `{p.command(other)}` (CIFAR files in --data-dir, or add --download) and sweep with "
             f"`prune sweep --run {other} --preset {preset.name}`")
    if info.get("data") != p.data or info.get("model") != p.model:
        raise PruneError(f"run {run} holds {info.get('data')} / {info.get('model')}; preset {preset.name} is "
                         f"{p.data} / {p.model}: {again}")
    if info.get("manifest"):
        raise PruneError(f"run {run} was recorded on a subset (--manifest); preset {preset.name} records on the "
                         f"whole training set: {again}")
    want = p.resolved()
    cfg = info.get("config", {})
    got = {"epochs": info.get("epochs"), "batch_size": cfg.get("batch_size"), "lr": cfg.get("lr"),
           "inits": info.get("inits")}
    words = {"epochs": "epochs", "batch_size": "batch size", "lr": "lr", "inits": "inits"}
    diffs = [f"{words[k]} {got[k]:g} (paper {want[k]:g})" for k in words
             if got[k] is not None and float(got[k]) != float(want[k])]
    if info.get("label_noise"):
        diffs.append(f"label noise {info['label_noise']:g} (paper 0)")
    if info.get("imbalance", 1) != 1:
        diffs.append(f"a long-tailed training set, imbalance {info['imbalance']:g} (paper balanced)")
    paper_train = preset.train_epochs if preset.train_epochs is not None else want["epochs"]
    if train_epochs is not None and train_epochs != paper_train:
        diffs.append(f"training epochs {train_epochs} (paper {paper_train})")
    if not diffs:
        return None
    return (f"warning: run {run} differs from preset {preset.name}'s protocol in {', '.join(diffs)}: the numbers "
            "will not be comparable to the paper's")
