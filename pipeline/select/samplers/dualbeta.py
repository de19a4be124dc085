"""``--method dualbeta``: DUAL's pruning-ratio-adaptive Beta sampling (Cho et al., ICML 2025).

As the authors' ``beta_sampling`` (behaapyy/dual-pruning, exp_cifar/data_subset.py): each sample is weighted
by a Beta pdf at its mean label probability μ_i over the scored epochs times its DUAL score, and n_keep
samples are drawn without replacement by those weights. The Beta's shape follows the pruning rate r and
μ_D, the mean μ of the 10 highest-scored samples:

    β = 15 · (1 − μ_D) · (1 − r^c_D),   α = 16 − β,   weight_i = Beta.pdf(μ_i; α, β) · s_i

At low rates the Beta sits around μ_D (the hard, uncertain samples); as r grows it moves towards μ = 1,
so an aggressive pruning keeps easier samples as well.
"""

from __future__ import annotations

import numpy as np

from pipeline.registry import Option
from pipeline.select.base import Pool, Sampler
from pipeline.select.samplers._common import _as_scores, _check_n_keep, _mask_to_positions
from pipeline.select.samplers.topk import select_topk

#: The authors' constants: β = BETA_SCALE · (1 − μ_D) · (1 − r^c_D) and α = BETA_SUM − β.
BETA_SCALE = 15.0
BETA_SUM = 16.0
#: μ_D is the mean μ of this many highest-scored samples (their ``mask[-10:]``).
ANCHOR = 10
#: c_D of their CIFAR scripts (``--c_d 4``, train_subset.py's default).
C_D = 4.0


def beta_shape(rate: float, anchor_mean: float, c_d: float = C_D) -> tuple[float, float]:
    """(α, β) of the Beta for pruning rate ``rate`` (the fraction removed) and μ_D = ``anchor_mean``."""
    b = BETA_SCALE * (1.0 - float(anchor_mean)) * (1.0 - float(rate) ** float(c_d))
    return BETA_SUM - b, b


def _checked(scores, p_mean, n_keep: int) -> tuple[np.ndarray, np.ndarray, int]:
    scores = _as_scores(scores, finite=True).astype(np.float64, copy=False)
    p_mean = np.asarray(p_mean, dtype=np.float64)
    if p_mean.shape != scores.shape:
        raise ValueError(f"p_true_mean has shape {p_mean.shape} for {scores.shape[0]} scores")
    if not (np.all(np.isfinite(p_mean)) and np.all(p_mean >= 0.0) and np.all(p_mean <= 1.0)):
        raise ValueError("p_true_mean must hold probabilities in [0, 1]")
    return scores, p_mean, _check_n_keep(n_keep, scores.shape[0])


def _anchor_mean(scores: np.ndarray, p_mean: np.ndarray, higher_is_harder: bool) -> float:
    top = select_topk(scores, min(ANCHOR, scores.shape[0]), higher_is_harder=higher_is_harder, keep="hard")
    return float(p_mean[top].mean())


def _log_terms(scores: np.ndarray, p_mean: np.ndarray, higher_is_harder: bool, a: float, b: float):
    """log of the Beta pdf at μ, up to its constant, and log of the score's weight (−inf where it is <= 0).

    The pdf is x^(α−1) (1−x)^(β−1) / B(α, β); the constant cancels when the weights are normalised. A term
    whose exponent is 0 is 1, at x = 0 or 1 too.
    """
    h = scores if higher_is_harder else -scores  # DUAL's score as the authors weigh it; other tables by hardness
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pdf = np.zeros_like(p_mean)
        if a != 1.0:
            log_pdf += (a - 1.0) * np.log(p_mean)
        if b != 1.0:
            log_pdf += (b - 1.0) * np.log1p(-p_mean)
        log_h = np.where(h > 0, np.log(np.where(h > 0, h, 1.0)), -np.inf)
    return log_pdf, log_h


def dualbeta_probabilities(scores, p_true_mean, n_keep: int, *, higher_is_harder: bool = True,
                           c_d: float = C_D) -> np.ndarray:
    """The probability of each sample to be drawn first: Beta.pdf(μ_i; α, β) · s_i, normalised (the ``p`` the
    authors pass to ``np.random.choice``), for a pool of n keeping ``n_keep`` (r = (n − n_keep)/n).

    Where some μ_i sits at a pole of the pdf (μ = 1 with β < 1) those samples share all the probability, in
    proportion to their scores; where every weight is 0, every sample is equally likely.
    """
    scores, p_mean, n_keep = _checked(scores, p_true_mean, n_keep)
    n = scores.shape[0]
    if n == 0:
        return np.empty(0)
    a, b = beta_shape((n - n_keep) / n, _anchor_mean(scores, p_mean, higher_is_harder), c_d)
    log_pdf, log_h = _log_terms(scores, p_mean, higher_is_harder, a, b)
    pole = np.isposinf(log_pdf) & np.isfinite(log_h)
    with np.errstate(invalid="ignore"):
        log_w = log_h if pole.any() else log_pdf + log_h
    log_w = np.where(pole | ~pole.any(), log_w, -np.inf)
    if not np.isfinite(log_w).any():
        return np.full(n, 1.0 / n)
    w = np.exp(log_w - log_w[np.isfinite(log_w)].max())
    w[~np.isfinite(log_w)] = 0.0
    return w / w.sum()


