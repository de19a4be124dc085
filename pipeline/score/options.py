"""The options score methods take, declared once (type, range, help): an option of the same name means the same
thing in every method that reads it, so ``--window`` is one flag with one check whichever method is scored.

A method names its options with their defaults (``defaults={"window": 10}``); :class:`~pipeline.score.base.ScoreMethod`
turns those into these declarations with the method's default. A name not here (a plugin's own) is inferred from
its default's type, or declared by the plugin as a :class:`pipeline.registry.Option`.
"""

from __future__ import annotations

from pipeline.registry import Option

SHARED: dict[str, Option] = {o.name: o for o in (
    Option("window", 10, "epochs per sliding window J", type=int, low=1),
    Option("decay", 0.9, "decay β of the window weights β(1−β)^(T−J−k)", low=0.0, high=1.0, low_open=True,
           high_open=True),
    Option("epochs", None, "use the first T recorded epochs (default all)", type=int, low=1, none_ok=True),
    Option("epoch", None, "recorded epoch, 0-based, negative from the end; grand, deepfool: the checkpoint after "
           "this many epochs", type=int, none_ok=True),
    Option("never_learned", "epochs", "score of never-correct samples, 'epochs' (E, Toneva et al.) or 'zero' "
           "(CCS/DeepCore)", type=str, choices=("epochs", "zero")),
    Option("space", "logit", "'logit' or 'prob': the margin (aum) or the maximum (confidence) on logits or "
           "probabilities", type=str, choices=("logit", "prob")),
    Option("seed", 0, "seed of the method's own randomness", type=int),
    Option("last_layer", False, "gradient of the final linear layer only, exact and cheap (DeepCore's variant)",
           type=bool),
    Option("device", "auto", "where to compute the per-sample gradients: auto, cpu, cuda or cuda:N", type=str),
    Option("snapshot", None, "which recorded embeddings, by epochs completed (default the last recorded)", type=int,
           low=0, none_ok=True),
    Option("clusters", None, "number of k-means clusters (default the number of classes)", type=int, low=1,
           none_ok=True),
    Option("distance", "cosine", "'cosine' (Sorscher et al.) or 'euclidean' distance to the nearest centroid",
           type=str, choices=("cosine", "euclidean")),
    Option("label", None, "which label to score against: 'true', 'max' (the predicted class) or 'avg' (the mean "
           "over every class), as the DRoP code", type=str, choices=("true", "max", "avg"), none_ok=True),
    Option("picks", None, "greedy k-center picks ranked first (default 10% of the pool)", type=int, low=0,
           none_ok=True),
    Option("max_iter", 50, "most DeepFool steps per sample (a sample stops when its predicted class changes)",
           type=int, low=1),
    Option("neighbors", 10, "k nearest neighbours each sample is contrasted with", type=int, low=1),
    Option("balance", True, "look for neighbours within the sample's own class only (DeepCore's default)", type=bool),
    Option("features", None, "a .npy file of one feature row per sample (n, d) to find the neighbours in, instead of "
           "the recorded embeddings", type=str, none_ok=True),
)}