def select_dualbeta(scores, p_true_mean, n_keep: int, *, higher_is_harder: bool = True, c_d: float = C_D,
                    rng: np.random.Generator) -> np.ndarray:
    """DUAL's Beta sampling: ``n_keep`` samples drawn without replacement with weights Beta.pdf(μ_i) · s_i.

    Cho et al., "Lightweight Dataset Pruning without Full Training via Example Difficulty and Prediction
    Uncertainty", ICML 2025, as their ``beta_sampling``:

    1. μ_D = the mean of ``p_true_mean`` over the 10 highest scores (ties to the lower position);
    2. r = (n − n_keep)/n, the fraction of the pool removed (the rate, up to the rounding of n_keep);
       β = 15 (1 − μ_D)(1 − r^c_D), α = 16 − β;
    3. weight_i = Beta.pdf(μ_i; α, β) · s_i; draw ``n_keep`` without replacement, each draw in proportion
       to the weights of the samples not yet drawn (``np.random.choice(replace=False, p=…)``).

    The draw is made as the ``n_keep`` first of independent exponential clocks E_i / weight_i (the same
    distribution as successive draws, in O(n log n) and exact however uneven the weights), with E_i from
    ``rng``. The weights are computed in logarithms, so no pdf over- or underflows.

    Where the authors' call would fail this one keeps going: samples at a pole of the pdf (μ_i = 1 with
    β < 1, an infinite density) are drawn first, among themselves by score; samples of weight 0 (a score
    <= 0, or μ_i at a zero of the pdf) only once the others are all kept, uniformly at random. On a table
    whose low end is hard the weight is −score (kept where positive): the sampler is meant for ``dual``.

    Parameters
    ----------
    scores : numpy.ndarray
        Shape ``(n,)``, finite: the DUAL score (higher is harder).
    p_true_mean : numpy.ndarray
        Shape ``(n,)``, in [0, 1]: each sample's mean label probability over the scored epochs.
    n_keep : int
        ``0 <= n_keep <= n``.
    c_d : float
        c_D, the exponent of the rate in β (the authors' CIFAR default 4).
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    numpy.ndarray
        Sorted unique ``int64`` positions, length ``n_keep``.
    """
    scores, p_mean, n_keep = _checked(scores, p_true_mean, n_keep)
    n = scores.shape[0]
    if n_keep == 0:
        return np.empty(0, dtype=np.int64)
    if n_keep == n:
        return np.arange(n, dtype=np.int64)
    a, b = beta_shape((n - n_keep) / n, _anchor_mean(scores, p_mean, higher_is_harder), c_d)
    log_pdf, log_h = _log_terms(scores, p_mean, higher_is_harder, a, b)
    log_e = np.log(rng.standard_exponential(n))
    # tier 0: at a pole of the pdf (drawn first, by score); 1: a positive finite weight; 2: weight 0
    pole = np.isposinf(log_pdf) & np.isfinite(log_h)
    with np.errstate(invalid="ignore"):
        log_w = log_pdf + log_h  # NaN where an infinite pdf meets a weight of 0: weight 0
    tier = np.where(pole, 0, np.where(np.isfinite(log_w), 1, 2))
    rate_log = np.zeros(n)  # log of each clock's rate: the score at a pole, the weight, or 0 (uniform)
    rate_log[tier == 0] = log_h[tier == 0]
    rate_log[tier == 1] = log_w[tier == 1]
    key = log_e - rate_log
    order = np.lexsort((key, tier))  # by tier, then clock; ties to the lower position
    mask = np.zeros(n, dtype=bool)
    mask[order[:n_keep]] = True
    return _mask_to_positions(mask)


def _dualbeta(pool: Pool, n_keep: int, rng, *, c_d: float) -> np.ndarray:
    return select_dualbeta(pool.scores, pool.p_true_mean, n_keep, higher_is_harder=pool.higher_is_harder, c_d=c_d,
                           rng=rng)


SAMPLER = Sampler(
    "dualbeta", _dualbeta,
    "draw without replacement by Beta.pdf(mean p_y) × score, the Beta moving to easier samples as the rate grows",
    "Cho et al., ICML 2025 (DUAL)",
    needs=("scores", "p_true_mean"),
    options=(Option("c_d", C_D, "exponent c_D of the rate in the Beta's β = 15(1 − μ_D)(1 − rate^c_D): larger "
                    "keeps the Beta near the hard samples up to higher rates", low=0.0, low_open=True),),
)
